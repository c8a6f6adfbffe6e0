// A mail database set up as MailDatabase declares it, for tests that drive vmail's own providers
// without the engine: the roles, database and grants @pulumi/postgresql makes are applied here
// with the statements that provider runs; the end-to-end suite checks the provider's own work.

import { randomBytes } from "node:crypto";
import type { DatabaseSettings } from "../../core/config";
import { mailTablesProvider } from "../../providers/schema";
import { usersColumnsReadBy, wholeTablesReadBy } from "../../core/tables";
import { escapeIdentifier } from "pg";
import { dbIdentity } from "../../core/target";
import { superuserQuery, type PgCluster } from "./pgCluster";

export interface MailDatabaseFixture {
  readerPassword: string;
  ownerPassword: string;
  /** Dovecot's role's password, when the settings name that role. */
  dovecotPassword: string;
}

/**
 * Roles, database and grants as MailDatabase declares them. With `tables: false` the tables are
 * left to MailSchema (the end-to-end run), and grantMailRoles is for the caller to run after.
 */
export async function createMailDatabase(
  cluster: PgCluster,
  s: DatabaseSettings,
  opts: { tables: boolean } = { tables: true },
): Promise<MailDatabaseFixture> {
  const readerPassword = randomBytes(16).toString("hex");
  const ownerPassword = randomBytes(16).toString("hex");
  const dovecotPassword = randomBytes(16).toString("hex");
  const q = (sql: string, db = "postgres") => superuserQuery(cluster, sql, [], db);
  const reader = escapeIdentifier(s.readerRole);
  const owner = escapeIdentifier(s.ownerRole);
  // Passwords as literals here only: test-time values in a test's own cluster.
  await q(`CREATE ROLE ${reader} LOGIN PASSWORD '${readerPassword}'`);
  await q(`CREATE ROLE ${owner} LOGIN PASSWORD '${ownerPassword}'`);
  if (s.dovecotRole) {
    await q(`CREATE ROLE ${escapeIdentifier(s.dovecotRole)} LOGIN PASSWORD '${dovecotPassword}'`);
  }
  await q(`CREATE DATABASE ${escapeIdentifier(s.name)} OWNER ${owner}`);
  await q(`REVOKE ALL ON SCHEMA public FROM PUBLIC`, s.name);
  await q(`GRANT USAGE ON SCHEMA public TO ${reader}`, s.name);
  if (opts.tables) {
    // vmail's own provider makes the tables (as the owner role).
    const target = dbIdentity(s);
    await mailTablesProvider.create?.({ database: s.name, ownerRole: s.ownerRole, target });
    await grantMailRoles(cluster, s);
  }
  return { readerPassword, ownerPassword, dovecotPassword };
}

/**
 * MailDatabase's grants on the tables (which must exist): Postfix's reader sees no password
 * hash; Dovecot's role (when the settings name one) reads the users table only.
 */
export async function grantMailRoles(cluster: PgCluster, s: DatabaseSettings): Promise<void> {
  const q = (sql: string, db = "postgres") => superuserQuery(cluster, sql, [], db);
  const reader = escapeIdentifier(s.readerRole);
  // What each role may read, as MailDatabase derives it from the tables' description.
  await q(`GRANT SELECT ON ${wholeTablesReadBy("postfix").join(", ")} TO ${reader}`, s.name);
  await q(
    `GRANT SELECT (${usersColumnsReadBy("postfix").join(", ")}) ON users TO ${reader}`,
    s.name,
  );
  if (s.dovecotRole) {
    const dovecot = escapeIdentifier(s.dovecotRole);
    await q(`GRANT USAGE ON SCHEMA public TO ${dovecot}`, s.name);
    const columns = usersColumnsReadBy("dovecot").join(", ");
    await q(`GRANT SELECT (${columns}) ON users TO ${dovecot}`, s.name);
  }
}
