// A throwaway PostgreSQL 15 cluster for tests: initdb into a temp dir, scram-sha-256,
// a random superuser password (given to initdb in a 0600 file, never on a command line),
// listening on 127.0.0.1 at a free port and on a unix socket in the temp dir.
// initdb and postgres refuse to run as root, so they run as an unprivileged system user.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { Client, type ClientConfig, type QueryResultRow } from "pg";
import { freePort } from "./ports";
import { ensureInstalled } from "./systemDeps";

export const PG_BIN = "/usr/lib/postgresql/15/bin";

export interface PgCluster {
  host: "127.0.0.1";
  port: number;
  /** Directory of the unix socket (`.s.PGSQL.<port>`), usable as a libpq `host`. */
  socketDir: string;
  dataDir: string;
  /** The cluster's pg_hba.conf; write it, then `reload()`. */
  hbaFile: string;
  superuser: "postgres";
  /** Secret: keep it out of logs and command lines. */
  superPassword: string;
  /** postgresql://postgres:PASSWORD@127.0.0.1:PORT/postgres (holds the password: never log it). */
  connectionString: string;
  /** pg client settings for the superuser over TCP. */
  clientConfig(database?: string): ClientConfig;
  /** Re-reads pg_hba.conf and postgresql.conf (pg_reload_conf()). */
  reload(): Promise<void>;
  /** Stops the server (a fast shutdown) and keeps its files, so that resume() brings it back. */
  pause(): Promise<void>;
  /** Starts a paused server again, on the same port, and waits until it takes connections. */
  resume(): Promise<void>;
  /** Stops the server and removes every file of the cluster. Safe to call twice. */
  stop(): Promise<void>;
}

