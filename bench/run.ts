// npm run bench [-- N ...]: vmail's whole program (index.ts, its Pulumi.yaml, the plugins) under
// the real engine at N mailboxes, converging a throwaway PostgreSQL cluster and a private Postfix
// and Dovecot; then, at N = 1,000, the same rows converged by an Ansible peer and by one psql
// transaction (the floor), in the same run. Prints one `name value unit` line per figure, then
// the ratios and the growth, and writes bench/results.json.

import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { closePools } from "../providers/db";
import {
  createTestStack,
  ensureEngine,
  PROJECT_FILES,
  type TestStack,
} from "../tests/support/engine";
import { makeDovecotInstance } from "../tests/support/dovecotInstance";
import { createMailDatabase } from "../tests/support/mailDatabaseFixture";
import { startPgCluster, superuserQuery, type PgCluster } from "../tests/support/pgCluster";
import { missingPlugins } from "../tests/support/plugins";
import { createPostfixInstance } from "../tests/support/postfixInstance";
import { testDatabaseSettings, useLocalContext } from "../tests/support/providers";
import { privateServerConfig, REPO } from "../tests/support/stackFiles";
import { asStackConfig, generateAccounts, type Accounts } from "./accounts";
import { PeakMemory } from "./processes";
import { floorSql, psycopgUpsert, rowsOf } from "./rows";

const GID = 1002;
const OWNER = "vmailbench";
const SIZES = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const NS = SIZES.length > 0 ? SIZES : [1000, 5000, 20000];
/** The peers run at this size only: their ratio to vmail is the same story at every N. */
const PEER_N = 1000;
// VMAIL_BENCH_PEERS=0 measures vmail alone (quicker, for work on vmail itself).
const WITH_PEERS = process.env.VMAIL_BENCH_PEERS !== "0";
/** Where to keep the CLI's Go profiles of one more no-op preview at each N (unset: none). */
const PROFILE_DIR = process.env.VMAIL_BENCH_PROFILE;

interface Figure {
  name: string;
  value: number;
  unit: string;
}
const figures: Figure[] = [];

function record(name: string, value: number, unit: string): void {
  const rounded = Math.round(value * 1000) / 1000;
  figures.push({ name, value: rounded, unit });
  console.log(`${name} ${rounded} ${unit}`);
}

async function seconds<T>(work: () => Promise<T> | T): Promise<[number, T]> {
  const start = process.hrtime.bigint();
  const result = await work();
  return [Number(process.hrtime.bigint() - start) / 1e9, result];
}

