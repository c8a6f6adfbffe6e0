// The top component: wires the mail owner, the database, the rows, the Postfix maps and settings
// and root's mail for one server. It holds no logic of its own.

import * as pulumi from "@pulumi/pulumi";
import type { MailSpec } from "../spec/config";
import { MailDatabase } from "./mailDatabase";
import { MailOwner } from "./mailOwner";
import { MailAccounts } from "./mailAccounts";
import { PostfixMaps } from "./postfixMaps";
import { PostfixSettings } from "./postfixSettings";
import { RootForward } from "./rootForward";
import { Server } from "../resources/server";

export interface MailServerArgs {
  spec: MailSpec;
  adminPassword: pulumi.Input<string>;
  /** The SSH private key (ssh access only). */
  sshPrivateKey?: pulumi.Output<string>;
}

export class MailServer extends pulumi.ComponentResource {
  readonly uid: pulumi.Output<number>;
  readonly gid: pulumi.Output<number>;
  readonly readerPassword: pulumi.Output<string>;
  readonly ownerPassword: pulumi.Output<string>;
  /** Generated mail passwords by address (secret), for the operator to hand over. */
  readonly generatedPasswords: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: MailServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:MailServer", name, {}, opts);
    const { spec } = args;
    const child = { parent: this };
    const server = new Server(spec.server, args.sshPrivateKey);

    const owner = new MailOwner("mail-owner", { server, owner: spec.owner }, child);
    const database = new MailDatabase(
      "mail-database",
      { server, settings: spec.database, adminPassword: args.adminPassword, protect: spec.protect },
      child,
    );
    const accounts = new MailAccounts(
      "mail-accounts",
      {
        domains: spec.domains,
        users: spec.users,
        aliases: spec.aliases,
        gid: owner.gid,
        after: database.ready,
      },
      child,
    );
    const maps = new PostfixMaps(
      "postfix-maps",
      {
        server,
        mapsDir: spec.postfix.mapsDir,
        database: spec.database,
        readerPassword: database.readerPassword,
        after: database.ready,
      },
      child,
    );
    new PostfixSettings(
      "postfix-settings",
      {
        postfix: spec.postfix,
        mailboxBase: spec.owner.mailboxBase,
        uid: owner.uid,
        gid: owner.gid,
        domains: spec.domains,
        mapFiles: maps.files,
        // The domains must be rows before Postfix is told to look them up.
        after: [...maps.files, ...accounts.domains],
      },
      child,
    );
    if (spec.rootForward.length > 0) {
      new RootForward(
        "root-mail",
        { server, targets: spec.rootForward, path: spec.rootForwardFile },
        child,
      );
    }

    this.uid = owner.uid;
    this.gid = owner.gid;
    this.readerPassword = database.readerPassword;
    this.ownerPassword = database.ownerPassword;
    this.generatedPasswords = accounts.generatedPasswords;
    this.registerOutputs({ uid: this.uid, gid: this.gid });
  }
}
