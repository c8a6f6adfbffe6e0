// The aliases: their entries and targets, the loops Postfix would bounce, and the self-aliases
// that shield a mailbox from its domain's catch-all.

import { ALIAS_FIELDS, aliasEntrySchema, type AliasEntry } from "./accountsSchema";
import { checkEntry, entryAddresses, type EntryKind, type UserSpec } from "./accounts";
import type { AccountsFile, Reader } from "./configReader";
import { addressRule, normalizeAddress } from "./rules";

export interface AliasSpec {
  /** `local@domain`, or `@domain` for a catch-all. */
  address: string;
  domain: string;
  targets: string[];
  /** Added by the program: a mailbox's self-alias that shields it from its domain's catch-all. */
  automatic: boolean;
}

const ALIAS_ENTRY: EntryKind<AliasEntry> = {
  notAnObject: "an alias is an object with `address` and `to`",
  schema: aliasEntrySchema,
  fields: ALIAS_FIELDS,
  catchAll: true,
};

export function readAliases(
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
 * A user's forwardTo as Postfix's virtual(5) does it: an alias of the user's own address to the
 * forward targets, and to the address itself when the mailbox keeps a copy (an address that
 * expands to itself is delivered, not expanded again). Refused next to an alias entry of the same
 * address, and where a hosted target exists neither as a user nor as an alias, or makes a loop.
 */
export function withForwards(
  r: Reader,
  aliases: AliasSpec[],
  users: UserSpec[],
  domains: Set<string>,
): AliasSpec[] {
  const taken = new Set(aliases.map((a) => a.address));
  const known = new Set([...taken, ...users.map((u) => u.address)]);
  const forwards: AliasSpec[] = [];
  for (const u of users.filter((user) => user.forwardTo.length > 0)) {
    const fail = (rule: string) => r.fail("users", `${u.address}: forwardTo: ${rule}`);
    if (taken.has(u.address)) {
      fail("vmail:aliases has an entry for this address too; keep one of them");
      continue;
    }
    const unknown = u.forwardTo.find((t) => domains.has(t.split("@")[1]) && !known.has(t));
    if (unknown) {
      fail(`${unknown} is in a hosted domain but is neither a user nor an alias`);
      continue;
    }
    const targets = u.keepCopy ? [u.address, ...u.forwardTo] : u.forwardTo;
    forwards.push({ address: u.address, domain: u.domain, targets, automatic: false });
  }
  const all = [...aliases, ...forwards];
  const loop = findAliasLoop(all);
  if (loop && forwards.length > 0 && !findAliasLoop(aliases)) {
    r.fail(
      "users",
      `forwardTo makes a loop: ${loop.join(" -> ")} (Postfix would bounce this mail)`,
    );
  }
  return all;
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
