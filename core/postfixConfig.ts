// What vmail writes into Postfix: the pgsql lookup files, the main.cf settings and root's
// .forward block. Pure.

import { QUOTA_STATUS_CHECK } from "./dovecotDelivery";
import type { PostconfInput } from "./mainCfScripts";
import type { DatabaseHost } from "./servers";

export type MapName = "mailboxes" | "transport" | "aliases" | "domains" | "refused" | "senders";

/** The local part and the domain of the looked-up address, in SQL (no %u/%d: see below). */
const LOCAL = "split_part('%s', '@', 1)";
const DOMAIN = "split_part('%s', '@', 2)";
/** The address in the target domain of the alias domain the key is in (NULL for other keys). */
const IN_TARGET = `${LOCAL} || '@' || (SELECT alias_of FROM transports WHERE domain = ${DOMAIN})`;

/**
 * One query per map. Postfix quotes %s itself (SQL-escaped, lower-cased key). Its %u and %d would
 * suppress the whole query for a key without an `@` (the refusal map looks up bare domains too),
 * so the parts of an address are taken apart in SQL.
 */
const QUERIES: Record<MapName, string> = {
  // A user who does not receive has no mailbox: mail an alias sends them bounces, never lands.
  mailboxes: "SELECT maildir FROM users WHERE email = '%s' AND receive",
  transport: "SELECT transport FROM transports WHERE domain = '%s'",
  // An alias domain's address is the same local part in its target domain, where that address
  // is a user or an alias or the target has a catch-all: an unknown one is still refused at RCPT.
  aliases:
    "SELECT email FROM aliases WHERE alias = '%s' " +
    `UNION ALL SELECT ${IN_TARGET} WHERE ${LOCAL} <> '' AND (` +
    `EXISTS (SELECT 1 FROM users WHERE email = ${IN_TARGET}) OR EXISTS (SELECT 1 FROM aliases ` +
    `WHERE alias IN (${IN_TARGET}, '@' || (SELECT alias_of FROM transports WHERE domain = ${DOMAIN}))))`,
  // virtual_mailbox_domains: listing the domains lets smtpd refuse unknown recipients at RCPT.
  domains: "SELECT domain FROM transports WHERE domain = '%s'",
  // check_recipient_access: a user or domain that does not receive is refused at RCPT time,
  // before any alias or catch-all could accept the address, an alias domain's addresses too.
  // Postfix looks up the address, then its domain; each query answers only its kind of key.
  refused:
    "SELECT '550 5.2.1 This mailbox does not accept mail' FROM users " +
    `WHERE email IN ('%s', ${IN_TARGET}) AND NOT receive ` +
    "UNION ALL SELECT '550 5.2.1 This domain does not accept mail' FROM transports WHERE domain = '%s' AND NOT receive",
  // smtpd_sender_login_maps (the submission service): the logins that may send as the address,
  // its own user (an alias domain's address too), the users an alias delivers to, and the users
  // given it, or its whole domain, in sendAs.
  senders:
    `SELECT email FROM users WHERE email IN ('%s', ${IN_TARGET}) ` +
    "UNION SELECT u.email FROM aliases a JOIN users u " +
    "ON u.email = ANY (string_to_array(replace(a.email, ' ', ''), ',')) " +
    `WHERE a.alias IN ('%s', ${IN_TARGET}) ` +
    "UNION SELECT email FROM users WHERE string_to_array(send_as, ',') && " +
    `ARRAY['%s', '@' || ${DOMAIN}]`,
};

export const MAP_NAMES = Object.keys(QUERIES) as MapName[];

export interface MapConnection {
  /** Where the account database is read: loopback on the server itself unless the stack says. */
  hosts: DatabaseHost[];
  user: string;
  dbname: string;
}

export function mapFilePath(mapsDir: string, map: MapName): string {
  return `${mapsDir}/${map}.cf`;
}

