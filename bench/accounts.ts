// The benchmark's mail accounts: N mailboxes over 10 domains, one alias per 4 mailboxes, and a
// catch-all on the first domain. Pure and deterministic, so every run converges the same rows.

import { createHash } from "node:crypto";
import { withCatchAllShields, type AliasSpec, type UserSpec } from "../core/config";

export const DOMAIN_COUNT = 10;

export interface Accounts {
  domains: string[];
  users: UserSpec[];
  /** With the catch-all's self-aliases, as vmail stores them. */
  aliases: AliasSpec[];
}

/**
 * A fixed SHA512-CRYPT hash per mailbox: the benchmark measures convergence, not hashing, so every
 * system under test stores the same given hash (as an operator migrating `doveadm pw` hashes does).
 */
function givenHash(address: string): string {
  // 102 characters of crypt's alphabet (./0-9A-Za-z): a 16-character salt and an 86-character hash.
  const chars = [address, `${address}#`]
    .map((s) => createHash("sha512").update(s).digest("base64"))
    .join("")
    .replace(/\+/g, ".")
    .replace(/=/g, "");
  return `{SHA512-CRYPT}$6$${chars.slice(0, 16)}$${chars.slice(16, 102)}`;
}

export function generateAccounts(n: number): Accounts {
  const domains = Array.from({ length: DOMAIN_COUNT }, (_, i) => `d${i}.example.org`);
  const users: UserSpec[] = Array.from({ length: n }, (_, i) => {
    const domain = domains[i % DOMAIN_COUNT];
    const address = `user${i}@${domain}`;
    return {
      address,
      domain,
      realname: `User ${i}`,
      maildir: `${domain}/user${i}/`,
      scheme: "SHA512-CRYPT",
      password: { kind: "hash", hash: givenHash(address) },
      login: true,
      quota: null,
      forwardTo: [],
      keepCopy: true,
      sendAs: [],
      receive: true,
    };
  });
  const aliases: AliasSpec[] = [];
  for (let i = 0; i < n; i += 4) {
    const target = users[i];
    aliases.push({
      address: `alias${i}@${target.domain}`,
      domain: target.domain,
      targets: [target.address],
      automatic: false,
    });
  }
  aliases.push({
    address: `@${domains[0]}`,
    domain: domains[0],
    targets: [users[0].address],
    automatic: false,
  });
  return { domains, users, aliases: withCatchAllShields(aliases, users) };
}

/** The same accounts as stack config entries (what an operator writes in vmail:users/aliases). */
export function asStackConfig(a: Accounts): {
  users: object[];
  aliases: object[];
  domains: string[];
} {
  return {
    domains: a.domains,
    users: a.users.map((u) => ({
      address: u.address,
      realname: u.realname,
      maildir: u.maildir,
      passwordHash: u.password.kind === "hash" ? u.password.hash : undefined,
    })),
    aliases: a.aliases
      .filter((x) => !x.automatic)
      .map((x) => ({ address: x.address, to: x.targets })),
  };
}
