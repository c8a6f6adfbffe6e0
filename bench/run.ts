// npm run bench [-- N ...]: vmail at scale with the real engine and a throwaway PostgreSQL
// cluster, against an Ansible peer and a single psql transaction (the floor), in the same run.
// Prints one `name value unit` line per figure, then the ratios, and writes bench/results.json.

import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { closePools } from "../providers/db";
import { createTestStack, ensureEngine } from "../tests/support/engine";
import { createMailDatabase } from "../tests/support/mailDatabaseFixture";
import { startPgCluster, superuserQuery, type PgCluster } from "../tests/support/pgCluster";
import { testDatabaseSettings } from "../tests/support/providers";
import { REPO } from "../tests/support/stackFiles";
import { asStackConfig, generateAccounts, type Accounts } from "./accounts";
import { PeakMemory } from "./processes";
import { floorSql, psycopgUpsert, rowsOf } from "./rows";

const GID = 1002;
const SIZES = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const NS = SIZES.length > 0 ? SIZES : [100, 1000, 5000];
// The setting the README recommends for large stacks; VMAIL_BENCH_CHECKPOINTS=1 measures without.
const SKIP_CHECKPOINTS = process.env.VMAIL_BENCH_CHECKPOINTS !== "1";
// VMAIL_BENCH_PEERS=0 measures vmail alone (quicker, for work on vmail itself).
const WITH_PEERS = process.env.VMAIL_BENCH_PEERS !== "0";

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

async function benchVmail(n: number, accounts: Accounts, cluster: PgCluster, dir: string) {
  const db = await createMailDatabase(cluster, testDatabaseSettings(cluster), { tables: false });
  await closePools();
  const config = asStackConfig(accounts);
  const t = await createTestStack(
    `bench-n${n}`,
    { projectDir: join(REPO, "bench", "program") },
    {
      "vmail:pgHost": { value: "127.0.0.1" },
      "vmail:pgPort": { value: String(cluster.port) },
      "vmail:pgAdminPassword": { value: cluster.superPassword, secret: true },
      "vmail:pgHbaFile": { value: cluster.hbaFile },
      "vmail:postfixMapsDir": { value: join(dir, "pgsql") },
      "vmail:accountsFile": { value: "accounts.json" },
      "vmailBench:gid": { value: String(GID) },
      "vmailBench:readerPassword": { value: db.readerPassword, secret: true },
    },
  );
  const writeAccounts = (users: object[]) =>
    writeFileSync(join(t.workDir, "accounts.json"), JSON.stringify({ ...config, users }));
  writeAccounts(config.users);
  try {
    const memory = new PeakMemory();
    memory.start();
    const [upEmpty, up] = await seconds(() => t.stack.up());
    const peaks = memory.stop();
    if (up.summary.result !== "succeeded") throw new Error(`up failed: ${up.stdout}`);
    record(`up_empty_n${n}`, upEmpty, "s");
    const previewCpu = new PeakMemory();
    previewCpu.start();
    const [preview] = await seconds(() => t.stack.preview());
    previewCpu.stop();
    record(`noop_preview_n${n}`, preview, "s");
    for (const [role, cpu] of Object.entries(previewCpu.cpuByRole())) {
      record(`noop_preview_cpu_${role}_n${n}`, cpu, "s");
    }
    const [noopUp] = await seconds(() => t.stack.up({ expectNoChanges: true }));
    record(`noop_up_n${n}`, noopUp, "s");
    writeAccounts([
      ...config.users,
      { address: `added@${accounts.domains[1]}`, realname: "Added" },
    ]);
    const [addOne, added] = await seconds(() => t.stack.up());
    if (added.summary.resourceChanges?.create !== 1) {
      throw new Error(`adding one mailbox made ${JSON.stringify(added.summary.resourceChanges)}`);
    }
    record(`add_one_n${n}`, addOne, "s");
    record(`rss_program_n${n}`, peaks.program, "MiB");
    record(`rss_engine_n${n}`, peaks.engine, "MiB");
    record(`rss_provider_n${n}`, peaks.provider, "MiB");
  } finally {
    await t.remove();
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
  for (const n of NS) {
    const pairs: [string, string, string][] = [
      [`ratio_vmail_ansible_up_empty_n${n}`, `up_empty_n${n}`, `ansible_up_empty_n${n}`],
      [`ratio_vmail_ansible_noop_n${n}`, `noop_up_n${n}`, `ansible_noop_n${n}`],
      [`ratio_vmail_floor_up_empty_n${n}`, `up_empty_n${n}`, `psql_floor_n${n}`],
    ];
    for (const [name, a, b] of pairs) {
      const [x, y] = [value(a), value(b)];
      if (x !== undefined && y)
        out.push({ name, value: Math.round((x / y) * 100) / 100, unit: "x" });
    }
  }
  const base = 1000;
  if (NS.includes(base) && NS.includes(5000)) {
    for (const f of ["up_empty", "noop_preview", "noop_up", "add_one"]) {
      const [x, y] = [value(`${f}_n5000`), value(`${f}_n${base}`)];
      if (x !== undefined && y)
        out.push({
          name: `growth_${f}_n5000_over_n1000`,
          value: Math.round((x / y) * 100) / 100,
          unit: "x",
        });
    }
  }
  for (const r of out) console.log(`${r.name} ${r.value} ${r.unit}`);
  return out;
}

async function main(): Promise<void> {
  execFileSync("bash", [join(REPO, "scripts/install-system-deps")], { stdio: "inherit" });
  ensureAnsible();
  ensureEngine();
  if (SKIP_CHECKPOINTS) process.env.PULUMI_SKIP_CHECKPOINTS = "true";
  console.log(
    `# vmail bench: N = ${NS.join(", ")}; ${cpus().length} cores; skip checkpoints: ${SKIP_CHECKPOINTS}`,
  );
  for (const n of NS) {
    const accounts = generateAccounts(n);
    const dir = mkdtempSync(join(tmpdir(), `vmail-bench-n${n}-`));
    chmodSync(dir, 0o755);
    const cluster = await startPgCluster();
    try {
      await benchVmail(n, accounts, cluster, dir);
      if (WITH_PEERS) {
        await benchAnsible(n, accounts, cluster, dir);
        await benchFloor(n, accounts, cluster, dir);
      }
    } finally {
      await closePools();
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const computed = ratios();
  const results = {
    date: new Date().toISOString(),
    machine: { cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30) },
    settings: { sizes: NS, skipCheckpoints: SKIP_CHECKPOINTS },
    figures,
    ratios: computed,
  };
  writeFileSync(join(REPO, "bench", "results.json"), JSON.stringify(results, null, 2) + "\n");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