/** A pgsql_table(5) file. It holds the reader's password, so it is a secret as a whole. */
export function renderMapFile(map: MapName, conn: MapConnection, password: string): string {
  return [
    "# Written by vmail (Pulumi). Edits here are overwritten by the next `pulumi up`.",
    // Postfix tries the hosts in random order and skips one that is down: each server lists
    // its own replica and the primary, say, and keeps finding the accounts while one is down.
    `hosts = ${conn.hosts.map((h) => `inet:${h.host}:${h.port}`).join(" ")}`,
    `user = ${conn.user}`,
    `password = ${password}`,
    `dbname = ${conn.dbname}`,
    `query = ${QUERIES[map]}`,
    "",
  ].join("\n");
}

export interface MainCfInput {
  mapsDir: string;
  mailboxBase: string;
  uid: number;
  gid: number;
  proxy: boolean;
}

/** The main.cf settings of the articles, plus the domains lookup. */
export function mainCfSettings(input: MainCfInput): Record<string, string> {
  const map = (name: MapName) =>
    `${input.proxy ? "proxy:" : ""}pgsql:${mapFilePath(input.mapsDir, name)}`;
  return {
    // Empty: no local(8) lookups; the virtual maps decide who exists.
    local_recipient_maps: "",
    virtual_mailbox_base: input.mailboxBase.endsWith("/")
      ? input.mailboxBase
      : `${input.mailboxBase}/`,
    virtual_uid_maps: `static:${input.uid}`,
    virtual_gid_maps: `static:${input.gid}`,
    virtual_mailbox_domains: map("domains"),
    virtual_mailbox_maps: map("mailboxes"),
    virtual_alias_maps: map("aliases"),
    transport_maps: map("transport"),
  };
}

/** The proxy: maps proxymap must be allowed to open (proxy_read_maps), in main.cf's spelling. */
export function proxiedMaps(mapsDir: string): string[] {
  return MAP_NAMES.map((name) => `proxy:pgsql:${mapFilePath(mapsDir, name)}`);
}

/**
 * Where the operator's own values of the settings vmail took over are kept: beside main.cf, so
 * they belong to that Postfix, whatever happens to the maps directory.
 */
export function mainCfBackupFile(configDir: string): string {
  return `${configDir}/main.cf.before-vmail`;
}

/** The input of the postconf scripts: vmail's main.cf settings for one server. */
export interface PostfixSettingsInput {
  postfix: { configDir: string; mapsDir: string; proxy: boolean };
  mailboxBase: string;
  domains: string[];
  /** Dovecot delivers and runs quota-status: Postfix asks it about each recipient. */
  quotaStatus: boolean;
}

/** What the postconf scripts are given, for the mail owner's uid and gid as the server has them. */
export function postconfInput(args: PostfixSettingsInput, uid: number, gid: number): PostconfInput {
  const p = args.postfix;
  return {
    configDir: p.configDir,
    settings: mainCfSettings({
      mapsDir: p.mapsDir,
      mailboxBase: args.mailboxBase,
      uid,
      gid,
      proxy: p.proxy,
    }),
    domains: args.domains,
    proxiedMaps: p.proxy ? proxiedMaps(p.mapsDir) : [],
    // The refusal map first: a refused address is refused whatever its quota.
    recipientChecks: [
      `check_recipient_access ${p.proxy ? "proxy:" : ""}pgsql:${mapFilePath(p.mapsDir, "refused")}`,
      ...(args.quotaStatus ? [QUOTA_STATUS_CHECK] : []),
    ],
    backupFile: mainCfBackupFile(p.configDir),
  };
}

/** vmail's block in root's .forward: one line of addresses, as local(8) reads it. */
export const FORWARD_BLOCK = {
  marker: "vmail (managed by Pulumi)",
  position: "bottom",
  rootsOnly: true,
} as const;

export function renderForward(targets: string[]): string {
  return `${targets.join(", ")}\n`;
}
