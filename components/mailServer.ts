// The top component: wires the mail owner, the database, one row per domain/user/alias, the
// Postfix maps and root's mail for one server. It holds no logic of its own.

import * as pulumi from "@pulumi/pulumi";
import type { MailSpec } from "./config";
import { MailDatabase } from "./mailDatabase";
import { MailOwner } from "./mailOwner";
import { MailAlias, MailDomain, MailUser } from "./mailRows";
import { PostfixMaps } from "./postfixMaps";
import { RootForward } from "./rootForward";
import { Server } from "./server";

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
    const server = new Server(spec.server, args.sshPrivateKey);

    const owner = new MailOwner("mail-owner", { server, owner: spec.owner }, { parent: this });
    const database = new MailDatabase(
      "mail-database",
      { server, settings: spec.database, adminPassword: args.adminPassword, protect: spec.protect },
      { parent: this },
    );
    const rowOpts = { parent: this, dependsOn: database.ready };

    const domains = spec.domains.map((d) => new MailDomain(d, { gid: owner.gid }, rowOpts));
    const users = spec.users.map(
      (u) =>
        new MailUser(
          u.address,
          {
            realname: u.realname,
            maildir: u.maildir,
            scheme: u.scheme,
            passwordHash: u.password.kind === "hash" ? u.password.hash : undefined,
            password: u.password.kind === "clear" ? pulumi.secret(u.password.clear) : undefined,
            generateVersion: u.password.kind === "generated" ? u.password.version : undefined,
          },
          rowOpts,
        ),
    );
    for (const a of spec.aliases) new MailAlias(a.address, { targets: a.targets }, rowOpts);

    new PostfixMaps(
      "postfix",
      {
        server,
        postfix: spec.postfix,
        connection: {
          port: spec.database.serverPort,
          user: spec.database.readerRole,
          dbname: spec.database.name,
        },
        readerPassword: database.readerPassword,
        mailboxBase: spec.owner.mailboxBase,
        uid: owner.uid,
        gid: owner.gid,
        domains: spec.domains,
        dependsOn: [...database.ready, ...domains],
      },
      { parent: this },
    );
    if (spec.rootForward.length > 0) {
      new RootForward(
        "root-mail",
        { server, targets: spec.rootForward, path: spec.rootForwardFile },
        { parent: this },
      );
    }

    this.uid = owner.uid;
    this.gid = owner.gid;
    this.readerPassword = database.readerPassword;
    this.ownerPassword = database.ownerPassword;
    const generated = spec.users.flatMap((u, i) =>
      u.password.kind === "generated" ? [{ address: u.address, user: users[i] }] : [],
    );
    this.generatedPasswords = pulumi.secret(
      pulumi
        .all(generated.map((g) => g.user.generatedPassword))
        .apply((pws) => Object.fromEntries(generated.map((g, i) => [g.address, pws[i] ?? ""]))),
    );
    this.registerOutputs({ uid: this.uid, gid: this.gid });
  }
}
