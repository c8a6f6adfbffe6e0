// What both end-to-end suites share: the accounts they converge, and how they look at the result
// as a mail server would (postmap lookups, maildirs).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { mapFilePath, type MapName } from "../../core/postfixConfig";
import { doveadmVerifies } from "./dovecot";
import { storedRow, superuserQuery, type PgCluster } from "./pgCluster";
import type { PostfixInstance } from "./postfixInstance";

export const CLEAR_PASSWORD = "Erin's clear; secret \\ pässword";
export const DOMAINS = ["example.com", "example.net"];

/**
 * The dev stack's data plus a catch-all domain and a user with a clear-text secret password;
 * "second" adds frank, renames dave and removes the postmaster alias.
 */
export function mailAccounts(change?: "second"): { users: object[]; aliases: object[] } {
  const users: object[] = [
    { address: "dave@example.com", realname: "Dave, son of Dave", maildir: "dave/" },
    { address: "erin@example.net", realname: "Erin", password: CLEAR_PASSWORD },
  ];
  const aliases: object[] = [
    { address: "dave_sonofdave@example.com", to: "dave@example.com" },
    { address: "@example.net", to: "erin@example.net" },
    { address: "postmaster@example.com", to: "dave@example.com" },
  ];
  if (change === "second") {
    users.push({ address: "frank@example.com", realname: "Frank" }); // added
    (users[0] as { realname: string }).realname = "David"; // changed
    aliases.splice(2, 1); // postmaster removed
  }
  return { users, aliases };
}

/** `postmap -q KEY pgsql:FILE` with the instance's config; "" when the key is not found. */
export function postmapQuery(
  postfix: PostfixInstance,
  mapsDir: string,
  map: MapName,
  key: string,
): string {
  const r = spawnSync(
    "postmap",
    ["-c", postfix.configDir, "-q", key, `pgsql:${mapFilePath(mapsDir, map)}`],
    { encoding: "utf8" },
  );
  return r.status === 0 ? r.stdout.trim() : "";
}

/**
 * Waits (flushing the queue now and then) for a message holding `marker` in a maildir's new/:
 * up to `attempts` looks 200 ms apart. One look tells whether it is there now.
 */
export async function delivered(
  postfix: PostfixInstance,
  mailboxBase: string,
  maildir: string,
  marker: string,
  attempts = 100,
): Promise<boolean> {
  const newDir = join(mailboxBase, maildir, "new");
  for (let i = 0; i < attempts; i++) {
    if (i % 5 === 4) await postfix.flush();
    if (existsSync(newDir)) {
      for (const f of readdirSync(newDir)) {
        if (readFileSync(join(newDir, f), "utf8").includes(marker)) return true;
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** Drift made behind vmail's back: dave's alias row deleted, the transport map file removed. */
export async function deleteAliasRowAndTransportMap(
  cluster: PgCluster,
  mapsDir: string,
): Promise<void> {
  await superuserQuery(
    cluster,
    "DELETE FROM aliases WHERE alias = $1",
    ["dave_sonofdave@example.com"],
    "mail",
  );
  unlinkSync(mapFilePath(mapsDir, "transport"));
}

/** What a refresh finds after deleteAliasRowAndTransportMap (see goneOnRefresh). */
export const DELETED_BEHIND_VMAILS_BACK = [
  "dave_sonofdave@example.com",
  "mail-postfix-maps-transport",
];

/** Dovecot (doveadm pw -t) accepts dave's generated and erin's clear-config password as stored. */
export async function assertStoredPasswordsVerify(
  cluster: PgCluster,
  generated: Record<string, string>,
): Promise<void> {
  const dave = await storedRow(cluster, "users", "email", "dave@example.com");
  assert.ok(doveadmVerifies(dave.password as string, generated["dave@example.com"]));
  const erin = await storedRow(cluster, "users", "email", "erin@example.net");
  assert.ok(doveadmVerifies(erin.password as string, CLEAR_PASSWORD));
}
