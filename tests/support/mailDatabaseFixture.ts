// A mail database set up as MailDatabase declares it, for tests that drive vmail's own providers
// without the engine: the roles, database and grants @pulumi/postgresql makes are applied here
// with the statements that provider runs; the end-to-end suite checks the provider's own work.

import { randomBytes } from "node:crypto";
import type { DatabaseSettings } from "../../spec/config";
import { mailTablesProvider } from "../../providers/schema";
import { escapeIdentifier } from "pg";
import { dbIdentity } from "../../spec/target";
import { superuserQuery, type PgCluster } from "./pgCluster";

export interface MailDatabaseFixture {
  readerPassword: string;
  ownerPassword: string;
}

/**
 * Roles, database and grants as MailDatabase declares them. With `tables: false` the tables are
 * left to MailSchema (the end-to-end run); the default privileges then cover them as they come.
 */
export async function createMailDatabase(
  cluster: PgCluster,
  s: DatabaseSettings,
  opts: { tables: boolean } = { tables: true },
): Promise<MailDatabaseFixture> {
  const readerPassword = randomBytes(16).toString("hex");
  const ownerPassword = randomBytes(16).toString("hex");
  const q = (sql: string, db = "postgres") => superuserQuery(cluster, sql, [], db);
  const reader = escapeIdentifier(s.readerRole);
  const owner = escapeIdentifier(s.ownerRole);
  // Passwords as literals here only: test-time values in a test's own cluster.
  await q(`CREATE ROLE ${reader} LOGIN PASSWORD '${readerPassword}'`);
  await q(`CREATE ROLE ${owner} LOGIN PASSWORD '${ownerPassword}'`);
  await q(`CREATE DATABASE ${escapeIdentifier(s.name)} OWNER ${owner}`);
  await q(`REVOKE ALL ON SCHEMA public FROM PUBLIC`, s.name);
  await q(`GRANT USAGE ON SCHEMA public TO ${reader}`, s.name);
  await q(
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA public GRANT SELECT ON TABLES TO ${reader}`,
    s.name,
  );
  if (opts.tables) {
    // vmail's own provider makes the tables (as the owner role).
    const target = dbIdentity(s);
    await mailTablesProvider.create?.({ database: s.name, ownerRole: s.ownerRole, target });
    await q(`GRANT SELECT ON users, transports, aliases TO ${reader}`, s.name);
  }
  return { readerPassword, ownerPassword };
}