/** Runs one statement as the superuser over TCP and returns its rows. */
export async function superuserQuery<R extends QueryResultRow = QueryResultRow>(
  cluster: Pick<PgCluster, "clientConfig">,
  sql: string,
  params: unknown[] = [],
  database = "postgres",
): Promise<R[]> {
  const client = new Client(cluster.clientConfig(database));
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** The row of the mail database's `table` whose `key` column is `value`, as stored (undefined if none). */
export async function storedRow(
  cluster: Pick<PgCluster, "clientConfig">,
  table: "users" | "aliases" | "transports",
  key: string,
  value: string,
): Promise<QueryResultRow> {
  const rows = await superuserQuery(
    cluster,
    `SELECT * FROM ${table} WHERE ${key} = $1`,
    [value],
    "mail",
  );
  return rows[0];
}

// Servers still running when the test process exits are killed with it.
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** The user initdb and postgres run as: `postgres` if it exists, else one made for tests. */
function serverUser(): string {
  for (const name of ["postgres", "vmail-pgtest"]) {
    if (spawnSync("id", ["-u", name]).status === 0) return name;
  }
  const made = spawnSync(
    "useradd",
    ["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"].concat([
      "--shell",
      "/usr/sbin/nologin",
      "vmail-pgtest",
    ]),
    { encoding: "utf8" },
  );
  if (made.status !== 0) throw new Error(`useradd vmail-pgtest failed: ${made.stderr}`);
  return "vmail-pgtest";
}

function ensureBinaries(): void {
  ensureInstalled([`${PG_BIN}/initdb`, `${PG_BIN}/postgres`]);
}

/** Command prefix that drops root for `user` (no PAM, no TTY needed). */
function asUser(user: string, cmd: string[]): [string, string[]] {
  return ["setpriv", [`--reuid=${user}`, `--regid=${user}`, "--clear-groups", "--", ...cmd]];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Where a cluster's files are, who runs its server, and its superuser's password. */
interface ClusterDirs {
  user: string;
  base: string;
  dataDir: string;
  socketDir: string;
  superPassword: string;
  env: NodeJS.ProcessEnv;
}

/** Where a cluster is and how its server is started. */
interface ClusterPlace extends ClusterDirs {
  port: number;
}

/** A temp dir for a cluster, its socket dir, both the server user's; the data dir not yet made. */
async function makeClusterDirs(prefix: string, superPassword: string): Promise<ClusterDirs> {
  const user = serverUser();
  const base = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  const dirs = {
    user,
    base,
    dataDir: path.join(base, "data"),
    socketDir: path.join(base, "socket"),
    superPassword,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C", TZ: "UTC" },
  };
  await removedOnFailure(dirs, async () => {
    await fs.chmod(base, 0o755);
    await fs.mkdir(dirs.socketDir, { mode: 0o755 });
    spawnOk("chown", [`${user}:`, base, dirs.socketDir]);
  });
  return dirs;
}

/** Runs `work`, removing every file of the cluster when it fails. */
async function removedOnFailure<T>(dirs: ClusterDirs, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    await fs.rm(dirs.base, { recursive: true, force: true });
    throw e;
  }
}

/** Starts the cluster's server on a free port: one can be taken before postgres binds, so a few. */
async function startOnFreePort(dirs: ClusterDirs, what: string): Promise<PgCluster> {
  for (let attempt = 1; ; attempt++) {
    const place = { ...dirs, port: await freePort() };
    const started = await startServer(place);
    if ("server" in started) return clusterHandle(place, started.server);
    if (attempt >= 3) throw new Error(`${what} did not start: ${started.log}`);
  }
}

/** A new cluster; `superPassword` gives two clusters one admin password (a stack has one). */
export async function startPgCluster(opts: { superPassword?: string } = {}): Promise<PgCluster> {
  ensureBinaries();
  const superPassword = opts.superPassword ?? randomBytes(24).toString("base64url");
  const dirs = await makeClusterDirs("vmail-pg-", superPassword);
  const { user, base, dataDir, env } = dirs;
  return removedOnFailure(dirs, async () => {
    const pwfile = path.join(base, "pwfile");
    await fs.writeFile(pwfile, `${superPassword}\n`, { mode: 0o600 });
    spawnOk("chown", [`${user}:`, pwfile]);
    const [cmd, args] = asUser(user, [
      `${PG_BIN}/initdb`,
      `--pgdata=${dataDir}`,
      "--username=postgres",
      `--pwfile=${pwfile}`,
      "--auth-local=scram-sha-256",
      "--auth-host=scram-sha-256",
      "--encoding=UTF8",
      "--no-locale",
      "--no-sync", // throwaway data: skip the fsyncs, seconds faster
      "--no-instructions",
    ]);
    try {
      spawnOk(cmd, args, { cwd: base, env });
    } finally {
      await fs.rm(pwfile, { force: true });
    }
    return startOnFreePort(dirs, "postgres");
  });
}

function spawnOk(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
) {
  const r = spawnSync(cmd, args, { ...opts, encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) {
    throw new Error(`${path.basename(cmd)} failed (${r.status ?? r.signal}): ${r.stderr}`);
  }
}

async function startServer(
  place: ClusterPlace,
): Promise<{ server: ChildProcess } | { log: string }> {
  const { user, base, dataDir, socketDir, port, superPassword, env } = place;
  const [cmd, args] = asUser(user, [
    `${PG_BIN}/postgres`,
    "-D",
    dataDir,
    "-p",
    String(port),
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    `unix_socket_directories=${socketDir}`,
    "-c",
    "fsync=off", // throwaway data
    "-c",
    "full_page_writes=off",
    "-c",
    "synchronous_commit=off",
  ]);
  const server = spawn(cmd, args, { cwd: base, env, stdio: ["ignore", "pipe", "pipe"] });
  running.add(server);
  let log = "";
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString("utf8")).slice(-8000);
  };
  server.stdout?.on("data", keep);
  server.stderr?.on("data", keep);
  let exited = false;
  server.once("exit", () => {
    exited = true;
    running.delete(server);
  });

  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && !exited) {
    const client = new Client({
      host: "127.0.0.1",
      port,
      user: "postgres",
      password: superPassword,
      database: "postgres",
      connectionTimeoutMillis: 1000,
    });
    try {
      await client.connect();
      await client.end();
      return { server };
    } catch {
      await client.end().catch(() => undefined);
      await sleep(100);
    }
  }
  if (!exited) await stopServer(server);
  return { log };
}

