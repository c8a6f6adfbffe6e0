// Postfix's main.cf as vmail changes it, as shell scripts run on the server with postconf: the
// settings set (the operator's own values recorded first, put back on destroy), the refusal map
// kept first in smtpd_recipient_restrictions, proxy_read_maps kept right, `postfix check` with a
// byte-for-byte rollback, and the reload. Pure: the text of the scripts and the parsing of what
// they print.

import { sedLiteral, shellQuote } from "./scripts";

export interface PostconfInput {
  configDir: string;
  settings: Record<string, string>;
  /** Virtual mailbox domains: refused if Postfix also lists them in mydestination. */
  domains: string[];
  /** proxy: maps to add to proxy_read_maps when not covered already. */
  proxiedMaps: string[];
  /**
   * Restrictions vmail keeps first in smtpd_recipient_restrictions, ahead of the operator's own
   * (its refusal map: mail to a user or domain that does not receive is refused at RCPT time).
   * Absent in a state written before vmail had them.
   */
  recipientChecks?: string[];
  /**
   * The operator's own value of each setting vmail took over, recorded beside main.cf the first
   * time vmail set it and put back on destroy: `name = value` as `postconf -n` prints it, or
   * `#unset name` for a setting main.cf did not set.
   */
  backupFile: string;
}

/** What an apply must also clear up from an earlier apply of the same main.cf. */
export interface PostconfCleanup {
  /**
   * A record kept where vmail kept it before it lived beside main.cf (in the maps directory). It
   * was written once, of the settings of that time, with no line for an unset one.
   */
  legacyBackupFile?: string;
  /** proxy: maps vmail added to proxy_read_maps that are no longer wanted. */
  dropProxiedMaps?: string[];
  /** Entries vmail kept in smtpd_recipient_restrictions that are no longer wanted. */
  dropRecipientChecks?: string[];
}

/** The setting vmail's recipient checks go into. */
export const RECIPIENT_RESTRICTIONS = "smtpd_recipient_restrictions";

/**
 * Records the operator's value of each setting the backup does not know yet (so a setting vmail
 * sets for the first time, in a later version, is recorded too, and one recorded is never
 * recorded again with vmail's own value), then sets the settings with postconf, has `postfix
 * check` validate the result, and reloads Postfix if it runs. Refuses virtual domains that are
 * also in mydestination (Postfix would deliver them locally).
 *
 * Nothing is left half done: main.cf and the record are copied before anything changes, and if
 * any step up to the check fails (a setting `postfix check` refuses, say), both are put back
 * exactly as they were, so main.cf never holds what the Pulumi state says was not applied.
 */
export function postconfApplyScript(i: PostconfInput, cleanup: PostconfCleanup = {}): string {
  const c = `-c ${shellQuote(i.configDir)}`;
  const names = Object.keys(i.settings);
  const backup = shellQuote(i.backupFile);
  const recorded = (name: string) =>
    `grep -qx -e ${shellQuote(`${name} = .*`)} -e ${shellQuote(`#unset ${name}`)}`;
  const lines = [
    // Postfix compares domains without regard to case: so does this check.
    `mydest=" $(postconf ${c} -x -h mydestination | tr ',' ' ' | tr -s ' ' | tr 'A-Z' 'a-z') "`,
    ...i.domains.map(
      (d) =>
        `case "$mydest" in *${shellQuote(` ${d} `)}*) echo ${shellQuote(`vmail: ${d} is in mydestination; a virtual mailbox domain must not be`)} >&2; exit 3;; esac`,
    ),
  ];
  // Asked before main.cf changes: a setting Postfix refuses makes `postfix status` fail too.
  lines.push(
    `if postfix ${c} status >/dev/null 2>&1; then running=yes; else running=no; fi`,
    ...keepMainCfLines(i),
  );
  const legacy = cleanup.legacyBackupFile ? shellQuote(cleanup.legacyBackupFile) : undefined;
  if (legacy) {
    // The old record covered every setting of its time: one it has no line for was unset. It is
    // removed only once the new one has been kept (after the check), never lost to a rollback.
    lines.push(
      `migrated=no`,
      `if [ ! -e ${backup} ] && [ -e ${legacy} ]; then { cat ${legacy}; ${names
        .map((n) => `${recorded(n)} ${legacy} || echo ${shellQuote(`#unset ${n}`)}`)
        .join("; ")}; } > ${backup}.tmp; mv ${backup}.tmp ${backup}; migrated=yes; fi`,
    );
  }
  const checks = i.recipientChecks ?? [];
  const toRecord = [...names, ...(checks.length > 0 ? [RECIPIENT_RESTRICTIONS] : [])];
  lines.push(
    `touch ${backup}`,
    `{ cat ${backup}; ${toRecord
      .map(
        (n) =>
          `${recorded(n)} ${backup} || postconf ${c} -n ${shellQuote(n)} | grep . || echo ${shellQuote(`#unset ${n}`)}`,
      )
      .join("; ")}; } > ${backup}.tmp`,
    `mv ${backup}.tmp ${backup}`,
    `postconf ${c} -e ${Object.entries(i.settings)
      .map(([k, v]) => shellQuote(`${k}=${v}`))
      .join(" ")}`,
  );
  if (cleanup.dropProxiedMaps?.length)
    lines.push(...dropFromProxyReadMaps(c, cleanup.dropProxiedMaps));
  const staleChecks = cleanup.dropRecipientChecks ?? [];
  if (checks.length > 0 || staleChecks.length > 0) {
    lines.push(...recipientChecksLines(c, checks, [...checks, ...staleChecks]));
  }
  if (i.proxiedMaps.length > 0) {
    lines.push(
      `current=$(postconf ${c} -h proxy_read_maps)`,
      `expanded=" $(postconf ${c} -x -h proxy_read_maps | tr ',' ' ' | tr -s ' ') "`,
      `add=""`,
      ...i.proxiedMaps.map(
        (m) =>
          `case "$expanded" in *${shellQuote(` ${m} `)}*) ;; *) add="$add "${shellQuote(m)};; esac`,
      ),
      `if [ -n "$add" ]; then postconf ${c} -e "proxy_read_maps=$current$add"; fi`,
    );
  }
  lines.push(...checkOrRollBackLines(i.configDir));
  if (legacy) lines.push(`if [ "$migrated" = yes ]; then rm -f ${legacy}; fi`);
  lines.push(`if [ "$running" = yes ]; then postfix ${c} reload; fi`);
  return lines.join("\n");
}

