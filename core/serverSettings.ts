// The settings of the machines vmail manages: how to reach the mail server, the database and its
// roles, the mail owner account, Postfix's and Dovecot's directories, where root's mail goes, and
// the databases and servers the stack has moved away from (retired targets).

import { DEFAULTS } from "./configDefaults";
import type { Reader } from "./configReader";
import type { HashScheme } from "./passwords";
import { retiredTargetRule } from "./retiredTargets";
import {
  absolutePathRule,
  addressRule,
  hostRule,
  identifierRule,
  mailboxBaseRule,
  normalizeAddress,
  ownerNameRule,
  portRule,
  rootForwardFileRule,
} from "./rules";
import { dbIdentity, describeTarget, type ServerAccess } from "./target";

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

export function readMailOwner(r: Reader): MailOwnerSpec {
  return {
    user: r.string("mailUser", DEFAULTS.mailUser, ownerNameRule),
    group: r.string("mailGroup", DEFAULTS.mailGroup, ownerNameRule),
    uid: r.optionalInteger("mailUid", uidRule),
    gid: r.optionalInteger("mailGid", uidRule),
    mailboxBase: r.string("mailboxBase", DEFAULTS.mailboxBase, mailboxBaseRule),
  };
}

export function readPostfixSettings(r: Reader): PostfixSettings {
  return {
    configDir: r.string("postfixConfigDir", DEFAULTS.postfixConfigDir, absolutePathRule),
    mapsDir: r.string("postfixMapsDir", DEFAULTS.postfixMapsDir, absolutePathRule),
    proxy: r.boolean("postfixProxy", DEFAULTS.postfixProxy),
  };
}

/** Dovecot is on exactly when the database has a role for it (vmail:dovecot). */
export function readDovecotSettings(
  r: Reader,
  database: DatabaseSettings,
  scheme: HashScheme,
): DovecotSettings {
  return {
    enabled: database.dovecotRole !== undefined,
    configDir: r.string("dovecotConfigDir", DEFAULTS.dovecotConfigDir, absolutePathRule),
    scheme,
  };
}

/** vmail:rootForward (the addresses root's mail goes to) and the file that says so. */
export function readRootForward(r: Reader): { rootForward: string[]; rootForwardFile: string } {
  const targets: string[] = [];
  r.list("rootForward").forEach((entry, i) => {
    const where = `rootForward[${i}]`;
    if (typeof entry !== "string") return r.fail(where, "an address (string)");
    const address = normalizeAddress(entry);
    const { error } = addressRule(address, false);
    if (error) return r.fail(where, `${JSON.stringify(entry)}: ${error}`);
    targets.push(address);
  });
  return {
    rootForward: targets,
    rootForwardFile: r.string("rootForwardFile", DEFAULTS.rootForwardFile, rootForwardFileRule),
  };
}

/** The databases and servers vmail no longer reaches (core/retiredTargets.ts). */
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

/** A retired target is one the stack has moved away from, never one it uses now. */
export function refuseRetiringWhatIsInUse(
  r: Reader,
  retired: string[],
  database: DatabaseSettings,
  servers: { server: ServerAccess }[],
): void {
  for (const inUse of [dbIdentity(database), ...servers.map((s) => s.server)]) {
    const at = retired.indexOf(describeTarget(inUse));
    if (at >= 0) {
      r.fail(
        `retiredTargets[${at}]`,
        `${retired[at]} is where the stack points now; only a database or server it moved away from can be retired`,
      );
    }
  }
}
