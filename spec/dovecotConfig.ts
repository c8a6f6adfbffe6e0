// What vmail writes into Dovecot so mail users can log in: the SQL passdb/userdb connect file,
// an auth include naming it, the block in conf.d/10-auth.conf that includes it, and the reload
// script. Pure.

import type { BlockSpec } from "./managedBlock";
import type { HashScheme } from "./passwords";
import { shellQuote } from "./scripts";

/**
 * At the top of 10-auth.conf, before Debian's `!include auth-system.conf.ext`: Dovecot asks its
 * passdbs in order, and PAM answers an unknown user only after a ~2 s delay, which every mail
 * user's login would wait for. A system user is not in the users table, so PAM still answers it.
 */
export const DOVECOT_AUTH_BLOCK: BlockSpec = {
  marker: "vmail (managed by Pulumi)",
  position: "top",
  mustExist: true,
};

/** The files vmail keeps in Dovecot's config directory (none of them is a package's file). */
export function dovecotPaths(configDir: string) {
  return {
    main: `${configDir}/dovecot.conf`,
    /** The connect string (with the role's password) and the queries: 0640 root:dovecot. */
    sql: `${configDir}/dovecot-vmail-sql.conf.ext`,
    /** passdb and userdb blocks that use it. */
    authInclude: `${configDir}/conf.d/auth-vmail-sql.conf.ext`,
    /** Where the include goes, in a marked block. */
    authConf: `${configDir}/conf.d/10-auth.conf`,
  };
}

export interface DovecotSqlInput {
  /** PostgreSQL's port on the mail server (Dovecot connects over loopback, like Postfix). */
  port: number;
  dbname: string;
  role: string;
  /** The role's password: letters and digits only (see MailDatabase), so it needs no quoting. */
  password: string;
  scheme: HashScheme;
  /** virtual_mailbox_base: maildirs are relative to it, as Postfix delivers them. */
  mailboxBase: string;
  uid: number;
  gid: number;
}

/** A string as an SQL literal (the mailbox base goes into the user query). */
const sqlLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * dovecot-sql.conf.ext(5) for the users table. Dovecot SQL-escapes %u itself. Stored hashes
 * carry their `{SCHEME}` prefix; default_pass_scheme covers any that does not.
 */
export function renderDovecotSql(i: DovecotSqlInput): string {
  const base = i.mailboxBase.endsWith("/") ? i.mailboxBase : `${i.mailboxBase}/`;
  const home = `${sqlLiteral(base)} || maildir`;
  return [
    "# Written by vmail (Pulumi). Edits here are overwritten by the next `pulumi up`.",
    "driver = pgsql",
    `connect = host=127.0.0.1 port=${i.port} dbname=${i.dbname} user=${i.role} password=${i.password}`,
    `default_pass_scheme = ${i.scheme}`,
    "password_query = SELECT email AS user, password FROM users WHERE email = '%u'",
    `user_query = SELECT ${home} AS home, 'maildir:' || ${home} AS mail, ${i.uid} AS uid, ${i.gid} AS gid FROM users WHERE email = '%u'`,
    "iterate_query = SELECT email AS user FROM users",
    "",
  ].join("\n");
}

/** passdb and userdb from the SQL file: Dovecot's own auth-sql.conf.ext, naming vmail's file. */
export function renderAuthInclude(sqlPath: string): string {
  return [
    "# Written by vmail (Pulumi): mail users from the mail database.",
    "passdb {",
    "  driver = sql",
    `  args = ${sqlPath}`,
    "}",
    "userdb {",
    "  driver = sql",
    `  args = ${sqlPath}`,
    "}",
    "",
  ].join("\n");
}

export const AUTH_INCLUDE_LINE = "!include auth-vmail-sql.conf.ext\n";

/** What the preview checks: Dovecot is installed and has its config where the stack says. */
export function dovecotPresenceScript(configDir: string): string {
  const p = dovecotPaths(configDir);
  return [
    "command -v doveconf >/dev/null 2>&1 || { echo 'no doveconf'; exit 0; }",
    `[ -f ${shellQuote(p.main)} ] || { echo 'no dovecot.conf'; exit 0; }`,
    `[ -f ${shellQuote(p.authConf)} ] || { echo 'no conf.d/10-auth.conf'; exit 0; }`,
    "echo ok",
  ].join("\n");
}

/**
 * Checks the whole configuration with `doveconf -n` (its own message on failure), then reloads
 * Dovecot if it runs (its master.pid under base_dir names a live process).
 */
export function dovecotReloadScript(configDir: string): string {
  const conf = shellQuote(dovecotPaths(configDir).main);
  return [
    `doveconf -c ${conf} -n >/dev/null`,
    `base=$(doveconf -c ${conf} -h base_dir)`,
    'if [ -f "$base/master.pid" ] && kill -0 "$(cat "$base/master.pid")" 2>/dev/null; then',
    `  doveadm -c ${conf} reload`,
    "  echo reloaded",
    "fi",
  ].join("\n");
}
