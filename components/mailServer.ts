// The top component: wires the account database and its rows, the stack's own mail server and each
// server of vmail:servers (mailHost.ts), the cleanup after a move and the destroy guard. It holds
// no logic of its own.

import * as pulumi from "@pulumi/pulumi";
import { DestroyGuard } from "../resources/checkpointGuard";
import { MovedRowsCleanup } from "../resources/rowsCleanup";
import { Server } from "../resources/server";
import type { MailSpec } from "../core/config";
import { dbIdentity } from "../core/target";
import { LMTP_TRANSPORT, VIRTUAL_TRANSPORT } from "../core/dovecotDelivery";
import { HostDelivery, MailHost, ownServerPlacement, type AccountDatabase } from "./mailHost";
import { MailAccounts } from "./mailAccounts";
import { MailDatabase } from "./mailDatabase";

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
    const server = new Server(spec.own.server, args.sshPrivateKey);
    const database = new MailDatabase(
      `${name}-database`,
      {
        server,
        settings: spec.database,
        adminPassword: args.adminPassword,
        clients: [spec.own, ...spec.servers],
        protect: spec.protect,
      },
      { parent: this, aliases: [{ name: "mail-database" }] },
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
    const db: AccountDatabase = {
      settings: spec.database,
      readerPassword: database.readerPassword,
      dovecotPassword: database.dovecotPassword,
      ready: database.ready,
      rows,
    };
    // This server's Dovecot first: with it, mail is delivered over its LMTP, and the domains'
    // rows that say so wait until it listens.
    const own = new HostDelivery(ownServerPlacement(this, name), spec.own, server, db);
    const delivery = own.delivery;
    const accounts = new MailAccounts(
      `${name}-accounts`,
      {
        target: dbIdentity(spec.database),
        domains: spec.domains,
        suspendedDomains: spec.suspendedDomains,
        aliasDomains: spec.aliasDomains,
        users: spec.users,
        aliases: spec.aliases,
        gid: own.owner.gid,
        transport: delivery ? LMTP_TRANSPORT : VIRTUAL_TRANSPORT,
        domainsAfter: delivery ? [delivery.ready] : [],
        after: database.ready,
      },
      { parent: this, aliases: [{ name: "mail-accounts" }] },
    );
    accounts.registered.then(rowsRegistered, rowsFailed);
    // Alias domains are virtual mailbox domains too: none may be in mydestination either.
    const virtualDomains = [...spec.domains, ...spec.aliasDomains.map((a) => a.domain)];
    const parts: pulumi.Resource[] = [
      database,
      ...own.postfix(virtualDomains, accounts.domains),
      ...spec.servers.map(
        (host) =>
          new MailHost(
            `${name}-${host.name}`,
            {
              host,
              database: db,
              sshPrivateKey: args.sshPrivateKey,
              virtualDomains,
              domainRows: accounts.domains,
            },
            { parent: this },
          ),
      ),
    ];
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

    this.uid = own.owner.uid;
    this.gid = own.owner.gid;
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
