// Moving a user's maildir on the server when its path changes (a rename whose maildir is derived
// from the address, or a changed `maildir`), so no mail is stranded under the old path. The move
// is a rename in the mailbox base; mail delivered to the old path while the row still named it is
// swept into the new maildir after the row changed. Pure: the scripts, as text.

import { shellQuote } from "./scripts";

/** A maildir (relative, ending in '/') as an absolute path without the trailing slash. */
const under = (base: string, maildir: string) =>
  `${base.replace(/\/+$/, "")}/${maildir.replace(/\/+$/, "")}`;

/** What the preview probe prints when both maildirs exist: the move would overwrite mail. */
export const MAILDIR_CLASH = "both";

/** Prints `both` when the old and the new maildir both exist, else `ok`. */
export function maildirProbeScript(base: string, from: string, to: string): string {
  const [f, t] = [shellQuote(under(base, from)), shellQuote(under(base, to))];
  return `if [ -e ${f} ] && [ -e ${t} ]; then echo ${MAILDIR_CLASH}; else echo ok; fi`;
}

/** Why a move from `from` to `to` is refused (the probe printed `found`); undefined when fine. */
export function maildirClash(
  found: string,
  base: string,
  from: string,
  to: string,
): string | undefined {
  if (found.trim() !== MAILDIR_CLASH) return undefined;
  return (
    `its maildir would move from ${under(base, from)}/ to ${under(base, to)}/, which exists ` +
    "already: merge or remove one of them by hand (as the mail owner), then run up again"
  );
}

/**
 * Renames the old maildir to the new path (its parent made, owned as the maildir is). Nothing to
 * do when the old one is gone: never made (no mail yet) or moved by an earlier, killed run.
 * Refuses to overwrite an existing new maildir.
 */
export function maildirMoveScript(base: string, from: string, to: string): string {
  const [f, t] = [shellQuote(under(base, from)), shellQuote(under(base, to))];
  return [
    `[ -e ${f} ] || exit 0`,
    `if [ -e ${t} ]; then echo "vmail: "${t}" exists already; the maildir "${f}" was not moved" >&2; exit 1; fi`,
    `parent=$(dirname ${t})`,
    `if [ ! -d "$parent" ]; then mkdir -p "$parent"; chown "$(stat -c %u:%g ${f})" "$parent"; fi`,
    `mv ${f} ${t}`,
  ].join("\n");
}

/**
 * After the row names the new maildir: mail delivered meanwhile to the old path (it re-made the
 * old maildir) is moved into the new one, message by message (maildir names are unique), and the
 * old maildir is removed once no message is left in it.
 */
export function maildirSweepScript(base: string, from: string, to: string): string {
  const [f, t] = [shellQuote(under(base, from)), shellQuote(under(base, to))];
  return [
    `[ -d ${f} ] || exit 0`,
    `for d in new cur; do`,
    `  [ -d ${f}/"$d" ] || continue`,
    `  mkdir -p ${t}/"$d"; chown "$(stat -c %u:%g ${f}/"$d")" ${t}/"$d"`,
    `  find ${f}/"$d" -maxdepth 1 -type f -exec mv -n {} ${t}/"$d"/ \\;`,
    `done`,
    `if [ -z "$(find ${f} -type f \\( -path '*/new/*' -o -path '*/cur/*' -o -path '*/tmp/*' \\) | head -n 1)" ]; then rm -rf ${f}; fi`,
  ].join("\n");
}

/** Prints `holds` when the mailbox base `base` has anything in it, else `empty`. */
export function mailboxBaseHoldsScript(base: string): string {
  const b = shellQuote(base.replace(/\/+$/, "") || "/");
  return `if [ -d ${b} ] && [ -n "$(ls -A ${b})" ]; then echo holds; else echo empty; fi`;
}

/** Why moving the mailbox base from `from` to `to` is refused (the script printed `found`). */
export function mailboxBaseRefusal(found: string, from: string, to: string): string | undefined {
  if (found.trim() !== "holds") return undefined;
  return (
    `vmail:mailboxBase changed from ${from} to ${to}, and ${from} still holds maildirs: Postfix ` +
    `and Dovecot would look for every mailbox under ${to}, and the mail in ${from} would be ` +
    `stranded. Move them first (stop Postfix and Dovecot, then as root: mkdir -p ${to} && ` +
    `mv ${from}/* ${to}/, owners kept), then run up; or set vmail:mailboxBase back to ${from}`
  );
}
