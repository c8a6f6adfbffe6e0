// The accounts: the hosted domains, the suspended ones, the users and their passwords, and the
// check every user and alias entry goes through (its shape, address, domain, no duplicate).
// The shape of each entry is zod's job (accountsSchema.ts); the rules across entries are here.

import type { z } from "zod";
import { entryProblem, USER_FIELDS, userEntrySchema, type UserEntry } from "./accountsSchema";
import { isRecord, type AccountsFile, type Entry, type Reader } from "./configReader";
import { storedHashProblem, type HashScheme } from "./passwords";
import { quotaRule, userQuota } from "./quotas";
import { addressRule, domainRule, maildirRule, normalizeAddress, textRule } from "./rules";

export type PasswordSource =
  | { kind: "generated"; version: number }
  | { kind: "hash"; hash: string }
  | { kind: "clear"; clear: string };

export interface UserSpec {
  address: string;
  domain: string;
  realname: string | null;
  maildir: string;
  scheme: HashScheme;
  password: PasswordSource;
  /** May log in (Dovecot); false keeps mail arriving but refuses every login. */
  login: boolean;
  /** Accepts mail; false makes Postfix refuse mail to the address at RCPT time. */
  receive: boolean;
  /** The mailbox's size limit in bytes (its own, else its domain's default); null for none. */
  quota: number | null;
  /** Where its mail is forwarded (an alias of its own address says so; see aliases.ts). */
  forwardTo: string[];
  /** With forwardTo: whether the mailbox keeps a copy. */
  keepCopy: boolean;
  /** The address it is renamed from: its resource was known by that name (see MailAccounts). */
  formerly?: string;
  /** Senders it may use on the submission port besides its own and its aliases' (core/submission.ts). */
  sendAs: string[];
}

/** What the users' entries are read against, besides the declared domains. */
export interface UserDefaults {
  scheme: HashScheme;
  /** vmail:domainQuotas, in bytes. */
  domainQuotas: ReadonlyMap<string, number>;
  /** Dovecot enforces quotas: without it (vmail:dovecot false) a quota is refused. */
  dovecot: boolean;
  /** vmail:submission: without it, sendAs is refused. */
  submission: boolean;
}

export function readDomains(r: Reader, file?: AccountsFile): string[] {
  const seen = new Map<string, string>();
  const domains: string[] = [];
  for (const { label, value } of r.entries("domains", file)) {
    if (typeof value !== "string") {
      r.failAt(label, "a domain is a string");
      continue;
    }
    const domain = normalizeAddress(value).replace(/\.$/, "");
    const error = domainRule(domain);
    const first = seen.get(domain);
    if (error) r.failAt(label, `${JSON.stringify(value)}: ${error}`);
    else if (first) r.failAt(label, `${JSON.stringify(value)}: duplicate of ${first} (${domain})`);
    else {
      seen.set(domain, label);
      domains.push(domain);
    }
  }
  return domains;
}

/** vmail:suspendedDomains: each a declared domain, named as it is there. */
export function readSuspendedDomains(r: Reader, domains: string[]): string[] {
  const suspended: string[] = [];
  r.list("suspendedDomains").forEach((entry, i) => {
    const where = `suspendedDomains[${i}]`;
    if (typeof entry !== "string") return r.fail(where, "a domain (string)");
    const domain = normalizeAddress(entry).replace(/\.$/, "");
    if (!domains.includes(domain)) return r.fail(where, `${entry} is not in vmail:domains`);
    if (suspended.includes(domain)) return r.fail(where, `${entry} is there twice`);
    suspended.push(domain);
  });
  return suspended;
}

/** What tells a user entry from an alias entry, for checkEntry. */
export interface EntryKind<T extends { address: string }> {
  /** The message for an entry that is not an object with an address. */
  notAnObject: string;
  schema: z.ZodType<T>;
  fields: readonly string[];
  /** `@domain` (a catch-all) is an address here. */
  catchAll: boolean;
}

