// The mail servers: the stack's own (the top-level keys) and those of vmail:servers, each with its
// own access, mail owner, Postfix, Dovecot and submission settings, all reading the one account
// database, from the host(s) each lists: its own streaming replica first, say, then the primary.
// An entry's keys are the top-level keys of the same name; one it leaves out is the top-level
// value. Pure.

import { isIP } from "node:net";
import { isRecord, NAMESPACE, type RawConfig, type Reader } from "./configReader";
import { hostRule, portRule } from "./rules";
import {
  readDovecotSettings,
  readMailOwner,
  readPostfixSettings,
  readRootForward,
  readServerAccess,
  type DatabaseSettings,
  type DovecotSettings,
  type MailOwnerSpec,
  type PostfixSettings,
} from "./serverSettings";
import { readSubmissionSettings, type SubmissionSettings } from "./submission";
import type { HashScheme } from "./passwords";
import type { ServerAccess } from "./target";

/** A PostgreSQL server a mail server's Postfix and Dovecot read the account database from. */
export interface DatabaseHost {
  host: string;
  port: number;
}

/** One mail server: how vmail reaches it, and what it sets up there. */
export interface MailHostSpec {
  /** In its resources' names (`mail-<name>-...`); "" for the stack's own server. */
  name: string;
  server: ServerAccess;
  owner: MailOwnerSpec;
  postfix: PostfixSettings;
  dovecot: DovecotSettings;
  submission: SubmissionSettings;
  rootForward: string[];
  rootForwardFile: string;
  /** Where its Postfix and Dovecot read the account database, in the operator's order. */
  databaseHosts: DatabaseHost[];
  /** Where it connects to the primary from: pg_hba lines admit its roles from these (CIDR). */
  pgHbaAddresses: string[];
}

/** The top-level keys a server entry may give a value of its own. */
export const SERVER_KEYS = [
  "serverMode",
  "sshHost",
  "sshPort",
  "sshUser",
  "sshHostKey",
  "mailUser",
  "mailGroup",
  "mailUid",
  "mailGid",
  "mailboxBase",
  "postfixConfigDir",
  "postfixMapsDir",
  "postfixProxy",
  "dovecotConfigDir",
  "submission",
  "submissionListen",
  "tlsCertFile",
  "tlsKeyFile",
  "rootForward",
  "rootForwardFile",
  "databaseHosts",
  "pgHbaAddresses",
] as const;

const ENTRY_FIELDS = ["name", ...SERVER_KEYS];

const nameRule = (name: string) =>
  /^[a-z][a-z0-9-]{0,30}$/.test(name) && !name.endsWith("-")
    ? undefined
    : "a server's name is 1 to 31 lower-case letters, digits and hyphens, from a letter (mx2, imap-b)";

/** The settings of one server, read by `r` (top-level keys, or an entry's over them). */
function readHost(
  r: Reader,
  name: string,
  database: DatabaseSettings,
  scheme: HashScheme,
  defaultHosts: DatabaseHost[],
): MailHostSpec {
  const dovecot = readDovecotSettings(r, database, scheme);
  const { rootForward, rootForwardFile } = readRootForward(r);
  const databaseHosts = readDatabaseHosts(r, database.serverPort);
  return {
    name,
    server: readServerAccess(r),
    owner: readMailOwner(r),
    postfix: readPostfixSettings(r),
    dovecot,
    submission: readSubmissionSettings(r, dovecot.enabled),
    rootForward,
    rootForwardFile,
    databaseHosts: databaseHosts.length > 0 ? databaseHosts : defaultHosts,
    pgHbaAddresses: readHbaAddresses(r),
  };
}

/** The stack's own server: the top-level keys; its Postfix and Dovecot read loopback unless told. */
export function readOwnHost(
  r: Reader,
  database: DatabaseSettings,
  scheme: HashScheme,
): MailHostSpec {
  return readHost(r, "", database, scheme, [{ host: "127.0.0.1", port: database.serverPort }]);
}

