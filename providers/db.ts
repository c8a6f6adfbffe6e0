// PostgreSQL access for the dynamic providers: one pool per target, shared by every resource the
// provider process handles, so a run with thousands of rows opens a handful of connections.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import { Pool, TypeOverrides, types, type PoolClient } from "pg";
import type { DatabaseSettings } from "../core/config";
import { setRoleSql } from "../core/sql";
import { retireHint } from "../core/retiredTargets";
import { dbIdentity, describeTarget } from "../core/target";

export interface DbTarget {
  settings: DatabaseSettings;
  adminPassword: string;
}

type PoolCache = Map<string, Pool>;
const CACHE_KEY = Symbol.for("vmail.pgPools");

function pools(): PoolCache {
  const g = globalThis as unknown as Record<symbol, PoolCache | undefined>;
  return (g[CACHE_KEY] ??= new Map<string, Pool>());
}

/**
 * libpq's sslmode in node's TLS terms: `require` encrypts without checking the server;
 * `verify-ca` checks its certificate against the CA (pgSslRootCert) but not its name;
 * `verify-full` checks both (against the system's CAs when no pgSslRootCert is given).
 */
export function tlsOptions(s: DatabaseSettings): false | ConnectionOptions {
  if (s.sslMode === "disable") return false;
  if (s.sslMode === "require") return { rejectUnauthorized: false };
  const ca = s.sslRootCert ? readFileSync(s.sslRootCert, "utf8") : undefined;
  if (s.sslMode === "verify-ca") {
    return { rejectUnauthorized: true, ca, checkServerIdentity: () => undefined };
  }
  return { rejectUnauthorized: true, ca };
}

/** How long a connect may take: a host that does not answer fails the call, not the run. */
const CONNECT_TIMEOUT_MS = 15_000;

/** A pool for the admin role on `database` (the mail database unless another is named). */
/**
 * BIGINT (a quota in bytes) as a number, as the config has it, so a refresh compares like with
 * like (pg's default is a string). vmail's BIGINTs are sizes well below 2^53.
 */
const TYPES = new TypeOverrides();
TYPES.setTypeParser(types.builtins.INT8, Number);

export function poolFor(target: DbTarget, database = target.settings.name): Pool {
  const s = target.settings;
  const key = createHash("sha256")
    .update(
      JSON.stringify([
        s.host,
        s.port,
        s.sslMode,
        s.sslRootCert,
        s.adminUser,
        database,
        target.adminPassword,
      ]),
    )
    .digest("hex");
  let pool = pools().get(key);
  if (!pool) {
    pool = new Pool({
      host: s.host,
      port: s.port,
      user: s.adminUser,
      password: target.adminPassword,
      database,
      ssl: tlsOptions(s),
      max: 4,
      idleTimeoutMillis: 5_000,
      application_name: "vmail",
      // A host that does not answer fails the call in bounded time, not when the OS gives up.
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      types: TYPES,
    });
    // An idle client's error (server restart) must not crash the provider process.
    pool.on("error", () => undefined);
    pools().set(key, pool);
  }
  return pool;
}

/**
 * Whether connecting failed for want of a server that answers (refused, unknown host, timeout),
 * not for something the server said (an SQLSTATE: no such database, a wrong password).
 */
function unreachable(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? "";
  if (/^[0-9A-Z]{5}$/.test(code)) return false;
  return code.startsWith("E") || /timeout/i.test((error as Error).message);
}

/** Runs `work` in one transaction, optionally with the rights of `role` (SET LOCAL ROLE). */
export async function inTransaction<T>(
  target: DbTarget,
  role: string | undefined,
  work: (client: PoolClient) => Promise<T>,
  database?: string,
): Promise<T> {
  const client = await poolFor(target, database)
    .connect()
    .catch((error: Error) => {
      if (!unreachable(error)) throw error;
      const where = dbIdentity({ ...target.settings, name: database ?? target.settings.name });
      throw new Error(
        `vmail: cannot reach ${describeTarget(where)} (${error.message}). ${retireHint(where)}`,
      );
    });
  try {
    await client.query("BEGIN");
    if (role) await client.query(setRoleSql(role));
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export async function closePools(): Promise<void> {
  const all = [...pools().values()];
  pools().clear();
  await Promise.all(all.map((p) => p.end()));
}
