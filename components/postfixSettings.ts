// The main.cf settings of the articles (plus the domains lookup) set with postconf, the values
// they replace kept aside and put back on destroy, and a reload when Postfix runs.

import * as pulumi from "@pulumi/pulumi";
import { PostfixMainCf } from "../resources/postfixMainCf";
import type { Server } from "../resources/server";
import type { PostfixSettings as Settings } from "../core/config";
import { postconfInput } from "../core/postfixConfig";

export interface PostfixSettingsArgs {
  /** The mail server whose Postfix this is. */
  readonly server: Server;
  /** Postfix's config and maps directories, and whether maps go through proxymap. */
  readonly postfix: Settings;
  /** virtual_mailbox_base: the directory holding every maildir. */
  readonly mailboxBase: string;
  /** The mail owner's uid and gid, as the server has them. */
  readonly uid: pulumi.Input<number>;
  readonly gid: pulumi.Input<number>;
  /** The virtual mailbox domains (refused if Postfix lists one in mydestination). */
  readonly domains: string[];
  /** Ask Dovecot's quota-status about each recipient (it delivers; see DovecotDelivery). */
  readonly quotaStatus: boolean;
  /** The map files: a write of any of them (a repair included) reloads Postfix. */
  readonly mapFiles: { written: pulumi.Output<string> }[];
  /** What must be in place before Postfix is told to use the maps. */
  readonly after: pulumi.Input<pulumi.Resource>[];
}

export class PostfixSettings extends pulumi.ComponentResource {
  /** main.cf's settings as vmail set them. */
  readonly settings: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: PostfixSettingsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:PostfixSettings", name, {}, opts);
    // Only the settings wait for the uid and gid; the rest is known at preview, so a preview
    // never shows the file's place as unknown (which would read as a replacement).
    const known = postconfInput(args, 0, 0);
    const settings = pulumi
      .all([args.uid, args.gid])
      .apply(([uid, gid]) => postconfInput(args, uid, gid).settings);
    const mainCf = new PostfixMainCf(
      `${name}-main-cf`,
      {
        server: args.server.identity,
        settings,
        domains: known.domains,
        proxiedMaps: known.proxiedMaps,
        recipientChecks: known.recipientChecks,
        configDir: known.configDir,
        backupFile: known.backupFile,
        reloadAfter: pulumi.all(args.mapFiles.map((f) => f.written)),
      },
      { parent: this, dependsOn: args.after, aliases: [{ name: "postfix-main-cf" }] },
    );
    this.settings = mainCf.settings;
    this.registerOutputs({ settings: this.settings });
  }
}
