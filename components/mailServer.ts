// The top component: wires the mail owner, the database, Dovecot's SQL auth and delivery, the rows,
// the Postfix maps and settings, and root's mail for one server. It holds no logic of its own.

import * as pulumi from "@pulumi/pulumi";
import { DestroyGuard } from "../resources/checkpointGuard";
import { MovedRowsCleanup } from "../resources/rowsCleanup";
import { Server } from "../resources/server";
import type { MailSpec } from "../core/config";
import { dbIdentity } from "../core/target";
import { LMTP_TRANSPORT, VIRTUAL_TRANSPORT } from "../core/dovecotDelivery";
import { DovecotAuth } from "./dovecotAuth";
import { DovecotDelivery } from "./dovecotDelivery";
import { MailAccounts } from "./mailAccounts";
import { MailDatabase } from "./mailDatabase";
import { MailOwner } from "./mailOwner";
import { PostfixMaps } from "./postfixMaps";
import { PostfixSettings } from "./postfixSettings";
import { RootForward } from "./rootForward";
import { Submission } from "./submission";

export interface MailServerArgs {
  /** The validated stack config (core/config.ts). */
  readonly spec: MailSpec;
  /** The PostgreSQL admin role's password, a secret. */
  readonly adminPassword: pulumi.Input<string>;
  /** The SSH private key, a secret (ssh access only). */
  readonly sshPrivateKey?: pulumi.Output<string>;
}

export class MailServer extends pulumi.ComponentResource {
  /** The mail owner's uid and gid, as the server has them. */
  readonly uid: pulumi.Output<number>;
  readonly gid: pulumi.Output<number>;
  /** The database roles' passwords (secret). */
  readonly readerPassword: pulumi.Output<string>;
  /** The owner role's password (secret), when it may log in. */
  readonly ownerPassword?: pulumi.Output<string>;
  /** Dovecot's role's password (secret), when vmail sets Dovecot up. */
  readonly dovecotPassword?: pulumi.Output<string>;
  /** Generated mail passwords by address (secret), for the operator to hand over. */
  readonly generatedPasswords: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: MailServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:MailServer", name, {}, opts);
    const { spec } = args;
    /** A child component `${name}-suffix`, known before as `formerly`. */
    const child = (formerly: string) => ({ parent: this, aliases: [{ name: formerly }] });
    const server = new Server(spec.server, args.sshPrivateKey);

