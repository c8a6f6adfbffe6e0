// Stack config -> a validated, normalized MailSpec. Pure: no Pulumi calls, so it runs the same in
// the program, in the dynamic providers (from the config they are handed) and in unit tests.
// Every problem is collected and reported at once, each naming its entry and the rule it breaks.
// The shape of each user and alias is zod's job (accountsSchema.ts); the rules across entries
// (duplicates, domains, shared maildirs, targets, loops) are the plain functions here.

import {
  ALIAS_FIELDS,
  aliasEntrySchema,
  entryProblem,
  USER_FIELDS,
  userEntrySchema,
  type AliasEntry,
  type UserEntry,
} from "./accountsSchema";
import type { z } from "zod";
import { HASH_SCHEMES, storedHashProblem, type HashScheme } from "./passwords";
import {
  absolutePathRule,
  addressRule,
  domainRule,
  hostRule,
  identifierRule,
  mailboxBaseRule,
  rootForwardFileRule,
  maildirRule,
  normalizeAddress,
  ownerNameRule,
  portRule,
  textRule,
} from "./rules";

import { retiredTargetRule } from "./retiredTargets";
import { suspendUsers } from "./suspension";
import { dbIdentity, describeTarget, type ServerAccess } from "./target";

export const NAMESPACE = "vmail";

/** Defaults of the scalar keys. Pulumi.yaml declares the same values (a unit test holds them equal). */
export const DEFAULTS = {
  protect: true,
  serverMode: "local",
  sshHost: "",
  sshHostKey: "",
  sshPort: 22,
  sshUser: "root",
  mailUser: "mailreader",
  mailGroup: "mailreader",
  mailUid: 0,
  mailGid: 0,
  mailboxBase: "/home/mail",
  pgHost: "localhost",
  pgPort: 5432,
  pgServerPort: 0,
  pgSslMode: "disable",
  pgSslRootCert: "",
  pgAdminUser: "postgres",
  database: "mail",
  readerRole: "mailreader",
  ownerRole: "mailreader_admin",
  ownerLogin: false,
  adoptExistingRows: false,
  pgHbaFile: "/etc/postgresql/15/main/pg_hba.conf",
  pgHbaMethod: "scram-sha-256",
  readerPasswordVersion: 1,
  ownerPasswordVersion: 1,
  dovecot: true,
  dovecotConfigDir: "/etc/dovecot",
  dovecotRole: "maildovecot",
  dovecotPasswordVersion: 1,
  postfixConfigDir: "/etc/postfix",
  postfixMapsDir: "/etc/postfix/pgsql",
  postfixProxy: false,
  passwordScheme: "BLF-CRYPT",
  domains: [],
  rootForward: [],
  rootForwardFile: "/root/.forward",
  accountsFile: "",
  suspendedDomains: [],
  retiredTargets: [],
} as const;

export type { ServerAccess };

export interface DatabaseSettings {
  /** Where the program (and its providers) reach PostgreSQL as the admin role. */
  host: string;
  port: number;
  sslMode: string;
  /** The CA certificate file (PEM) that verify-ca and verify-full check the server against. */
  sslRootCert?: string;
  adminUser: string;
  name: string;
  readerRole: string;
  ownerRole: string;
  /** The owner role may log in (a password, a pg_hba line); vmail itself only SET ROLEs to it. */
  ownerLogin: boolean;
  /** A create may take over (overwrite) a row vmail did not write; by default it refuses. */
  adoptExistingRows: boolean;
  /** The port Postfix and Dovecot use on the mail server itself (loopback). */
  serverPort: number;
  hbaFile: string;
  hbaMethod: "scram-sha-256" | "md5";
  readerPasswordVersion: number;
  ownerPasswordVersion: number;
  /** Dovecot's role (it may read password hashes); undefined when vmail leaves Dovecot alone. */
  dovecotRole?: string;
  dovecotPasswordVersion: number;
}

export interface MailOwnerSpec {
  user: string;
  group: string;
  uid?: number;
  gid?: number;
  mailboxBase: string;
}

export interface PostfixSettings {
  configDir: string;
  mapsDir: string;
  proxy: boolean;
}

