// What vmail sets up on one mail server, over the one account database: the mail owner, Dovecot's
// SQL auth and delivery, the Postfix maps and main.cf, the submission service and root's mail.
// The stack's own server gets these as MailServer's children (their names from before there
// were several servers); each server of vmail:servers as the children of a MailHost of its own,
// `mail-<name>`, so a preview names the server each change is on.

import * as pulumi from "@pulumi/pulumi";
import { Server } from "../resources/server";
import type { DatabaseSettings, MailHostSpec } from "../core/config";
import { DovecotAuth } from "./dovecotAuth";
import { DovecotDelivery } from "./dovecotDelivery";
import { MailOwner } from "./mailOwner";
import { PostfixMaps } from "./postfixMaps";
import { PostfixSettings } from "./postfixSettings";
import { RootForward } from "./rootForward";
import { Submission } from "./submission";

/** The account database, as each server's Postfix and Dovecot use it. */
export interface AccountDatabase {
  settings: DatabaseSettings;
  readerPassword: pulumi.Output<string>;
  /** Dovecot's role's password, when vmail sets Dovecot up. */
  dovecotPassword?: pulumi.Output<string>;
  /** Roles, grants, tables and pg_hba in place. */
  ready: pulumi.Resource[];
  /** Every row (a milestone over them), once registered. */
  rows: Promise<pulumi.Resource[]>;
}

/** Where a server's parts go: their parent, the prefix of their names, and their old names. */
interface Placement {
  parent: pulumi.Resource;
  name: string;
  /** A part's options, with the name it had in earlier vmails where it had one. */
  opts(formerly?: string): pulumi.ComponentResourceOptions;
}

/** The first half of a server's parts: what the rows may wait for (Dovecot's LMTP). */
export class HostDelivery {
  readonly owner: MailOwner;
  readonly delivery?: DovecotDelivery;
  readonly parts: pulumi.Resource[];

  constructor(
    readonly at: Placement,
    readonly host: MailHostSpec,
    readonly server: Server,
    readonly db: AccountDatabase,
  ) {
    const { name } = at;
    this.owner = new MailOwner(
      `${name}-owner`,
      { server, owner: host.owner },
      at.opts("mail-owner"),
    );
    this.parts = [this.owner];
    const dovecotRole = db.settings.dovecotRole;
    if (!dovecotRole || !db.dovecotPassword) return;
    const auth = new DovecotAuth(
      `${name}-dovecot-auth`,
      {
        server,
        dovecot: host.dovecot,
        database: { ...db.settings, dovecotRole },
        databaseHosts: host.databaseHosts,
        password: db.dovecotPassword,
        mailboxBase: host.owner.mailboxBase,
        uid: this.owner.uid,
        gid: this.owner.gid,
        after: db.ready,
        // Each row first: after a move of the database, Dovecot reads the new one once it is
        // whole. Delivery's files first too: no two reloads see each other's half-written files.
        filesAfter: db.rows.then((made) => (this.delivery ? [...made, this.delivery.ready] : made)),
      },
      at.opts(),
    );
    this.delivery = new DovecotDelivery(
      `${name}-dovecot-delivery`,
      {
        server,
        dovecot: host.dovecot,
        postfixConfigDir: host.postfix.configDir,
        sasl: host.submission.enabled,
        after: [auth.guard],
      },
      at.opts(),
    );
    this.parts.push(auth, this.delivery);
  }

  /**
   * The second half, once the rows are registered: the Postfix maps, main.cf (after `domainRows`
   * and, with Dovecot, its quota-status), submission and root's mail. Returns every part.
   */
  postfix(virtualDomains: string[], domainRows: pulumi.Resource[]): pulumi.Resource[] {
    const { at, host, server, db, delivery } = this;
    const { name } = at;
    const maps = new PostfixMaps(
      `${name}-postfix-maps`,
      {
        server,
        mapsDir: host.postfix.mapsDir,
        database: db.settings,
        databaseHosts: host.databaseHosts,
        readerPassword: db.readerPassword,
        after: db.rows.then((made) => [...db.ready, ...made]),
      },
      at.opts("postfix-maps"),
    );
    const settings = new PostfixSettings(
      `${name}-postfix-settings`,
      {
        server,
        postfix: host.postfix,
        mailboxBase: host.owner.mailboxBase,
        uid: this.owner.uid,
        gid: this.owner.gid,
        domains: virtualDomains,
        quotaStatus: delivery !== undefined,
        mapFiles: maps.files,
        // The domains must be rows before Postfix is told to look them up, and quota-status must
        // listen before Postfix asks it.
        after: [...maps.files, ...domainRows, ...(delivery ? [delivery.ready] : [])],
      },
      at.opts("postfix-settings"),
    );
    const parts = [...this.parts, maps, settings];
    if (host.submission.enabled && delivery) {
      parts.push(
        new Submission(
          `${name}-submission`,
          {
            server,
            postfix: host.postfix,
            submission: host.submission,
            after: [...maps.files, delivery.ready],
          },
          at.opts(),
        ),
      );
    }
    if (host.rootForward.length > 0) {
      parts.push(
        new RootForward(
          `${name}-root-forward`,
          { server, targets: host.rootForward, path: host.rootForwardFile },
          at.opts("root-mail"),
        ),
      );
    }
    return parts;
  }
}

/** The stack's own server's parts, MailServer's children under their names of old. */
export function ownServerPlacement(parent: pulumi.Resource, name: string): Placement {
  return {
    parent,
    name,
    opts: (formerly) => ({ parent, ...(formerly ? { aliases: [{ name: formerly }] } : {}) }),
  };
}

export interface MailHostArgs {
  readonly host: MailHostSpec;
  readonly database: AccountDatabase;
  /** The SSH private key, a secret (ssh access only). */
  readonly sshPrivateKey?: pulumi.Output<string>;
  /** The virtual domains its main.cf lists, and their rows. */
  readonly virtualDomains: string[];
  readonly domainRows: pulumi.Resource[];
}

/** One server of vmail:servers. Adding or removing one touches no row. */
export class MailHost extends pulumi.ComponentResource {
  /** Every part, for what must come after them all (the destroy guard). */
  readonly parts: pulumi.Resource[];

  constructor(name: string, args: MailHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:MailHost", name, {}, opts);
    const at: Placement = { parent: this, name, opts: () => ({ parent: this }) };
    const server = new Server(args.host.server, args.sshPrivateKey);
    const half = new HostDelivery(at, args.host, server, args.database);
    this.parts = half.postfix(args.virtualDomains, args.domainRows);
    this.registerOutputs({});
  }
}