const USER_ENTRY: EntryKind<UserEntry> = {
  notAnObject: "a user is an object with at least an `address`",
  schema: userEntrySchema,
  fields: USER_FIELDS,
  catchAll: false,
};
/**
 * What users and aliases have in common: the entry's shape (zod), its address, its domain among
 * the declared ones, and no other entry of its kind with the same address. Undefined when a
 * problem was recorded; else the entry, its address and the `fail` that names it.
 */
export function checkEntry<T extends { address: string }>(
  r: Reader,
  where: string,
  entry: unknown,
  kind: EntryKind<T>,
  domains: Set<string>,
  seen: Map<string, string>,
) {
  if (!isRecord(entry) || typeof entry.address !== "string") {
    r.failAt(where, kind.notAnObject);
    return undefined;
  }
  const label = `${where} (${entry.address})`;
  const fail = (rule: string) => r.failAt(label, rule);
  const shape = kind.schema.safeParse(entry);
  if (!shape.success) return fail(entryProblem(shape.error, kind.fields));
  const address = normalizeAddress(shape.data.address);
  const { parsed, error } = addressRule(address, kind.catchAll);
  if (!parsed) return fail(error ?? "invalid address");
  if (!domains.has(parsed.domain)) {
    return fail(`its domain ${parsed.domain} is not in vmail:domains`);
  }
  const previous = seen.get(address);
  if (previous) return fail(`duplicate of ${previous} (addresses compare in lower case)`);
  seen.set(address, label);
  return { data: shape.data, address, parsed, fail };
}

export function readUsers(
  r: Reader,
  domains: Set<string>,
  defaults: UserDefaults,
  entries: Entry[],
): UserSpec[] {
  const seen = new Map<string, string>();
  const maildirs = new Map<string, string>();
  const users: UserSpec[] = [];
  entries.forEach(({ label: where, value: entry, fromFile }) => {
    const checked = checkEntry(r, where, entry, USER_ENTRY, domains, seen);
    if (!checked) return;
    const { data: user, address, parsed, fail } = checked;

    const realname = user.realname ?? null;
    const textError = realname === null ? undefined : textRule(realname);
    if (textError) return fail(`realname: ${textError}`);

    const maildir = user.maildir ?? `${parsed.domain}/${parsed.local}/`;
    const maildirError = maildirRule(maildir);
    if (maildirError) return fail(`maildir ${JSON.stringify(maildir)}: ${maildirError}`);
    const sharer = maildirs.get(maildir);
    if (sharer) return fail(`maildir ${maildir} is already the maildir of ${sharer}`);
    maildirs.set(maildir, address);

    if (user.quota !== undefined) {
      const quotaError = quotaRule(user.quota);
      if (quotaError) return fail(`quota ${JSON.stringify(user.quota)}: ${quotaError}`);
      if (!defaults.dovecot) {
        return fail("quota: quotas are enforced by Dovecot, and vmail:dovecot is false");
      }
    }
    const quota = userQuota(user.quota, defaults.domainQuotas.get(parsed.domain));

    const list = (field: "forwardTo" | "sendAs", own: string) =>
      readAddressList(
        user[field],
        field,
        { catchAll: field === "sendAs", self: address, own },
        fail,
      );
    const forwardTo = list("forwardTo", "the user's own address (keepCopy keeps a copy)");
    const sendAs = list("sendAs", "the user's own address, which they may use anyway");
    if (!forwardTo || !sendAs) return;
    if (sendAs.length > 0 && !defaults.submission) {
      return fail("sendAs is for the submission port, and vmail:submission is false");
    }

    let formerly: string | undefined;
    if (user.formerly !== undefined) {
      formerly = normalizeAddress(user.formerly);
      const f = addressRule(formerly, false);
      if (!f.parsed) return fail(`formerly ${JSON.stringify(user.formerly)}: ${f.error}`);
      if (formerly === address) return fail("formerly is the user's address itself");
    }
    if (user.keepCopy !== undefined && forwardTo.length === 0) {
      return fail("keepCopy is about forwarded mail, and the user has no forwardTo");
    }

    const scheme = user.scheme ?? defaults.scheme;
    const password = readPasswordSource(r, user, fail, fromFile);
    if (!password) return;
    const [login, receive] = [user.login ?? true, user.receive ?? true];
    users.push({
      address,
      domain: parsed.domain,
      realname,
      maildir,
      scheme,
      password,
      login,
      receive,
      quota,
      forwardTo,
      keepCopy: user.keepCopy ?? true,
      ...(formerly ? { formerly } : {}),
      sendAs,
    });
  });
  refuseRenamesThatClash(r, users);
  return users;
}