function ensureAnsible(): void {
  const have = spawnSync(
    "dpkg-query",
    ["-W", "-f=${db:Status-Abbrev}", "ansible", "python3-psycopg2"],
    {
      encoding: "utf8",
    },
  );
  if (have.stdout.replace(/\s+/g, "") === "iiii") return;
  execFileSync("apt-get", ["update", "-q"], { stdio: "inherit" });
  execFileSync("apt-get", ["install", "-y", "-q", "ansible", "python3-psycopg2"], {
    stdio: "inherit",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}

async function emptyTables(cluster: PgCluster): Promise<void> {
  await superuserQuery(cluster, "TRUNCATE users, transports, aliases", [], "mail");
}

/** The stack's state file in the file backend (compressed, where the backend compresses). */
function stateFile(t: TestStack, stack: string): string {
  const root = t.env.PULUMI_BACKEND_URL.replace(/^file:\/\//, "");
  const dir = join(root, ".pulumi", "stacks", "vmail");
  // The newest of stack.json, .json.gz and .json.zst: a backend that starts compressing leaves
  // the plain file of an earlier run behind.
  const files = readdirSync(dir)
    .filter((f) => /^[^.]+\.json(\.gz|\.zst)?$/.test(f) && f.startsWith(`${stack}.`))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (files.length === 0) throw new Error(`no state file for ${stack} in ${dir}`);
  return files[0];
}

/** Bytes of the state as JSON, uncompressed (`pulumi stack export`; secrets stay encrypted). */
function exportedBytes(t: TestStack, stack: string): number {
  return execFileSync("pulumi", ["stack", "export", "--stack", stack], {
    cwd: t.workDir,
    env: { ...process.env, ...t.env },
    maxBuffer: 2 ** 31 - 1,
  }).length;
}

/** Runs one engine operation, failing the benchmark on anything but success. */
async function succeeded<R extends { summary: { result?: string } }>(
  what: string,
  work: () => Promise<R>,
): Promise<[number, R]> {
  const [s, r] = await seconds(work);
  if (r.summary.result !== "succeeded") throw new Error(`${what} did not succeed`);
  return [s, r];
}

/**
 * Runs `work` with the CLI's log off, as the README tells an operator to: a PULUMI_HOME of its
 * own whose `logs` is a plain file (the CLI then makes no log), with the plugin cache shared.
 */
async function withoutCliLog<T>(t: TestStack, work: () => Promise<T>): Promise<T> {
  const env = t.stack.workspace.envVars;
  const home = env.PULUMI_HOME;
  const quietHome = mkdtempSync(join(tmpdir(), "vmail-bench-home-"));
  symlinkSync(join(home, "plugins"), join(quietHome, "plugins"));
  writeFileSync(join(quietHome, "logs"), "");
  env.PULUMI_HOME = quietHome;
  try {
    return await work();
  } finally {
    env.PULUMI_HOME = home;
    rmSync(quietHome, { recursive: true, force: true });
  }
}

/**
 * One more no-op preview, outside the figures, with the CLI's own profiling on: its CPU profile
 * (`PREFIX.PID.cpu`, read with `go tool pprof -top`), heap profile and trace.
 */
function profileEnginePreview(t: TestStack, stack: string, prefix: string): void {
  mkdirSync(dirname(prefix), { recursive: true });
  execFileSync(
    "pulumi",
    ["preview", "--stack", stack, "--profiling", prefix, "--expect-no-changes"],
    {
      cwd: t.workDir,
      env: { ...process.env, ...t.stack.workspace.envVars },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
}

/**
 * The whole program at N mailboxes. The first `up` sets the server up (the mail owner, roles,
 * database, grants, tables, files) with the domains and no mailbox: it needs the engine's
 * checkpoints (vmail refuses to create roles or the database without them). Every later step runs
 * with PULUMI_SKIP_CHECKPOINTS=true, as the README advises for large stacks: `up_empty` adds the N
 * mailboxes and their aliases to that stack.
 */
async function benchVmail(n: number, accounts: Accounts): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `vmail-bench-n${n}-`));
  chmodSync(dir, 0o755); // Postfix's daemons and the mail owner reach the maps and maildirs
  const cluster = await startPgCluster();
  const postfix = await createPostfixInstance();
  const dovecot = await makeDovecotInstance();
  let t: TestStack | undefined;
  try {
    await postfix.start();
    await dovecot.start();
    const stack = `bench-n${n}`;
    t = await createTestStack(
      stack,
      {
        projectDir: REPO,
        files: PROJECT_FILES,
        stackFile: {
          ...privateServerConfig({ cluster, postfix, dovecot, owner: OWNER, dir }),
          "vmail:accountsFile": "accounts.json",
        },
      },
      { "vmail:pgAdminPassword": { value: cluster.superPassword, secret: true } },
    );
    const stackRef = t;
    const config = asStackConfig(accounts);
    const writeAccounts = (users: object[], aliases: object[]) =>
      writeFileSync(
        join(stackRef.workDir, "accounts.json"),
        JSON.stringify({ domains: config.domains, users, aliases }),
      );
    writeAccounts([], []);
    const [base] = await succeeded("the first up", () => stackRef.stack.up());
    record(`up_base_n${n}`, base, "s");

    // The README's advice for large stacks: no checkpoints once the stack exists, and the file
    // backend's state compressed (zstd).
    stackRef.stack.workspace.envVars.PULUMI_SKIP_CHECKPOINTS = "true";
    stackRef.stack.workspace.envVars.PULUMI_DIY_BACKEND_ZSTD = "true";
    writeAccounts(config.users, config.aliases);
    const memory = new PeakMemory();
    memory.start();
    const [upEmpty] = await succeeded("up", () => stackRef.stack.up());
    const peaks = memory.stop();
    record(`up_empty_n${n}`, upEmpty, "s");
    record(`state_bytes_n${n}`, statSync(stateFile(stackRef, stack)).size, "B");
    record(`state_json_bytes_n${n}`, exportedBytes(stackRef, stack), "B");

    const previewCpu = new PeakMemory();
    previewCpu.start();
    const [preview] = await seconds(() => stackRef.stack.preview({ expectNoChanges: true }));
    const previewPeaks = previewCpu.stop();
    record(`noop_preview_n${n}`, preview, "s");
    for (const [role, cpu] of Object.entries(previewCpu.cpuByRole())) {
      record(`noop_preview_cpu_${role}_n${n}`, cpu, "s");
    }
    // The same preview as an operator who turned the CLI's log off (the README's large stacks).
    const quietCpu = new PeakMemory();
    quietCpu.start();
    const [quiet] = await withoutCliLog(stackRef, () =>
      seconds(() => stackRef.stack.preview({ expectNoChanges: true })),
    );
    quietCpu.stop();
    record(`noop_preview_nolog_n${n}`, quiet, "s");
    record(`noop_preview_nolog_cpu_engine_n${n}`, quietCpu.cpuByRole().engine, "s");
    if (PROFILE_DIR) profileEnginePreview(stackRef, stack, join(PROFILE_DIR, `engine-n${n}`));
    const [noopUp] = await succeeded("no-op up", () =>
      stackRef.stack.up({ expectNoChanges: true }),
    );
    record(`noop_up_n${n}`, noopUp, "s");

    writeAccounts(
      [...config.users, { address: `added@${accounts.domains[1]}`, realname: "Added" }],
      config.aliases,
    );
    const addMemory = new PeakMemory();
    addMemory.start();
    const [addOne, added] = await succeeded("adding one", () => stackRef.stack.up());
    const addPeaks = addMemory.stop();
    const changes = added.summary.resourceChanges ?? {};
    if (changes.create !== 1 || Object.keys(changes).some((k) => !["create", "same"].includes(k)))
      throw new Error(`adding one mailbox made ${JSON.stringify(changes)}`);
    record(`add_one_n${n}`, addOne, "s");

    const all = [peaks, previewPeaks, addPeaks];
    record(`rss_total_n${n}`, Math.max(...all.map((p) => p.total)), "MiB");
    for (const role of ["program", "engine", "provider", "plugin"] as const) {
      record(`rss_${role}_n${n}`, Math.max(...all.map((p) => p[role])), "MiB");
    }
  } finally {
    await t?.remove();
    await closePools();
    await postfix.stop();
    await dovecot.stop();
    await cluster.stop();
    spawnSync("userdel", [OWNER]);
    spawnSync("groupdel", [OWNER]);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchAnsible(n: number, accounts: Accounts, cluster: PgCluster, dir: string) {
  await emptyTables(cluster);
  const rowsFile = join(dir, `rows-n${n}.json`);
  const rows = rowsOf(accounts, GID).map((r) => ({
    query: psycopgUpsert(r.shape),
    args: r.values,
  }));
  writeFileSync(rowsFile, JSON.stringify({ rows }));
  const run = () => {
    const result = spawnSync(
      "ansible-playbook",
      [
        "-i",
        "localhost,",
        join(REPO, "bench", "ansible", "converge.yml"),
        "-e",
        `rows_file=${rowsFile}`,
        "-e",
        `pg_port=${cluster.port}`,
        "-e",
        "ansible_python_interpreter=/usr/bin/python3",
      ],
      {
        encoding: "utf8",
        maxBuffer: 1 << 30,
        // The password reaches the playbook through the environment, not a command line.
        env: { ...process.env, PGPASSWORD: cluster.superPassword, ANSIBLE_NOCOLOR: "1" },
      },
    );
    if (result.status !== 0)
      throw new Error(`ansible-playbook failed: ${result.stdout.slice(-2000)}`);
  };
  const [empty] = await seconds(run);
  record(`ansible_up_empty_n${n}`, empty, "s");
  // The peer's no-op run takes as long as its first (one module run per row): measured up to
  // N = 1,000, where it is the same story, to keep the whole benchmark under an hour.
  if (n <= 1000) {
    const [noop] = await seconds(run);
    record(`ansible_noop_n${n}`, noop, "s");
  }
}

async function benchFloor(n: number, accounts: Accounts, cluster: PgCluster, dir: string) {
  await emptyTables(cluster);
  const sqlFile = join(dir, `floor-n${n}.sql`);
  writeFileSync(sqlFile, floorSql(rowsOf(accounts, GID)));
  const [t] = await seconds(() =>
    execFileSync(
      "psql",
      [
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "--single-transaction",
        "-h",
        "127.0.0.1",
        "-p",
        String(cluster.port),
        "-U",
        "postgres",
        "-d",
        "mail",
        "-f",
        sqlFile,
      ],
      {
        env: { ...process.env, PGPASSWORD: cluster.superPassword },
        stdio: ["ignore", "ignore", "inherit"],
      },
    ),
  );
  record(`psql_floor_n${n}`, t, "s");
  const count = await superuserQuery<{ n: number }>(
    cluster,
    "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM aliases) + (SELECT count(*) FROM transports) AS n",
    [],
    "mail",
  );
  if (Number(count[0].n) !== rowsOf(accounts, GID).length)
    throw new Error("the floor did not store every row");
}

function ratios(): Figure[] {
  const value = (name: string) => figures.find((f) => f.name === name)?.value;
  const out: Figure[] = [];
  const n = PEER_N;
  const pairs: [string, string, string][] = [
    [`ratio_vmail_ansible_up_empty_n${n}`, `up_empty_n${n}`, `ansible_up_empty_n${n}`],
    [`ratio_vmail_ansible_noop_n${n}`, `noop_up_n${n}`, `ansible_noop_n${n}`],
    [`ratio_vmail_floor_up_empty_n${n}`, `up_empty_n${n}`, `psql_floor_n${n}`],
  ];
  // Linear growth from 5,000 to 20,000 mailboxes is 4x.
  const grown = ["up_empty", "noop_preview", "noop_up", "add_one", "rss_total", "state_json_bytes"];
  for (const f of grown) {
    pairs.push([`growth_${f}_n20000_over_n5000`, `${f}_n20000`, `${f}_n5000`]);
  }
  for (const [name, a, b] of pairs) {
    const [x, y] = [value(a), value(b)];
    if (x !== undefined && y) out.push({ name, value: Math.round((x / y) * 100) / 100, unit: "x" });
  }
  for (const r of out) console.log(`${r.name} ${r.value} ${r.unit}`);
  return out;
}

async function benchPeers(n: number, accounts: Accounts): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `vmail-bench-peers-n${n}-`));
  const cluster = await startPgCluster();
  try {
    useLocalContext(cluster); // vmail's own providers make the tables, as MailSchema does
    await createMailDatabase(cluster, testDatabaseSettings(cluster));
    await benchAnsible(n, accounts, cluster, dir);
    await benchFloor(n, accounts, cluster, dir);
  } finally {
    await closePools();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  execFileSync("bash", [join(REPO, "scripts/install-system-deps")], { stdio: "inherit" });
  ensureEngine();
  const missing = missingPlugins();
  if (missing.length > 0)
    throw new Error(
      `the benchmark runs the whole program and needs these plugins in Pulumi's plugin cache: ${missing.join(", ")} (README: "The engine without release downloads")`,
    );
  if (WITH_PEERS) ensureAnsible();
  console.log(`# vmail bench: N = ${NS.join(", ")}; ${cpus().length} cores; whole program`);
  // The peers first: the slowest part at N = 1,000, and the one that needs Ansible to work.
  if (WITH_PEERS && NS.includes(PEER_N)) await benchPeers(PEER_N, generateAccounts(PEER_N));
  for (const n of NS) await benchVmail(n, generateAccounts(n));
  const computed = ratios();
  const results = {
    date: new Date().toISOString(),
    machine: { cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30) },
    settings: { sizes: NS, peersAt: WITH_PEERS ? PEER_N : null },
    figures,
    ratios: computed,
  };
  writeFileSync(join(REPO, "bench", "results.json"), JSON.stringify(results, null, 2) + "\n");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