/**
 * Keeps copies of main.cf (the file itself, through a symlink) and of vmail's record beside it,
 * and sets an EXIT trap that puts both back exactly (bytes, mode, owner, times: cp -p, then an
 * atomic mv in the same directory) if the script ends before checkOrRollBackLines clears it.
 */
function keepMainCfLines(i: PostconfInput): string[] {
  const mainCf = shellQuote(`${i.configDir}/main.cf`);
  const backup = shellQuote(i.backupFile);
  const restored = shellQuote(
    `vmail: main.cf in ${i.configDir} and vmail's record beside it are put back exactly as they were before this run`,
  );
  const notRestored = shellQuote(
    `vmail: could not put main.cf in ${i.configDir} back; the copy from before this run is`,
  );
  return [
    `conf=$(readlink -f -- ${mainCf}) || conf=${mainCf}`,
    `kept_conf=$(mktemp "$(dirname "$conf")/.vmail-main.cf.XXXXXX")`,
    `cp -p "$conf" "$kept_conf"`,
    `kept_record=""`,
    `if [ -e ${backup} ]; then kept_record=$(mktemp "$(dirname ${backup})/.vmail-record.XXXXXX"); cp -p ${backup} "$kept_record"; fi`,
    // In a condition -e is off: each step's failure is seen by the && chain.
    `put_back() { mv -f "$kept_conf" "$conf" && rm -f ${backup}.tmp && if [ -n "$kept_record" ]; then mv -f "$kept_record" ${backup}; else rm -f ${backup}; fi; }`,
    `on_exit() { if put_back; then echo ${restored} >&2; else echo ${notRestored} "$kept_conf" >&2; fi; }`,
    `trap on_exit EXIT`,
    // A dropped ssh session or a kill ends the script through the trap too.
    `trap 'exit 129' HUP INT TERM`,
  ];
}

/**
 * Runs `postfix check` on the changed main.cf, whether or not Postfix runs (a stopped Postfix
 * would refuse to start on it), and fails with Postfix's own message if it fails: main.cf is then
 * put back by keepMainCfLines' trap. Postfix writes its messages to stderr only when that is a
 * terminal (else only to the mail log), so the check runs under script(1)'s pseudo-terminal where
 * script is there. A passed check drops the copies and clears the trap.
 */
function checkOrRollBackLines(configDir: string): string[] {
  const check = `postfix -c ${shellQuote(configDir)} check`;
  const refused = shellQuote(
    `vmail: postfix check failed on main.cf in ${configDir} with vmail's settings`,
  );
  return [
    `if command -v script >/dev/null 2>&1 && script -qec true /dev/null </dev/null >/dev/null 2>&1; then`,
    `  checked=$(SHELL=/bin/sh script -qec ${shellQuote(check)} /dev/null </dev/null 2>&1) && passed=yes || passed=no`,
    `else`,
    `  checked=$(${check} 2>&1) && passed=yes || passed=no`,
    `fi`,
    `if [ -n "$checked" ]; then printf '%s\\n' "$checked" | tr -d '\\r' >&2; fi`,
    `if [ "$passed" != yes ]; then echo ${refused} >&2; exit 3; fi`,
    `trap - EXIT HUP INT TERM`,
    `rm -f "$kept_conf" "$kept_record"`,
  ];
}

/**
 * Sets smtpd_recipient_restrictions to `first`, then the entries it has now but those in `drop`
 * (the operator's own, in their order). Entries are compared whole, as vmail writes them.
 */