/** A rename from an address still in use, or two renames from the same one, is refused. */
function refuseRenamesThatClash(r: Reader, users: UserSpec[]): void {
  const current = new Set(users.map((u) => u.address));
  const from = new Map<string, string>();
  for (const u of users) {
    if (!u.formerly) continue;
    const fail = (rule: string) => r.fail("users", `${u.address}: formerly ${u.formerly}: ${rule}`);
    if (current.has(u.formerly)) fail("that address is another user's now");
    else if (from.has(u.formerly)) fail(`${from.get(u.formerly)} is renamed from it too`);
    from.set(u.formerly, u.address);
  }
}

/**
 * A user's field of addresses (one, or a list), normalized: each an address (or with `catchAll`
 * an @domain), not the user's own (`own` says why), none twice. Undefined once `fail` was called.
 */
function readAddressList(
  value: string | string[] | undefined,
  field: string,
  rule: { catchAll: boolean; self: string; own: string },
  fail: (rule: string) => void,
): string[] | undefined {
  const read: string[] = [];
  for (const raw of typeof value === "string" ? [value] : (value ?? [])) {
    const address = normalizeAddress(raw);
    const checked = addressRule(address, rule.catchAll);
    if (!checked.parsed) return void fail(`${field} ${JSON.stringify(raw)}: ${checked.error}`);
    if (address === rule.self) return void fail(`${field} names ${rule.own}`);
    if (read.includes(address)) return void fail(`${field} lists ${address} twice`);
    read.push(address);
  }
  return read;
}

function readPasswordSource(
  r: Reader,
  entry: UserEntry,
  fail: (rule: string) => void,
  fromFile: boolean,
): PasswordSource | undefined {
  const { password, passwordHash, passwordVersion } = entry;
  if (password !== undefined && passwordHash !== undefined) {
    fail("set either password or passwordHash, not both");
    return undefined;
  }
  if (passwordVersion !== undefined && (password !== undefined || passwordHash !== undefined)) {
    fail("passwordVersion rotates a generated password; this user's password comes from config");
    return undefined;
  }
  if (passwordHash !== undefined) {
    const error = storedHashProblem(passwordHash);
    if (error) {
      fail(`passwordHash: ${error}`);
      return undefined;
    }
    return { kind: "hash", hash: passwordHash };
  }
  if (password !== undefined) {
    if (fromFile) {
      fail(
        "a clear-text password cannot be kept in the accounts file, which is not encrypted: " +
          "use passwordHash, or let vmail generate the password",
      );
      return undefined;
    }
    if (!r.isSecret("users")) {
      fail(
        "a clear-text password must be stored encrypted: " +
          "pulumi config set --secret --path 'users[N].password' ...",
      );
      return undefined;
    }
    return { kind: "clear", clear: password };
  }
  return { kind: "generated", version: passwordVersion ?? 1 };
}

/** The addresses the entries name, valid or not (normalized). */
export function entryAddresses(entries: Entry[]): string[] {
  return entries.flatMap(({ value: e }) =>
    isRecord(e) && typeof e.address === "string" ? [normalizeAddress(e.address)] : [],
  );
}
