// What vmail writes into Dovecot so mail users can log in: the SQL passdb/userdb connect file,
// an auth include naming it, the block in conf.d/10-auth.conf that includes it, and the reload
// script. Pure.

import type { BlockSpec } from "./managedBlock";
import type { HashScheme } from "./passwords";
import type { DatabaseHost } from "./servers";
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
    /** LMTP, quotas and quota-status (core/dovecotDelivery.ts): vmail's own file. */
    delivery: `${configDir}/conf.d/95-vmail-delivery.conf`,
  };
}

export interface DovecotSqlInput {
  /** Where the account database is read, in order (loopback on the server itself by default). */
  hosts: DatabaseHost[];
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

/** Dovecot's home for a user: this directory in their maildir. */
const DOVECOT_HOME_DIR = "home";

/** A string as an SQL literal (the mailbox base goes into the user query). */
const sqlLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * dovecot-sql.conf.ext(5) for the users table. Dovecot SQL-escapes %u itself. Stored hashes
 * carry their `{SCHEME}` prefix; default_pass_scheme covers any that does not.
 */
export function renderDovecotSql(i: DovecotSqlInput): string {
  const base = i.mailboxBase.endsWith("/") ? i.mailboxBase : `${i.mailboxBase}/`;
  const maildir = `${sqlLiteral(base)} || maildir`;
  // Dovecot keeps a user's private state (duplicate-delivery database, Sieve scripts) in the
  // home, which must not be the maildir itself, where such files could show up as mailboxes.
  // A `home` directory inside the maildir (no leading dot: never a Maildir++ folder) is the
  // layout Dovecot documents for Maildir that keeps existing mail where it is, and a rename
  // moves it with the maildir.
  const home = `${maildir} || '${DOVECOT_HOME_DIR}'`;
  return [
    "# Written by vmail (Pulumi). Edits here are overwritten by the next `pulumi up`.",
    "driver = pgsql",
    `connect = ${connectHosts(i.hosts)} dbname=${i.dbname} user=${i.role} password=${i.password}`,
    `default_pass_scheme = ${i.scheme}`,
    // A user who may not log in is not found: every login fails as with a wrong password.
    "password_query = SELECT email AS user, password FROM users WHERE email = '%u' AND login",
    // quota_rule is NULL (so not returned: no limit) for a user without a quota.
    `user_query = SELECT ${home} AS home, 'maildir:' || ${maildir} AS mail, ${i.uid} AS uid, ${i.gid} AS gid, ` +
      `'*:bytes=' || quota AS quota_rule FROM users WHERE email = '%u'`,
    "iterate_query = SELECT email AS user FROM users",
    "",
  ].join("\n");
}

/**
 * The hosts as one libpq host list (host=a,b port=1,2): libpq tries them in this order at each
 * connect, so Dovecot reads the first that answers (a server's own replica, then the primary).
 * Dovecot's own `host=a host=b` would share one port between them and spread the connections.
 */
function connectHosts(hosts: DatabaseHost[]): string {
  return `host=${hosts.map((h) => h.host).join(",")} port=${hosts.map((h) => h.port).join(",")}`;
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

/** How the presence script starts its line about the driver (then the file it looked for). */
const NO_PGSQL_DRIVER = "no pgsql driver:";
/** ... and its line about LMTP (then the protocols Dovecot serves). */
const NO_LMTP = "no lmtp:";

/**
 * What Dovecot needs before vmail's files may go in, checked at every preview and `up` and again
 * by the reload: Dovecot is installed, has its config where the stack says, and has the pgsql
 * driver. `doveconf -n` does not load SQL drivers: without it the reload goes through and the auth
 * process dies ("sql: Unknown database driver 'pgsql'") at each start, so every login fails,
 * system users' too. Prints `ok`, or what is missing (see dovecotRefusal).
 */
export function dovecotPresenceScript(configDir: string): string {
  const p = dovecotPaths(configDir);
  return [
    "command -v doveconf >/dev/null 2>&1 || { echo 'no doveconf'; exit 0; }",
    `[ -f ${shellQuote(p.main)} ] || { echo 'no dovecot.conf'; exit 0; }`,
    `[ -f ${shellQuote(p.authConf)} ] || { echo 'no conf.d/10-auth.conf'; exit 0; }`,
    // The auth process loads every module in MODULEDIR/auth, a build-time path (no setting in
    // 2.3) that is mail_plugin_dir's default; a module file is named [lib][NN_]NAME.so.
    "modules=$(doveconf -d -h mail_plugin_dir)",
    'auth_modules="$modules/auth"',
    `ls "$auth_modules" 2>/dev/null | grep -Eq '^(lib)?([0-9]+_)?driver_pgsql[.]so$' ||`,
    `  { echo "${NO_PGSQL_DRIVER} $auth_modules/libdriver_pgsql.so"; exit 0; }`,
    // Mail is delivered over LMTP (core/dovecotDelivery.ts): Debian's dovecot-lmtpd installs the
    // service beside the modules and adds lmtp to protocols. The protocols are read only where the
    // configuration parses: a run that is replacing vmail's files may see it half-written.
    'lmtp="$(dirname "$modules")/lmtp"',
    `[ -x "$lmtp" ] || { echo "${NO_LMTP} no $lmtp"; exit 0; }`,
    `if protocols=$(doveconf -c ${shellQuote(p.main)} -h protocols 2>/dev/null); then`,
    `  printf '%s\\n' $protocols | grep -qx lmtp || { echo "${NO_LMTP} protocols = $protocols"; exit 0; }`,
    "fi",
    "echo ok",
  ].join("\n");
}

/** Why a server whose presence script printed `found` is refused; undefined when it is fine. */
export function dovecotRefusal(found: string, configDir: string): string | undefined {
  const missing = found.trim();
  if (missing === "ok") return undefined;
  if (missing.startsWith(NO_PGSQL_DRIVER)) {
    const file = missing.slice(NO_PGSQL_DRIVER.length).trim();
    return (
      `the server's Dovecot has no pgsql driver (no ${file}): its auth process would die at ` +
      "every start with vmail's SQL passdb, and every login fail, system users' too. Install " +
      "dovecot-pgsql, or set vmail:dovecot to false"
    );
  }
  if (missing.startsWith(NO_LMTP)) {
    const found = missing.slice(NO_LMTP.length).trim();
    return (
      `the server's Dovecot does not serve LMTP (${found}): vmail delivers mail ` +
      "through it, so that quotas hold. Install dovecot-lmtpd (or add lmtp to protocols), or " +
      "set vmail:dovecot to false"
    );
  }
  return (
    `the server has ${missing} (vmail:dovecotConfigDir is ${configDir}): install Dovecot ` +
    "(dovecot-core, dovecot-pgsql, dovecot-imapd, dovecot-lmtpd) or set vmail:dovecot to false"
  );
}

/**
 * Dovecot's own check of its whole configuration (its message on stderr when it fails): run after
 * each of vmail's Dovecot files is written, which is put back when it fails (ServerFile's verify).
 */
export function dovecotCheckScript(configDir: string): string {
  return `doveconf -c ${shellQuote(dovecotPaths(configDir).main)} -n >/dev/null`;
}

/**
 * Checks the whole configuration with `doveconf -n` (its own message on failure), then reloads
 * Dovecot if it runs (its master.pid under base_dir names a live process). A master running for
 * that base_dir but started with another config file (`dovecot -c OTHER`, or no -c: Dovecot's
 * default /etc/dovecot/dovecot.conf) is refused: `doveadm reload` would reload that config, and
 * nothing of vmail's. The master's config comes from its command line in /proc; where that
 * cannot be read (no /proc), the reload goes on as before.
 */
export function dovecotReloadScript(configDir: string): string {
  const conf = shellQuote(dovecotPaths(configDir).main);
  return [
    dovecotCheckScript(configDir),
    `base=$(doveconf -c ${conf} -h base_dir)`,
    'pid=$(cat "$base/master.pid" 2>/dev/null || true)',
    'if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then',
    '  if [ -r "/proc/$pid/cmdline" ]; then',
    // Dovecot's getopt takes both `-c FILE` and `-cFILE`; the last one counts.
    String.raw`    running=$(tr '\0' '\n' <"/proc/$pid/cmdline" | awk '`,
    String.raw`      p { f = $0; p = 0; next } $0 == "-c" { p = 1; next } /^-c./ { f = substr($0, 3) }`,
    String.raw`      END { print f }')`,
    '    running="${running:-/etc/dovecot/dovecot.conf}"',
    `    ours=$(readlink -f ${conf} || printf %s ${conf})`,
    '    theirs=$(readlink -f "$running" || printf %s "$running")',
    '    if [ "$ours" != "$theirs" ]; then',
    `      echo "the Dovecot running for base_dir $base (master pid $pid) was started with $theirs, \
not with vmail's $ours: a reload would reload $theirs and load nothing of vmail's files. Set \
vmail:dovecotConfigDir to the running instance's directory ($(dirname "$theirs"))" >&2`,
    "      exit 1",
    "    fi",
    "  fi",
    `  doveadm -c ${conf} reload`,
    "  echo reloaded",
    "fi",
  ].join("\n");
}
