// The Unix account that owns every maildir. Its uid and gid are read back from the server (never
// copied by hand) and feed the transports rows and Postfix's virtual_uid_maps/virtual_gid_maps.

import * as pulumi from "@pulumi/pulumi";
import type { MailOwnerSpec } from "../core/config";
import { mailOwnerScript, parseUidGid } from "../core/scripts";
import type { Server } from "../resources/server";

export interface MailOwnerArgs {
  /** How the mail server is reached. */
  readonly server: Server;
  /** The user, group, optional fixed ids and the mailbox base directory. */
  readonly owner: MailOwnerSpec;
}

export class MailOwner extends pulumi.ComponentResource {
  /** The mail owner's uid and gid, read back from the server. */
  readonly uid: pulumi.Output<number>;
  readonly gid: pulumi.Output<number>;

  constructor(name: string, args: MailOwnerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:MailOwner", name, {}, opts);
    // No delete script: destroying the stack leaves the account and every maildir in place.
    const account = args.server.command(
      `${name}-account`,
      { script: mailOwnerScript(args.owner), logOutput: true },
      { parent: this, aliases: [{ name: "mail-owner-account" }] },
    );
    const ids = account.stdout.apply(parseUidGid);
    this.uid = ids.uid;
    this.gid = ids.gid;
    this.registerOutputs({ uid: this.uid, gid: this.gid });
  }
}
