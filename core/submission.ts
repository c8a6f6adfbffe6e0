// Mail users send mail: Postfix's submission service (master.cf), STARTTLS before AUTH, SASL
// through Dovecot's auth socket in Postfix's queue directory, relaying for logged-in users only,
// and who may send as whom from the mail database (the senders map). Pure: the settings, the
// master.cf entry and the scripts that keep it, as text.

import { absolutePathRule } from "./rules";
import type { Reader } from "./configReader";
import { shellQuote } from "./scripts";

export interface SubmissionSettings {
  enabled: boolean;
  /** master.cf's service name: `submission` (port 587 on every address) or `[host:]port`. */
  listen: string;
  /** The TLS certificate (chain) and key on the server, PEM. */
  certFile: string;
  keyFile: string;
}

/** Dovecot's SASL listener for Postfix, relative to Postfix's queue directory. */
export const SASL_SOCKET = "private/vmail-auth";

const LISTEN = /^(submission|(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}:|[a-z0-9.-]+:)?[0-9]{1,5})$/;

export function listenRule(listen: string): string | undefined {
  if (!LISTEN.test(listen)) return "`submission` (port 587), a port, or host:port (127.0.0.1:1587)";
  const port = Number(listen.split(":").pop());
  if (listen !== "submission" && (port < 1 || port > 65535)) return "a port is 1 to 65535";
  return undefined;
}

/** vmail:submission and its keys; refused without Dovecot, which does the SASL. */
export function readSubmissionSettings(r: Reader, dovecot: boolean): SubmissionSettings {
  const enabled = r.boolean("submission", false);
  const listen = r.string("submissionListen", "submission", listenRule);
  const certFile = r.optionalString("tlsCertFile", absolutePathRule) ?? "";
  const keyFile = r.optionalString("tlsKeyFile", absolutePathRule) ?? "";
  if (enabled) {
    if (!dovecot)
      r.fail("submission", "logins go through Dovecot's SASL, and vmail:dovecot is false");
    if (!certFile)
      r.fail("tlsCertFile", "required with vmail:submission: AUTH only after STARTTLS");
    if (!keyFile) r.fail("tlsKeyFile", "required with vmail:submission: AUTH only after STARTTLS");
  }
  return { enabled, listen, certFile, keyFile };
}

/**
 * The submission service's own settings (master.cf -o): TLS required, AUTH only over it, SASL
 * through Dovecot, relaying for logged-in users only, and each login sending only as the
 * addresses the senders map gives it.
 */
export function submissionOptions(s: SubmissionSettings, sendersMap: string): [string, string][] {
  return [
    ["syslog_name", "postfix/submission"],
    ["smtpd_tls_security_level", "encrypt"],
    ["smtpd_tls_cert_file", s.certFile],
    ["smtpd_tls_key_file", s.keyFile],
    ["smtpd_tls_auth_only", "yes"],
    ["smtpd_sasl_auth_enable", "yes"],
    ["smtpd_sasl_type", "dovecot"],
    ["smtpd_sasl_path", SASL_SOCKET],
    ["smtpd_sender_login_maps", sendersMap],
    ["smtpd_sender_restrictions", "reject_sender_login_mismatch"],
    ["smtpd_relay_restrictions", "permit_sasl_authenticated,reject"],
    ["smtpd_recipient_restrictions", "permit_sasl_authenticated,reject"],
    ["milter_macro_daemon_name", "ORIGINATING"],
  ];
}

export interface MasterServiceInput {
  configDir: string;
  /** The service name, as in master.cf's first column. */
  service: string;
  options: [string, string][];
}

/** Marks the entry as vmail's: an entry without it was someone else's, and is left alone. */
const OURS = `smtpd_sasl_path=${SASL_SOCKET}`;

const key = (i: MasterServiceInput) => shellQuote(`${i.service}/inet`);
const conf = (i: MasterServiceInput) => `-c ${shellQuote(i.configDir)}`;

/** Prints the entry as Postfix has it (`postconf -M`), nothing when there is none. */
export function masterReadScript(i: MasterServiceInput): string {
  return `postconf ${conf(i)} -M ${key(i)} 2>/dev/null`;
}