async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => server.once("exit", () => resolve()));
  server.kill("SIGINT"); // postgres' "fast" shutdown: roll back sessions, exit
  const timer = setTimeout(() => server.kill("SIGKILL"), 10_000);
  await gone;
  clearTimeout(timer);
}

function clusterHandle(place: ClusterPlace, first: ChildProcess): PgCluster {
  const { base, dataDir, socketDir, port, superPassword } = place;
  let server = first;
  let stopped: Promise<void> | undefined;
  const cluster: PgCluster = {
    host: "127.0.0.1",
    port,
    socketDir,
    dataDir,
    hbaFile: path.join(dataDir, "pg_hba.conf"),
    superuser: "postgres",
    superPassword,
    connectionString: `postgresql://postgres:${encodeURIComponent(superPassword)}@127.0.0.1:${port}/postgres`,
    clientConfig: (database = "postgres") => ({
      host: "127.0.0.1",
      port,
      user: "postgres",
      password: superPassword,
      database,
    }),
    reload: async () => {
      // pg_reload_conf() only signals the postmaster: wait until a new session sees the
      // new load time, so the caller's next connection meets the new pg_hba.conf.
      type Row = { t: Date };
      const [before] = await superuserQuery<Row>(cluster, "SELECT pg_conf_load_time() AS t");
      await superuserQuery(cluster, "SELECT pg_reload_conf()");
      for (let i = 0; i < 50; i++) {
        const [now] = await superuserQuery<Row>(cluster, "SELECT pg_conf_load_time() AS t").catch(
          () => [before],
        );
        if (now.t.getTime() > before.t.getTime()) return;
        await sleep(100);
      }
    },
    pause: () => stopServer(server),
    resume: async () => {
      const started = await startServer(place);
      if (!("server" in started)) throw new Error(`postgres did not start again: ${started.log}`);
      server = started.server;
    },
    stop: () => {
      stopped ??= (async () => {
        await stopServer(server);
        await fs.rm(base, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
  return cluster;
}

/**
 * A streaming replica of `primary`, as an operator makes one: `pg_basebackup -R` over TCP as the
 * superuser (its password in PGPASSWORD, never on a command line; initdb's pg_hba admits
 * replication from loopback), started as a hot standby on a port of its own. It has the primary's
 * roles, passwords and pg_hba.conf as they were at the copy, and follows every change after.
 */
export async function startReplica(primary: PgCluster): Promise<PgCluster> {
  ensureInstalled([`${PG_BIN}/pg_basebackup`]);
  const dirs = await makeClusterDirs("vmail-pg-replica-", primary.superPassword);
  const { user, base, dataDir, env } = dirs;
  return removedOnFailure(dirs, () => {
    const [cmd, args] = asUser(user, [
      `${PG_BIN}/pg_basebackup`,
      "--host=127.0.0.1",
      `--port=${primary.port}`,
      "--username=postgres",
      `--pgdata=${dataDir}`,
      "--write-recovery-conf",
      "--wal-method=stream",
      "--checkpoint=fast",
      "--no-sync",
    ]);
    spawnOk(cmd, args, { cwd: base, env: { ...env, PGPASSWORD: primary.superPassword } });
    return startOnFreePort(dirs, "the replica");
  });
}

/** The test role and database of a Pulumi state backend on a cluster (see stateBackendOn). */
export const STATE_ROLE = "pulumistate";
export const STATE_DB = "pulumi_state";

/**
 * A Pulumi state backend on `cluster`, as the README has an operator make one: a role and a
 * database of its own, the URL without the password, which the CLI takes from PGPASSWORD.
 */
export async function stateBackendOn(
  cluster: PgCluster,
): Promise<{ url: string; env: Record<string, string> }> {
  const password = randomBytes(18).toString("base64url");
  await superuserQuery(cluster, `CREATE ROLE ${STATE_ROLE} LOGIN PASSWORD '${password}'`);
  await superuserQuery(cluster, `CREATE DATABASE ${STATE_DB} OWNER ${STATE_ROLE}`);
  return {
    url: `postgres://${STATE_ROLE}@127.0.0.1:${cluster.port}/${STATE_DB}?sslmode=disable`,
    env: { PGPASSWORD: password },
  };
}
