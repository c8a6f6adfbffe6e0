// The shell scripts vmail runs on the mail server, rendered from validated values. Pure.
// Every value spliced in is shell-quoted; secrets are never spliced in (they come on stdin).

export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `text` as a literal in a sed basic regular expression delimited by '#'. */
export function sedLiteral(text: string): string {
  return text.replace(/[\\.*[\]^$#/]/g, (c) => `\\${c}`);
}

// --- files ------------------------------------------------------------------------------------

export interface FileOwnership {
  mode: string; // octal, e.g. "0640"
  owner: string;
  group: string;
}

/**
 * Writes stdin to `path` atomically; the temp file is 0600 from birth, so no one reads it early.
 * A symlink at `path` is written through, as editSharedFileScript does: the file it points at
 * gets the content, mode and owner, and the link (the operator's choice of where the file lives)
 * stays a link.
 */
export function writeFileScript(path: string, own: FileOwnership | "keep"): string {
  const p = shellQuote(path);
  const perms =
    own === "keep"
      ? `if [ -e "$real" ]; then chown --reference="$real" "$tmp"; chmod --reference="$real" "$tmp"; else chmod 0644 "$tmp"; fi`
      : `chown ${shellQuote(`${own.owner}:${own.group}`)} "$tmp"; chmod ${shellQuote(own.mode)} "$tmp"`;
  return [
    // A path whose directory does not exist yet does not resolve: it is made as it is named.
    `real=$(readlink -f -- ${p}) || real=${p}`,
    `dir=$(dirname "$real")`,
    `mkdir -p "$dir"`,
    `tmp=$(mktemp "$dir/.vmail.XXXXXX")`,
    `trap 'rm -f "$tmp"' EXIT`,
    `cat > "$tmp"`,
    perms,
    `mv -f "$tmp" "$real"`,
    `trap - EXIT`,
  ].join("\n");
}

/**
 * Replaces a file vmail shares with others (pg_hba.conf, .forward) by stdin, in one step on the
 * server: through a symlink to the file it points at (the link stays), keeping the file's owner
 * and mode, and only if the file is still what vmail read (its sha256, or absent), so an edit
 * made meanwhile is never overwritten. With `mustExist`, a missing file is refused, not made.
 * With `rootsOnly` (root's .forward), the file and its directory must belong to root, symlinks
 * followed: never another user's file.
 */
export function editSharedFileScript(
  path: string,
  readSha256: string,
  opts: { mustExist: boolean; rootsOnly?: boolean },
): string {
  const p = shellQuote(path);
  const notRoots = shellQuote(
    `vmail: ${path} is not root's: it and its directory must belong to root (root's home)`,
  );
  return [
    `real=$(readlink -f -- ${p}) || real=${p}`,
    ...(opts.rootsOnly
      ? [
          `dir=$(dirname "$real")`,
          `if [ -e "$dir" ] && [ "$(stat -c %u "$dir")" != 0 ]; then echo ${notRoots} >&2; exit 3; fi`,
          `if [ -e "$real" ] && [ "$(stat -c %u "$real")" != 0 ]; then echo ${notRoots} >&2; exit 3; fi`,
        ]
      : []),
    `if [ ! -e "$real" ]; then`,
    opts.mustExist
      ? `  echo ${shellQuote(`vmail: ${path} does not exist; vmail edits it, it does not create it`)} >&2; exit 3`
      : `  mkdir -p "$(dirname "$real")"`,
    `  now=absent`,
    `else`,
    `  now=$(sha256sum < "$real" | cut -d' ' -f1)`,
    `fi`,
    `if [ "$now" != ${shellQuote(readSha256)} ]; then echo ${shellQuote(`vmail: ${path} changed while vmail was editing it; run again`)} >&2; exit 4; fi`,
    `tmp=$(mktemp "$(dirname "$real")/.vmail.XXXXXX")`,
    `trap 'rm -f "$tmp"' EXIT`,
    `cat > "$tmp"`,
    `if [ -e "$real" ]; then chown --reference="$real" "$tmp"; chmod --reference="$real" "$tmp"; else chmod 0644 "$tmp"; fi`,
    `mv -f "$tmp" "$real"`,
    `trap - EXIT`,
  ].join("\n");
}

/** Prints "absent", or "present MODE OWNER GROUP" then the file's content. */
export function readFileScript(path: string): string {
  const p = shellQuote(path);
  return [
    `if [ ! -e ${p} ]; then echo absent; exit 0; fi`,
    `printf 'present %s\\n' "$(stat -L -c '%a %U %G' ${p})"`,
    `cat ${p}`,
  ].join("\n");
}

/**
 * Removes the file at `path`. A symlink there is removed, not the file it points at: the operator
 * made the link and chose its target, which may be kept by something else (a config repository,
 * another Postfix instance); vmail takes back only what it named. The target keeps what vmail
 * last wrote through the link.
 */
export function deleteFileScript(path: string): string {
  return `rm -f ${shellQuote(path)}`;
}

export interface FileState {
  present: boolean;
  mode?: string;
  owner?: string;
  group?: string;
  content?: string;
}

/** Parses what readFileScript printed. */
export function parseFileState(stdout: string): FileState {
  if (stdout.trim() === "absent") return { present: false };
  const newline = stdout.indexOf("\n");
  const [, mode, owner, group] = stdout.slice(0, newline).split(" ");
  return {
    present: true,
    mode: mode.padStart(4, "0"),
    owner,
    group,
    content: stdout.slice(newline + 1),
  };
}

// --- the mail owner account -------------------------------------------------------------------

export interface OwnerAccount {
  user: string;
  group: string;
  uid?: number;
  gid?: number;
  mailboxBase: string;
}

/**
 * Creates the group, the user (no login shell) and the mailbox base if missing, checks a fixed
 * uid/gid against what exists, and prints "UID GID" as the server has them.
 *
 * The ids must be regular ones: from UID_MIN to UID_MAX (GID_MIN to GID_MAX) of the server's
 * /etc/login.defs, 1000 to 60000 where it has none (Debian's). Below are system accounts; above
 * are nobody (65534) and ranges kept for other uses (systemd's dynamic users, containers). A fixed
 * id outside is refused before anything is made; an existing account outside, after reading it.
 */
export function mailOwnerScript(a: OwnerAccount): string {
  const user = shellQuote(a.user);
  const group = shellQuote(a.group);
  const base = shellQuote(a.mailboxBase);
  const want = (kind: string, id: number | undefined, actual: string) =>
    id === undefined
      ? ""
      : `if [ "${actual}" != ${shellQuote(String(id))} ]; then echo ${shellQuote(`vmail: ${kind} exists with id`)} "${actual}," ${shellQuote(`config asks for ${id}`)} >&2; exit 3; fi`;
  const fixedInRange = (kind: "uid" | "gid", id: number | undefined) =>
    id === undefined
      ? ""
      : `if [ ${id} -lt "$${kind}_min" ] || [ ${id} -gt "$${kind}_max" ]; then echo ${shellQuote(`vmail: config asks for ${kind} ${id} for the mail owner, outside the regular ${kind}s`)} "$${kind}_min to $${kind}_max" ${shellQuote(`(/etc/login.defs); ids outside are system or reserved ones`)} >&2; exit 3; fi`;
  return [
    // The last value of a key, if it is a number; else Debian's default.
    `login_defs() { v=$(awk -v k="$1" '$1 == k { v = $2 } END { print v }' /etc/login.defs 2>/dev/null || true); case "$v" in ''|*[!0-9]*) echo "$2";; *) echo "$v";; esac; }`,
    `uid_min=$(login_defs UID_MIN 1000); uid_max=$(login_defs UID_MAX 60000)`,
    `gid_min=$(login_defs GID_MIN 1000); gid_max=$(login_defs GID_MAX 60000)`,
    fixedInRange("uid", a.uid),
    fixedInRange("gid", a.gid),
    `if ! getent group ${group} >/dev/null; then groupadd ${a.gid !== undefined ? `-g ${a.gid} ` : ""}${group}; fi`,
    `nologin=$(command -v nologin || echo /usr/sbin/nologin)`,
    `if ! getent passwd ${user} >/dev/null; then`,
    `  useradd -g ${group} ${a.uid !== undefined ? `-u ${a.uid} ` : ""}-d ${base} -M -s "$nologin" ${user}`,
    `fi`,
    `uid=$(id -u ${user})`,
    `gid=$(getent group ${group} | cut -d: -f3)`,
    want(`user ${a.user}`, a.uid, "$uid"),
    want(`group ${a.group}`, a.gid, "$gid"),
    // Never a system account or group (an existing one, say, made with useradd -r), nor nobody.
    `if [ "$uid" -lt "$uid_min" ] || [ "$uid" -gt "$uid_max" ] || [ "$gid" -lt "$gid_min" ] || [ "$gid" -gt "$gid_max" ]; then echo ${shellQuote(`vmail: ${a.user}:${a.group} is a system account`)} "(uid $uid, gid $gid; regular uids are $uid_min to $uid_max, gids $gid_min to $gid_max, as /etc/login.defs has them)" >&2; exit 3; fi`,
    `mkdir -p ${base}`,
    `chown ${shellQuote(`${a.user}:${a.group}`)} ${base}`,
    `chmod 0750 ${base}`,
    `echo "$uid $gid"`,
  ]
    .filter((line) => line !== "")
    .join("\n");
}

/** Reads "UID GID" printed by mailOwnerScript. */
export function parseUidGid(stdout: string): { uid: number; gid: number } {
  const match = /^(\d+) (\d+)\s*$/.exec(stdout.trim());
  if (!match) throw new Error(`vmail: unexpected answer from the mail owner script: ${stdout}`);
  return { uid: Number(match[1]), gid: Number(match[2]) };
}