/** Prints `foreign` when master.cf has an entry for the service that vmail did not write. */
export function masterForeignScript(i: MasterServiceInput): string {
  return `${readEntry(i)}; if ${isForeign}; then echo foreign; else echo ok; fi`;
}

/** Reads the entry into $e (empty when there is none). */
const readEntry = (i: MasterServiceInput) => `e=$(${masterReadScript(i)})`;
/** Whether $e is an entry vmail did not write. */
const isForeign = `[ -n "$e" ] && ! printf '%s\\n' "$e" | grep -qF -- ${shellQuote(OURS)}`;

/** Why the entry found (masterForeignScript printed `found`) is not vmail's to take. */
export function masterForeignRefusal(found: string, i: MasterServiceInput): string | undefined {
  if (found.trim() !== "foreign") return undefined;
  return (
    `master.cf in ${i.configDir} has a ${i.service}/inet service vmail did not write: vmail ` +
    `leaves it as it is. Remove it (postconf -c ${i.configDir} -MX ${i.service}/inet), or set ` +
    "vmail:submissionListen to another service (127.0.0.1:1587, say)"
  );
}

/**
 * Checks `postfix check` on master.cf as changed by `change`; a failed check puts master.cf back
 * byte for byte (and fails with Postfix's message); then reloads Postfix if it runs.
 */
function changeMasterCf(i: MasterServiceInput, change: string[]): string {
  const c = conf(i);
  const master = shellQuote(`${i.configDir}/master.cf`);
  return [
    `file=$(readlink -f -- ${master}) || file=${master}`,
    `kept=$(mktemp "$(dirname "$file")/.vmail-master.cf.XXXXXX")`,
    `cp -p "$file" "$kept"`,
    `trap 'mv -f "$kept" "$file"; echo "vmail: master.cf in ${i.configDir.replace(/'/g, "")} is put back as it was" >&2' EXIT`,
    `trap 'exit 129' HUP INT TERM`,
    ...change,
    `postfix ${c} check >&2`,
    `trap - EXIT HUP INT TERM`,
    `rm -f "$kept"`,
    `if postfix ${c} status >/dev/null 2>&1; then postfix ${c} reload >&2; fi`,
  ].join("\n");
}

/**
 * Writes vmail's entry (chrooted as the server's smtp service is, as Debian's master.cf has it),
 * then prints it as Postfix has it. Refuses an entry of the same name vmail did not write.
 */
export function masterApplyScript(i: MasterServiceInput): string {
  const options = i.options.map(([k, v]) => ` -o ${k}=${v}`).join("");
  const entry = `${i.service} inet n - $chroot - - smtpd${options}`;
  return [
    readEntry(i),
    `if ${isForeign}; then`,
    `  echo ${shellQuote(`vmail: ${masterForeignRefusal("foreign", i) ?? ""}`)} >&2; exit 1`,
    "fi",
    changeMasterCf(i, [
      `chroot=$(postconf ${conf(i)} -F -h smtp/inet/chroot 2>/dev/null) || chroot=""`,
      `[ -n "$chroot" ] || chroot=-`,
      `postconf ${conf(i)} -M ${key(i)}="${entry.replace(/"/g, '\\"')}"`,
    ]),
    masterReadScript(i),
  ].join("\n");
}

/** Removes vmail's entry (only its own), checks and reloads. */
export function masterRemoveScript(i: MasterServiceInput): string {
  return [
    readEntry(i),
    `if [ -z "$e" ] || ${isForeign}; then exit 0; fi`,
    changeMasterCf(i, [`postconf ${conf(i)} -MX ${key(i)}`]),
  ].join("\n");
}

/** Prints `missing FILE` for a certificate or key the server cannot read, else `ok`. */
export function tlsFilesScript(s: Pick<SubmissionSettings, "certFile" | "keyFile">): string {
  return [
    ...[s.certFile, s.keyFile].map(
      (f) => `[ -r ${shellQuote(f)} ] || { echo ${shellQuote(`missing ${f}`)}; exit 0; }`,
    ),
    "echo ok",
  ].join("\n");
}