/** Dovecot's SQL passdb and userdb, when vmail points Dovecot at the database. */
export interface DovecotSettings {
  enabled: boolean;
  configDir: string;
  /** Dovecot's default_pass_scheme: the stack's passwordScheme. */
  scheme: HashScheme;
}

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
}

export interface AliasSpec {
  /** `local@domain`, or `@domain` for a catch-all. */
  address: string;
  domain: string;
  targets: string[];
  /** Added by the program: a mailbox's self-alias that shields it from its domain's catch-all. */
  automatic: boolean;
}

export interface MailSpec {
  protect: boolean;
  server: ServerAccess;
  owner: MailOwnerSpec;
  database: DatabaseSettings;
  postfix: PostfixSettings;
  dovecot: DovecotSettings;
  domains: string[];
  /** Domains whose users may not log in and whose mail is refused (a subset of domains). */
  suspendedDomains: string[];
  users: UserSpec[];
  aliases: AliasSpec[];
  rootForward: string[];
  rootForwardFile: string;
}

/** What the parser reads: raw config strings by key (without namespace), as Pulumi stores them. */
export interface RawConfig {
  get(key: string): string | undefined;
  /** Whether a key's value was set as a secret (`pulumi config set --secret`). */
  isSecret(key: string): boolean;
  /** Every key set in the namespace (without it), where the caller can list them. */
  keys?(): string[];
}

/**
 * The file `vmail:accountsFile` names, as read: large account lists live there instead of the
 * stack config (which Pulumi hands to every process in an environment variable).
 */
export interface AccountsFile {
  path: string;
  /** The parsed YAML/JSON document: `{ domains?, users?, aliases? }`. */
  data: unknown;
}