function recipientChecksLines(c: string, first: string[], drop: string[]): string[] {
  const without = drop.map((e) => `-e ${shellQuote(e)}`).join(" ");
  const head = first.join(", ");
  return [
    `rest=$(postconf ${c} -h ${RECIPIENT_RESTRICTIONS} | tr ',' '\\n' | sed 's/^[[:space:]]*//; s/[[:space:]]*$//' | grep -v -x -F ${without} | grep . | paste -sd, - | sed 's/,/, /g') || rest=""`,
    head
      ? `postconf ${c} -e ${shellQuote(`${RECIPIENT_RESTRICTIONS}=${head}`)}"\${rest:+, $rest}"`
      : `if [ -n "$rest" ]; then postconf ${c} -e "${RECIPIENT_RESTRICTIONS}=$rest"; else postconf ${c} -X ${RECIPIENT_RESTRICTIONS}; fi`,
  ];
}

/** Whether each of vmail's recipient checks is in smtpd_recipient_restrictions as Postfix has it. */
export function recipientChecksPresent(value: string, checks: string[]): string[] {
  const entries = value.split(",").map((e) => e.trim());
  return checks.filter((check) => entries.includes(check));
}

/** Drops vmail's own entries from proxy_read_maps and keeps the rest as it was. */
function dropFromProxyReadMaps(c: string, maps: string[]): string[] {
  // Whole entries only: the map's text is escaped for sed and must end at a separator.
  const sedArgs = maps
    .map((m) => `-e ${shellQuote(`s#[ ,]*${sedLiteral(m)}\\([ ,]\\|$\\)#\\1#g`)}`)
    .join(" ");
  // Written only when it changes: a default value is not made an explicit one.
  return [
    `current=$(postconf ${c} -h proxy_read_maps)`,
    `kept=$(printf '%s\\n' "$current" | sed ${sedArgs})`,
    `[ "$kept" = "$current" ] || postconf ${c} -e "proxy_read_maps=$kept"`,
  ];
}

/**
 * Removes vmail's settings and puts back the operator's values from the backup (or from a legacy
 * one, for a state that still names it), then reloads Postfix if it runs.
 */
export function postconfRemoveScript(i: PostconfInput, cleanup: PostconfCleanup = {}): string {
  const c = `-c ${shellQuote(i.configDir)}`;
  const records = [i.backupFile, ...(cleanup.legacyBackupFile ? [cleanup.legacyBackupFile] : [])]
    .map(shellQuote)
    .join(" ");
  const lines = [`postconf ${c} -X ${Object.keys(i.settings).map(shellQuote).join(" ")}`];
  if (i.proxiedMaps.length > 0) lines.push(...dropFromProxyReadMaps(c, i.proxiedMaps));
  // The record puts the operator's value back; without one, vmail's entries go at least.
  const checks = i.recipientChecks ?? [];
  if (checks.length > 0) lines.push(...recipientChecksLines(c, [], checks));
  lines.push(
    `for record in ${records}; do [ -e "$record" ] || continue`,
    `  while IFS= read -r line; do case "$line" in`,
    `    "#unset "*) postconf ${c} -X "\${line#?unset }";;`,
    `    ?*) postconf ${c} -e "$line";;`,
    `  esac; done < "$record"; break`,
    `done`,
    `rm -f ${records}`,
    reloadPostfixLine(i.configDir),
  );
  return lines.join("\n");
}

/** Prints mydestination as Postfix expands it. */
export function mydestinationScript(configDir: string): string {
  return `postconf -c ${shellQuote(configDir)} -x -h mydestination`;
}

/** The virtual domains Postfix would deliver locally: those in mydestination, in any case. */
export function domainsInMydestination(expanded: string, domains: string[]): string[] {
  const local = new Set(
    expanded
      .toLowerCase()
      .split(/[\s,]+/)
      .filter(Boolean),
  );
  return domains.filter((d) => local.has(d.toLowerCase()));
}

/** Prints `name = value` for each setting, as Postfix resolves it (its default when unset). */
export function postconfReadScript(configDir: string, names: string[]): string {
  return `postconf -c ${shellQuote(configDir)} ${names.map(shellQuote).join(" ")}`;
}

/** Reads what postconfReadScript printed; a setting it did not print reads as "". */
export function parsePostconfValues(stdout: string, names: string[]): Record<string, string> {
  const printed = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const at = line.indexOf(" =");
    if (at > 0) printed.set(line.slice(0, at), line.slice(at + 2).replace(/^ /, ""));
  }
  return Object.fromEntries(names.map((n) => [n, printed.get(n) ?? ""]));
}

/**
 * Reloads Postfix when it runs, after `postfix check` has passed. Either one's failure fails the
 * script, so a bad setting never passes as a success. (The apply script checks, and rolls back,
 * on its own: see checkOrRollBackLines.)
 */
function reloadPostfixLine(configDir: string): string {
  const c = `-c ${shellQuote(configDir)}`;
  return `if postfix ${c} status >/dev/null 2>&1; then postfix ${c} check; postfix ${c} reload; fi`;
}
