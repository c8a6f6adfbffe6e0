// Every row of the spec as its own resource: one MailDomain, MailUser or MailAlias per entry,
// named by its address, so a preview reads as a list of mail changes.

import * as pulumi from "@pulumi/pulumi";
import { Milestone } from "../resources/milestone";
import { MailAlias, MailDomain, MailUser } from "../resources/rows";
import type { AliasDomainSpec } from "../core/aliasDomains";
import type { AliasSpec, UserSpec } from "../core/config";
import type { DbIdentity } from "../core/target";

export interface MailAccountsArgs {
  /** The database the rows go in (each row records it, so a move shows and cleans up). */
  readonly target: DbIdentity;
  /** The virtual mailbox domains: one transports row each. */
  readonly domains: string[];
  /** The domains whose mail is refused (vmail:suspendedDomains). */
  readonly suspendedDomains: string[];
  /** Domains whose addresses are a hosted domain's: a transports row each, naming the target. */
  readonly aliasDomains: AliasDomainSpec[];
  /** The mailboxes: one users row each. */
  readonly users: UserSpec[];
  /** The aliases (catch-alls and self-aliases included): one aliases row each. */
  readonly aliases: AliasSpec[];
  /** The mail owner's group: every domain is delivered as it. */
  readonly gid: pulumi.Input<number>;
  /** How Postfix delivers each domain's mail (the transports rows' transport). */
  readonly transport: string;
  /** What the domains' rows wait for besides `after`: the transport they name, ready. */
  readonly domainsAfter: pulumi.Resource[];
  /** The tables and grants the rows need first. */
  readonly after: pulumi.Input<pulumi.Resource>[];
}

/**
 * Rows the program has registered and the engine not yet answered, at most. The SDK prepares
 * every registration it is given at once, so 5,000 mailboxes in one go peaked at 1.1 GiB in the
 * program. A window (each row once the one ROW_WINDOW before it is answered) bounds that as
 * batches did, without the stall at the end of each batch, when the program had nothing to do
 * until the engine had answered the batch's last row. An unanswered registration holds a few
 * hundred kilobytes: at 5,000 mailboxes a window of 2,000 peaked at 1.1 GiB in the program, one
 * of 500 at 0.6 GiB, with the engine no less busy (npm run bench).
 */
export const ROW_WINDOW = 500;

/**
 * Registers every row, keeping at most ROW_WINDOW unanswered. The first row too is made after an
 * await: the SDK records the whole call stack of every resource in the state, and from there that
 * stack is this function and the row's own lines, not the program's every frame down to index.ts
 * (about half a kilobyte of state a row).
 */
async function registerInWindow(rows: (() => pulumi.Resource)[]): Promise<pulumi.Resource[]> {
  const made: pulumi.Resource[] = [];
  const answered: Promise<unknown>[] = [];
  await Promise.resolve();
  for (const [i, make] of rows.entries()) {
    if (i >= ROW_WINDOW) await answered[i - ROW_WINDOW];
    const row = make();
    made.push(row);
    answered.push(new Promise((registered) => row.urn.apply(registered)));
  }
  return made;
}

/** Every row of the spec: one MailDomain, MailUser or MailAlias per entry. */
export class MailAccounts extends pulumi.ComponentResource {
  /** The transports rows (alias domains' included), which Postfix's domains lookup needs before main.cf names it. */
  readonly domains: MailDomain[];
  /** Generated mail passwords by address (secret), for the operator to hand over. */
  readonly generatedPasswords: pulumi.Output<Record<string, string>>;
  /** What stands for every row (a milestone after them all), once the last one is registered. */
  readonly registered: Promise<pulumi.Resource[]>;

  constructor(name: string, args: MailAccountsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:MailAccounts", name, {}, opts);
    const rowOpts = { parent: this, dependsOn: args.after };
    const target = args.target;
    const receives = (d: string) => !args.suspendedDomains.includes(d);
    const domainOpts = { ...rowOpts, dependsOn: [...args.after, ...args.domainsAfter] };
    const domain = (d: string, aliasOf?: string) =>
      new MailDomain(
        d,
        {
          target,
          gid: args.gid,
          transport: args.transport,
          receive: receives(aliasOf ?? d),
          aliasOf,
        },
        domainOpts,
      );
    this.domains = [
      ...args.domains.map((d) => domain(d)),
      // A suspended target suspends its alias domains too.
      ...args.aliasDomains.map((a) => domain(a.domain, a.target)),
    ];
    const user = (u: UserSpec) =>
      new MailUser(
        u.address,
        {
          target,
          realname: u.realname,
          maildir: u.maildir,
          scheme: u.scheme,
          login: u.login,
          receive: u.receive,
          quota: u.quota,
          sendAs: u.sendAs,
          passwordHash: u.password.kind === "hash" ? u.password.hash : undefined,
          password: u.password.kind === "clear" ? pulumi.secret(u.password.clear) : undefined,
          generateVersion: u.password.kind === "generated" ? u.password.version : undefined,
        },
        // A rename: the same resource under its new name, so the preview shows an update.
        u.formerly ? { ...rowOpts, aliases: [{ name: u.formerly }] } : rowOpts,
      );
    const alias = (a: AliasSpec) =>
      new MailAlias(a.address, { target, targets: a.targets }, rowOpts);
    const entries: (() => pulumi.Resource)[] = [
      ...args.users.map((u) => () => user(u)),
      ...args.aliases.map((a) => () => alias(a)),
    ];
    // Users come first, in spec order: made[i] is the resource of args.users[i].
    const rows = registerInWindow(entries);
    // What waits for the rows waits for one milestone after all of them: its state names each row
    // once, where every file and guard that waits for them would name each row again.
    this.registered = rows.then((made) => [
      new Milestone(`${name}-rows`, [...this.domains, ...made], { parent: this }),
    ]);
    const generated = pulumi.output(rows).apply((made) => {
      const pairs = args.users.flatMap((u, i) =>
        u.password.kind === "generated" ? [{ address: u.address, user: made[i] as MailUser }] : [],
      );
      return pulumi
        .all(pairs.map((p) => p.user.generatedPassword))
        .apply((pws) => Object.fromEntries(pairs.map((p, i) => [p.address, pws[i] ?? ""])));
    });
    this.generatedPasswords = pulumi.secret(generated);
    // Holds the program open until the last row is registered.
    this.registerOutputs({ rows: pulumi.output(rows).apply((made) => made.length) });
  }
}