/** vmail:servers: each entry over the top-level keys, named, and no two the same server. */
export function readServers(
  r: Reader,
  raw: RawConfig,
  database: DatabaseSettings,
  scheme: HashScheme,
  own: MailHostSpec,
): MailHostSpec[] {
  const hosts: MailHostSpec[] = [];
  r.list("servers").forEach((entry, i) => {
    const where = `servers[${i}]`;
    if (!isRecord(entry) || typeof entry.name !== "string") {
      return r.fail(where, "a server is an object with a name ({name: mx2, serverMode: ssh, ...})");
    }
    const name = entry.name;
    const label = `${NAMESPACE}:${where} (${name})`;
    const problem = nameRule(name);
    if (problem) return r.failAt(label, `${JSON.stringify(name)}: ${problem}`);
    const unknown = Object.keys(entry).filter((k) => !ENTRY_FIELDS.includes(k));
    if (unknown.length > 0) {
      return r.failAt(
        label,
        `unknown field(s) ${unknown.join(", ")}; known: ${ENTRY_FIELDS.join(", ")}`,
      );
    }
    if (hosts.some((h) => h.name === name)) {
      return r.failAt(label, "another server has this name; each name is one server's");
    }
    const scoped = r.scoped(entryConfig(entry, raw), (key) => `${label}.${key}`);
    if (!Array.isArray(entry.databaseHosts) || entry.databaseHosts.length === 0) {
      scoped.fail(
        "databaseHosts",
        "is required: where this server's Postfix and Dovecot read the account database (host:port, its replica first)",
      );
    }
    const host = readHost(scoped, name, database, scheme, []);
    const same = [own, ...hosts].find((h) => sameFiles(h, host));
    if (same) {
      scoped.fail(
        "postfixConfigDir",
        `${same.name ? `server ${same.name}` : "the stack's own server"} already writes this Postfix's and Dovecot's files on the same machine`,
      );
    }
    hosts.push(host);
  });
  return hosts;
}

/** Whether two servers would write the same files: the same machine and config directories. */
function sameFiles(a: MailHostSpec, b: MailHostSpec): boolean {
  const where = (h: MailHostSpec) =>
    JSON.stringify([h.server, h.postfix.configDir, h.dovecot.configDir]);
  return where(a) === where(b);
}

/**
 * An entry's fields as raw config: each as Pulumi hands a key over (strings as they are, other
 * values as JSON), and the top-level value where the entry has none.
 */
function entryConfig(entry: Record<string, unknown>, raw: RawConfig): RawConfig {
  return {
    get(key) {
      if (!(key in entry)) return raw.get(key);
      const value = entry[key];
      return typeof value === "string" ? value : JSON.stringify(value);
    },
    isSecret: (key) => raw.isSecret(key),
  };
}

/** databaseHosts: "host" or "host:port" (the port defaults to vmail:pgServerPort). */
function readDatabaseHosts(r: Reader, defaultPort: number): DatabaseHost[] {
  const hosts: DatabaseHost[] = [];
  r.list("databaseHosts").forEach((entry, i) => {
    const where = `databaseHosts[${i}]`;
    const match = typeof entry === "string" ? /^([^:]+)(?::(\d+))?$/.exec(entry) : null;
    if (!match)
      return r.fail(where, `${JSON.stringify(entry)}: a host or host:port (10.0.0.5:5432)`);
    const host = { host: match[1], port: match[2] ? Number(match[2]) : defaultPort };
    const problem = hostRule(host.host) ?? portRule(host.port);
    if (problem) return r.fail(where, `${JSON.stringify(entry)}: ${problem}`);
    if (hosts.some((h) => h.host === host.host && h.port === host.port)) {
      return r.fail(where, `${JSON.stringify(entry)}: listed twice`);
    }
    hosts.push(host);
  });
  return hosts;
}

/** pgHbaAddresses: networks in CIDR form (10.0.0.5/32, fd00::/64). */
function readHbaAddresses(r: Reader): string[] {
  const found: string[] = [];
  r.list("pgHbaAddresses").forEach((entry, i) => {
    const where = `pgHbaAddresses[${i}]`;
    const problem = typeof entry === "string" ? cidrRule(entry) : "a network (string)";
    if (problem) return r.fail(where, `${JSON.stringify(entry)}: ${problem}`);
    found.push(entry as string);
  });
  return found;
}

function cidrRule(cidr: string): string | undefined {
  const [address, bits, ...rest] = cidr.split("/");
  const family = isIP(address);
  const max = family === 6 ? 128 : 32;
  const ok =
    family !== 0 && rest.length === 0 && /^\d{1,3}$/.test(bits ?? "") && Number(bits) <= max;
  return ok ? undefined : "a network in CIDR form, the address and its prefix length (10.0.0.5/32)";
}