    const owner = new MailOwner(
      `${name}-owner`,
      { server, owner: spec.owner },
      child("mail-owner"),
    );
    const database = new MailDatabase(
      `${name}-database`,
      { server, settings: spec.database, adminPassword: args.adminPassword, protect: spec.protect },
      child("mail-database"),
    );
    // Every row, once MailAccounts has registered them (it comes after Dovecot): the files that
    // name the database wait for them, so after a move Postfix and Dovecot read the new one only
    // once each row is there.
    let rowsRegistered!: (rows: pulumi.Resource[]) => void;
    let rowsFailed!: (error: unknown) => void;
    const rows = new Promise<pulumi.Resource[]>((resolve, reject) => {
      rowsRegistered = resolve;
      rowsFailed = reject;
    });
    // Dovecot first: with it, mail is delivered over its LMTP, and the domains' rows that say so
    // wait until it listens.
    const dovecotParts: pulumi.Resource[] = [];
    let delivery: DovecotDelivery | undefined;
    const dovecotRole = spec.database.dovecotRole;
    if (dovecotRole && database.dovecotPassword) {
      const auth = new DovecotAuth(
        `${name}-dovecot-auth`,
        {
          server,
          dovecot: spec.dovecot,
          database: { ...spec.database, dovecotRole },
          password: database.dovecotPassword,
          mailboxBase: spec.owner.mailboxBase,
          uid: owner.uid,
          gid: owner.gid,
          after: database.ready,
          filesAfter: rows.then((made) => (delivery ? [...made, delivery.ready] : made)),
        },
        { parent: this },
      );
      delivery = new DovecotDelivery(
        `${name}-dovecot-delivery`,
        {
          server,
          dovecot: spec.dovecot,
          postfixConfigDir: spec.postfix.configDir,
          sasl: spec.submission.enabled,
          after: [auth.guard],
        },
        { parent: this },
      );
      dovecotParts.push(auth, delivery);
    }
    const accounts = new MailAccounts(
      `${name}-accounts`,
      {
        target: dbIdentity(spec.database),
        domains: spec.domains,
        suspendedDomains: spec.suspendedDomains,
        aliasDomains: spec.aliasDomains,
        users: spec.users,
        aliases: spec.aliases,
        gid: owner.gid,
        transport: delivery ? LMTP_TRANSPORT : VIRTUAL_TRANSPORT,
        domainsAfter: delivery ? [delivery.ready] : [],
        after: database.ready,
      },
      child("mail-accounts"),
    );
    accounts.registered.then(rowsRegistered, rowsFailed);
    const maps = new PostfixMaps(
      `${name}-postfix-maps`,
      {
        server,
        mapsDir: spec.postfix.mapsDir,
        database: spec.database,
        readerPassword: database.readerPassword,
        after: rows.then((made) => [...database.ready, ...made]),
      },
      child("postfix-maps"),
    );
    const settings = new PostfixSettings(
      `${name}-postfix-settings`,
      {
        server,
        postfix: spec.postfix,
        mailboxBase: spec.owner.mailboxBase,
        uid: owner.uid,
        gid: owner.gid,
        // Alias domains are virtual mailbox domains too: none may be in mydestination either.
        domains: [...spec.domains, ...spec.aliasDomains.map((a) => a.domain)],
        quotaStatus: delivery !== undefined,
        mapFiles: maps.files,
        // The domains must be rows before Postfix is told to look them up, and quota-status must
        // listen before Postfix asks it.
        after: [...maps.files, ...accounts.domains, ...(delivery ? [delivery.ready] : [])],
      },
      child("postfix-settings"),
    );
    const parts: pulumi.Resource[] = [owner, database, maps, settings, ...dovecotParts];
    if (spec.submission.enabled && delivery) {
      const submission = new Submission(
        `${name}-submission`,
        {
          server,
          postfix: spec.postfix,
          submission: spec.submission,
          after: [...maps.files, delivery.ready],
        },
        { parent: this },
      );
      parts.push(submission);
    }
    if (spec.rootForward.length > 0) {
      const forward = new RootForward(
        `${name}-root-forward`,
        { server, targets: spec.rootForward, path: spec.rootForwardFile },
        child("root-mail"),
      );
      parts.push(forward);
    }
    // After a move of the database, this stack's rows leave the old one last: once each is in
    // the new one and Postfix and Dovecot (every file, reloaded) read from there.
    const beforeCleanup: Promise<pulumi.Resource[]> = rows.then((made) => [...parts, ...made]);
    const cleanup = new MovedRowsCleanup(
      `${name}-rows-cleanup`,
      { target: dbIdentity(spec.database) },
      { parent: this, dependsOn: beforeCleanup },
    );
    // Waits for every other resource of the stack, so an `up` makes it last and a destroy deletes
    // it first: protected (vmail:protect), it stops a destroy before a row, a file or the database
    // is gone, and without checkpoints its delete refuses before a role or the database is dropped.
    const everything: Promise<pulumi.Resource[]> = rows.then((made) => [
      ...parts,
      cleanup,
      ...made,
    ]);
    new DestroyGuard(`${name}-destroy-guard`, database.dropsOnDestroy, {
      parent: this,
      protect: spec.protect,
      dependsOn: everything,
    });

    this.uid = owner.uid;
    this.gid = owner.gid;
    this.readerPassword = database.readerPassword;
    this.ownerPassword = database.ownerPassword;
    this.dovecotPassword = database.dovecotPassword;
    this.generatedPasswords = accounts.generatedPasswords;
    this.registerOutputs({
      uid: this.uid,
      gid: this.gid,
      readerPassword: this.readerPassword,
      ownerPassword: this.ownerPassword,
      dovecotPassword: this.dovecotPassword,
      generatedPasswords: this.generatedPasswords,
    });
  }
}