/** One entry of a list, from the stack config or the accounts file, with where it came from. */
interface Entry {
  label: string;
  value: unknown;
  fromFile: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `vmail: the stack config has ${problems.length} problem(s); nothing was changed:\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** Collects problems while reading; each names `vmail:<key>` and, for list entries, the entry. */
class Reader {
  readonly problems: string[] = [];
  constructor(private readonly raw: RawConfig) {}

  fail(key: string, rule: string): void {
    this.failAt(`${NAMESPACE}:${key}`, rule);
  }

  /** A problem at an entry whose label is already complete (`vmail:users[2] (x@y.z)`). */
  failAt(label: string, rule: string): void {
    this.problems.push(`${label}: ${rule}`);
  }

  string(key: string, fallback: string, rule?: (v: string) => string | undefined): string {
    const value = this.raw.get(key) ?? fallback;
    const error = rule?.(value);
    if (error) this.fail(key, `${JSON.stringify(value)}: ${error}`);
    return value;
  }

  optionalString(key: string, rule?: (v: string) => string | undefined): string | undefined {
    const value = this.raw.get(key);
    if (value === undefined || value === "") return undefined;
    const error = rule?.(value);
    if (error) this.fail(key, `${JSON.stringify(value)}: ${error}`);
    return value;
  }

  integer(key: string, fallback: number, rule?: (v: number) => string | undefined): number {
    const text = this.raw.get(key);
    const value = text === undefined || text === "" ? fallback : Number(text);
    if (!Number.isInteger(value)) {
      this.fail(key, `${JSON.stringify(text)}: must be a whole number`);
      return fallback;
    }
    const error = rule?.(value);
    if (error) this.fail(key, `${value}: ${error}`);
    return value;
  }

  /** An integer where 0 (Pulumi.yaml's default) or no value means "not set". */
  optionalInteger(key: string, rule: (v: number) => string | undefined): number | undefined {
    const text = this.raw.get(key);
    if (text === undefined || text === "" || text === "0") return undefined;
    return this.integer(key, 0, rule);
  }

  boolean(key: string, fallback: boolean): boolean {
    const text = this.raw.get(key);
    if (text === undefined || text === "") return fallback;
    if (text === "true" || text === "false") return text === "true";
    this.fail(key, `${JSON.stringify(text)}: must be true or false`);
    return fallback;
  }

  oneOf<T extends string>(key: string, fallback: T, choices: readonly T[]): T {
    const value = this.string(key, fallback);
    if (!(choices as readonly string[]).includes(value)) {
      this.fail(key, `${JSON.stringify(value)}: must be one of ${choices.join(", ")}`);
      return fallback;
    }
    return value as T;
  }

  /** A structured (list) key; Pulumi hands it over as JSON text. */
  list(key: string): unknown[] {
    const text = this.raw.get(key);
    if (text === undefined || text === "") return [];
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.fail(key, "must be a list");
      return [];
    }
    if (!Array.isArray(value)) {
      this.fail(key, "must be a list");
      return [];
    }
    return value;
  }

  isSecret(key: string): boolean {
    return this.raw.isSecret(key);
  }

  /** The entries of `section` from the stack config, then from the accounts file. */
  entries(section: "domains" | "users" | "aliases", file?: AccountsFile): Entry[] {
    const fromConfig = this.list(section).map((value, i) => ({
      label: `${NAMESPACE}:${section}[${i}]`,
      value,
      fromFile: false,
    }));
    if (!file) return fromConfig;
    const data: unknown = file.data ?? {};
    const list = isRecord(data) ? data[section] : undefined;
    if (!isRecord(data) || (list !== undefined && !Array.isArray(list))) {
      this.failAt(file.path, "must be a mapping with lists under domains, users and aliases");
      return fromConfig;
    }
    const fromFile = ((list ?? []) as unknown[]).map((value, i) => ({
      label: `${file.path}: ${section}[${i}]`,
      value,
      fromFile: true,
    }));
    return [...fromConfig, ...fromFile];
  }
}

/**
 * A fixed id for the mail owner: a regular one, in Debian's UID_MIN..UID_MAX (GID_MIN..GID_MAX) of
 * /etc/login.defs, never a system one nor one above (nobody's 65534, ids kept for other uses). The
 * server's own login.defs is checked again when the account is made (mailOwnerScript).
 */
const uidRule = (v: number) =>
  v >= 1000 && v <= 60000
    ? undefined
    : "the mail owner's id is a regular one, from 1000 to 60000 (UID_MIN to UID_MAX in Debian's /etc/login.defs; below are system accounts; above are nobody's 65534 and ids kept for other uses)";
const versionRule = (v: number) =>
  v >= 1 ? undefined : "a version counts from 1 up (raise it by one to rotate)";

export function readServerAccess(r: Reader): ServerAccess {
  const mode = r.oneOf("serverMode", DEFAULTS.serverMode, ["local", "ssh"] as const);
  if (mode === "local") return { kind: "local" };
  const host = r.optionalString("sshHost", hostRule);
  const hostKey = r.optionalString("sshHostKey", hostKeyRule);
  if (!host) r.fail("sshHost", "is required when serverMode is ssh");
  if (!hostKey) {
    r.fail("sshHostKey", "is required when serverMode is ssh (pin the server's host key)");
  }
  if (!r.isSecret("sshPrivateKey")) {
    r.fail(
      "sshPrivateKey",
      "is required when serverMode is ssh, set with `pulumi config set --secret`",
    );
  }
  return {
    kind: "ssh",
    host: host ?? "",
    port: r.integer("sshPort", DEFAULTS.sshPort, portRule),
    user: r.string("sshUser", DEFAULTS.sshUser, identifierRule),
    hostKey: hostKey ?? "",
  };
}

function hostKeyRule(key: string): string | undefined {
  return /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+$/.test(key)
    ? undefined
    : "a host key is '<type> <base64>' as in the server's /etc/ssh/ssh_host_*_key.pub";
}

export function readDatabaseSettings(r: Reader): DatabaseSettings {
  const port = r.integer("pgPort", DEFAULTS.pgPort, portRule);
  const settings: DatabaseSettings = {
    host: r.string("pgHost", DEFAULTS.pgHost, hostRule),
    port,
    sslMode: r.oneOf("pgSslMode", DEFAULTS.pgSslMode, [
      "disable",
      "require",
      "verify-ca",
      "verify-full",
    ] as const),
    sslRootCert: r.optionalString("pgSslRootCert", absolutePathRule),
    adminUser: r.string("pgAdminUser", DEFAULTS.pgAdminUser, identifierRule),
    name: r.string("database", DEFAULTS.database, identifierRule),
    readerRole: r.string("readerRole", DEFAULTS.readerRole, identifierRule),
    ownerRole: r.string("ownerRole", DEFAULTS.ownerRole, identifierRule),
    ownerLogin: r.boolean("ownerLogin", DEFAULTS.ownerLogin),
    adoptExistingRows: r.boolean("adoptExistingRows", DEFAULTS.adoptExistingRows),
    serverPort: r.optionalInteger("pgServerPort", portRule) ?? port,
    hbaFile: r.string("pgHbaFile", DEFAULTS.pgHbaFile, absolutePathRule),
    hbaMethod: r.oneOf("pgHbaMethod", DEFAULTS.pgHbaMethod, ["scram-sha-256", "md5"] as const),
    readerPasswordVersion: r.integer(
      "readerPasswordVersion",
      DEFAULTS.readerPasswordVersion,
      versionRule,
    ),
    ownerPasswordVersion: r.integer(
      "ownerPasswordVersion",
      DEFAULTS.ownerPasswordVersion,
      versionRule,
    ),
    dovecotRole: r.boolean("dovecot", DEFAULTS.dovecot)
      ? r.string("dovecotRole", DEFAULTS.dovecotRole, identifierRule)
      : undefined,
    dovecotPasswordVersion: r.integer(
      "dovecotPasswordVersion",
      DEFAULTS.dovecotPasswordVersion,
      versionRule,
    ),
  };
  if (settings.sslMode === "verify-ca" && !settings.sslRootCert) {
    r.fail(
      "pgSslRootCert",
      "is required with pgSslMode verify-ca: the CA to check the server against",
    );
  }
  if (settings.readerRole === settings.ownerRole) {
    r.fail("readerRole", "the reader and the owner must be two different roles");
  }
  if (settings.dovecotRole === settings.readerRole || settings.dovecotRole === settings.ownerRole) {
    r.fail("dovecotRole", "Dovecot's role must be a role of its own (not the reader or the owner)");
  }
  return settings;
}

/** Reads just what the dynamic providers need to reach the database and the server. */
export function parseConnectionSettings(raw: RawConfig): {
  database: DatabaseSettings;
  server: ServerAccess;
  retiredTargets: string[];
} {
  const r = new Reader(raw);
  const result = {
    database: readDatabaseSettings(r),
    server: readServerAccess(r),
    retiredTargets: readRetiredTargets(r),
  };
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return result;
}

export function parseConfig(raw: RawConfig, accounts?: AccountsFile): MailSpec {
  const r = new Reader(raw);
  const server = readServerAccess(r);
  const database = readDatabaseSettings(r);
  const owner: MailOwnerSpec = {
    user: r.string("mailUser", DEFAULTS.mailUser, ownerNameRule),
    group: r.string("mailGroup", DEFAULTS.mailGroup, ownerNameRule),
    uid: r.optionalInteger("mailUid", uidRule),
    gid: r.optionalInteger("mailGid", uidRule),
    mailboxBase: r.string("mailboxBase", DEFAULTS.mailboxBase, mailboxBaseRule),
  };
  const postfix: PostfixSettings = {
    configDir: r.string("postfixConfigDir", DEFAULTS.postfixConfigDir, absolutePathRule),
    mapsDir: r.string("postfixMapsDir", DEFAULTS.postfixMapsDir, absolutePathRule),
    proxy: r.boolean("postfixProxy", DEFAULTS.postfixProxy),
  };
  const scheme = r.oneOf<HashScheme>("passwordScheme", DEFAULTS.passwordScheme, HASH_SCHEMES);
  const dovecot: DovecotSettings = {
    enabled: database.dovecotRole !== undefined,
    configDir: r.string("dovecotConfigDir", DEFAULTS.dovecotConfigDir, absolutePathRule),
    scheme,
  };
  const domains = readDomains(r, accounts);
  const suspendedDomains = readSuspendedDomains(r, domains);
  const userEntries = r.entries("users", accounts);
  const users = suspendUsers(
    readUsers(r, new Set(domains), scheme, userEntries),
    new Set(suspendedDomains),
  );
  // A refused user is reported once: an alias pointing at it is not refused for that too.
  const mentioned = new Set([...users.map((u) => u.address), ...entryAddresses(userEntries)]);
  const aliases = readAliases(r, new Set(domains), mentioned, accounts);
  refuseUnknownKeys(r, raw);
  const rootForward = readRootForward(r);
  const rootForwardFile = r.string(
    "rootForwardFile",
    DEFAULTS.rootForwardFile,
    rootForwardFileRule,
  );
  const protect = r.boolean("protect", DEFAULTS.protect);
  refuseRetiringWhatIsInUse(r, readRetiredTargets(r), database, server);
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return {
    protect,
    server,
    owner,
    database,
    postfix,
    dovecot,
    domains,
    suspendedDomains,
    users,
    aliases: withCatchAllShields(aliases, users),
    rootForward,
    rootForwardFile,
  };
}

function readDomains(r: Reader, file?: AccountsFile): string[] {
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
function readSuspendedDomains(r: Reader, domains: string[]): string[] {
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
interface EntryKind<T extends { address: string }> {
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
const ALIAS_ENTRY: EntryKind<AliasEntry> = {
  notAnObject: "an alias is an object with `address` and `to`",
  schema: aliasEntrySchema,
  fields: ALIAS_FIELDS,
  catchAll: true,
};

/**
 * What users and aliases have in common: the entry's shape (zod), its address, its domain among
 * the declared ones, and no other entry of its kind with the same address. Undefined when a
 * problem was recorded; else the entry, its address and the `fail` that names it.
 */
function checkEntry<T extends { address: string }>(
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

function readUsers(
  r: Reader,
  domains: Set<string>,
  defaultScheme: HashScheme,
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

    const scheme = user.scheme ?? defaultScheme;
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
    });
  });
  return users;
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

function readAliases(
  r: Reader,
  domains: Set<string>,
  mailboxes: Set<string>,
  file?: AccountsFile,
): AliasSpec[] {
  const seen = new Map<string, string>();
  const aliases: AliasSpec[] = [];
  const entries = r.entries("aliases", file);
  // Addresses first, so targets can be checked against every alias whatever the order.
  const aliasAddresses = new Set(entryAddresses(entries));
  entries.forEach(({ label: where, value: entry }) => {
    const checked = checkEntry(r, where, entry, ALIAS_ENTRY, domains, seen);
    if (!checked) return;
    const { data: alias, address, parsed, fail } = checked;

    const to = alias.to;
    const targets: string[] = [];
    for (const rawTarget of typeof to === "string" ? [to] : to) {
      const target = normalizeAddress(rawTarget);
      const t = addressRule(target, false);
      if (!t.parsed) return fail(`target ${JSON.stringify(rawTarget)}: ${t.error}`);
      if (domains.has(t.parsed.domain) && !mailboxes.has(target) && !aliasAddresses.has(target)) {
        return fail(`target ${target} is in a hosted domain but is neither a user nor an alias`);
      }
      if (targets.includes(target)) return fail(`target ${target} is listed twice`);
      targets.push(target);
    }
    aliases.push({ address, domain: parsed.domain, targets, automatic: false });
  });
  const loop = findAliasLoop(aliases);
  if (loop) r.fail("aliases", `alias loop: ${loop.join(" -> ")} (Postfix would bounce this mail)`);
  return aliases;
}

/**
 * A cycle of aliases (a -> b -> a), which Postfix ends by bouncing. An alias to itself is not a
 * loop: it is how a mailbox opts out of its domain's catch-all.
 */
export function findAliasLoop(
  aliases: Pick<AliasSpec, "address" | "targets">[],
): string[] | undefined {
  const edges = new Map(aliases.map((a) => [a.address, a.targets.filter((t) => t !== a.address)]));
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === "done") return undefined;
    if (state.get(node) === "open") return [...path.slice(path.indexOf(node)), node];
    state.set(node, "open");
    path.push(node);
    for (const next of edges.get(node) ?? []) {
      const loop = visit(next);
      if (loop) return loop;
    }
    path.pop();
    state.set(node, "done");
    return undefined;
  };
  for (const node of edges.keys()) {
    const loop = visit(node);
    if (loop) return loop;
  }
  return undefined;
}

/**
 * Postfix consults virtual_alias_maps before the mailbox maps, so `@domain` would take the mail
 * of every mailbox of that domain. Each such mailbox gets a self-alias unless it has an alias.
 */
export function withCatchAllShields(aliases: AliasSpec[], users: UserSpec[]): AliasSpec[] {
  const catchAllDomains = new Set(
    aliases.filter((a) => a.address.startsWith("@")).map((a) => a.domain),
  );
  const explicit = new Set(aliases.map((a) => a.address));
  const shields = users
    .filter((u) => catchAllDomains.has(u.domain) && !explicit.has(u.address))
    .map((u) => ({ address: u.address, domain: u.domain, targets: [u.address], automatic: true }));
  return [...aliases, ...shields];
}

/** The databases and servers vmail no longer reaches (spec/retiredTargets.ts). */
export function readRetiredTargets(r: Reader): string[] {
  const retired: string[] = [];
  r.list("retiredTargets").forEach((entry, i) => {
    const where = `retiredTargets[${i}]`;
    if (typeof entry !== "string") return r.fail(where, "a target (string)");
    const problem = retiredTargetRule(entry);
    if (problem) return r.fail(where, `${JSON.stringify(entry)}: ${problem}`);
    retired.push(entry);
  });
  return retired;
}

/** A retired target is one the stack has moved away from, never the one it uses now. */
function refuseRetiringWhatIsInUse(
  r: Reader,
  retired: string[],
  database: DatabaseSettings,
  server: ServerAccess,
): void {
  for (const inUse of [dbIdentity(database), server]) {
    const at = retired.indexOf(describeTarget(inUse));
    if (at >= 0) {
      r.fail(
        `retiredTargets[${at}]`,
        `${retired[at]} is where the stack points now; only a database or server it moved away from can be retired`,
      );
    }
  }
}

function readRootForward(r: Reader): string[] {
  const targets: string[] = [];
  r.list("rootForward").forEach((entry, i) => {
    const where = `rootForward[${i}]`;
    if (typeof entry !== "string") return r.fail(where, "an address (string)");
    const address = normalizeAddress(entry);
    const { error } = addressRule(address, false);
    if (error) return r.fail(where, `${JSON.stringify(entry)}: ${error}`);
    targets.push(address);
  });
  return targets;
}

/** The addresses the entries name, valid or not (normalized). */
function entryAddresses(entries: Entry[]): string[] {
  return entries.flatMap(({ value: e }) =>
    isRecord(e) && typeof e.address === "string" ? [normalizeAddress(e.address)] : [],
  );
}

/** Every `vmail:` key vmail reads; anything else in the namespace is a misspelling. */
const KNOWN_KEYS = [
  ...Object.keys(DEFAULTS),
  "users",
  "aliases",
  "pgAdminPassword",
  "sshPrivateKey",
];

/** A misspelt key would be silently ignored: refuse it, naming the key it most likely meant. */
function refuseUnknownKeys(r: Reader, raw: RawConfig): void {
  for (const key of raw.keys?.() ?? []) {
    if (KNOWN_KEYS.includes(key)) continue;
    const meant = nearestKey(key);
    r.fail(key, `unknown key${meant ? `; did you mean ${NAMESPACE}:${meant}?` : ""}`);
  }
}

/** The known key closest to `key` (same letters in another case, or at most 3 edits away). */
function nearestKey(key: string): string | undefined {
  const lower = key.toLowerCase();
  const scored = KNOWN_KEYS.map((k) => ({
    k,
    d: k.toLowerCase() === lower ? 0 : editDistance(lower, k.toLowerCase()),
  })).sort((a, b) => a.d - b.d);
  return scored[0].d <= 3 ? scored[0].k : undefined;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
