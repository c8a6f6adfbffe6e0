// When the stack's rows move to another database (a new pgHost, pgPort or database): each row is
// written in the new database by its own resource; Postfix's and Dovecot's files are pointed at
// it and reloaded once every row is there; only then are this stack's rows deleted from the old
// one (MovedRowsCleanup), so no lookup during the move finds an address missing. And before any
// of that, the port Postfix and Dovecot use on the server must reach the new database. Pure: the
// SQL and the server-side probe, as text.

import { MANAGED_ROWS, TABLES } from "./tables";
import { shellQuote } from "./scripts";

/** This stack's rows as the new database lists them: `tbl`, `key`. */
export const OURS_SQL = `SELECT tbl, key FROM ${MANAGED_ROWS} WHERE stack = $1`;

/**
 * Deletes from the old database the rows of one table that moved: listed among `$2` (the keys the
 * new database has for this stack) and written there by this stack, or before vmail recorded
 * stacks. A row another stack wrote stays, whatever its key.
 */
export function deleteMovedSql(table: keyof typeof TABLES): string[] {
  const key = TABLES[table].key.name;
  const ours = `tbl = '${table}' AND key = ANY ($2::text[]) AND (stack = $1 OR stack IS NULL)`;
  return [
    `DELETE FROM ${table} WHERE ${key} IN (SELECT key FROM ${MANAGED_ROWS} WHERE ${ours})`,
    `DELETE FROM ${MANAGED_ROWS} WHERE ${ours}`,
  ];
}

/** What the server-side probe prints when there is no psql to ask with. */
export const NO_PSQL = "no psql";

/**
 * Run on the mail server, the admin password on stdin: the system identifier and database of the
 * PostgreSQL that 127.0.0.1:port answers for `database`, as Postfix and Dovecot will reach it.
 */
export function serverPortProbeScript(port: number, database: string, user: string): string {
  return [
    `command -v psql >/dev/null 2>&1 || { echo '${NO_PSQL}'; exit 0; }`,
    "IFS= read -r PGPASSWORD; export PGPASSWORD",
    `PGCONNECT_TIMEOUT=15 psql -h 127.0.0.1 -p ${port} -U ${shellQuote(user)} -d ${shellQuote(database)} -XAtqc ` +
      `"SELECT system_identifier::text || '/' || current_database() FROM pg_control_system()"`,
  ].join("\n");
}

/** Why the probe's answer (or failure) refuses the move; undefined when it reaches `expected`. */
export function serverPortRefusal(
  answer: { out?: string; error?: string },
  expected: string,
  port: number,
  where: string,
): string | undefined {
  const found = answer.out?.trim();
  if (found === NO_PSQL || found === expected) return undefined;
  // A cluster that answers but will not let the admin in from there: nothing to tell.
  if (!found && /authentication failed|no pg_hba\.conf entry/.test(answer.error ?? ""))
    return undefined;
  const got = found
    ? `reaches another database (${found}, not ${expected})`
    : `does not answer (${answer.error?.trim() ?? "no answer"})`;
  return (
    `the mail server's 127.0.0.1:${port} (vmail:pgServerPort, where Postfix and Dovecot would ` +
    `read ${where}) ${got}: their lookups would fail and mail bounce. Set vmail:pgServerPort to ` +
    "the port of that cluster on the mail server"
  );
}
