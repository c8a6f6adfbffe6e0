// The main.cf settings of the articles (plus the domains lookup) set with postconf, the values
// they replace kept aside and put back on destroy, and a reload when Postfix runs.

import * as pulumi from "@pulumi/pulumi";
import type { PostfixSettings as Settings } from "./config";
import { mainCfSettings, proxiedMaps } from "./postfixConfig";
import { postconfApplyScript, postconfRemoveScript, type PostconfInput } from "./scripts";
import type { Server } from "./server";

export interface PostfixSettingsArgs {
  server: Server;
  postfix: Settings;
  mailboxBase: string;
  uid: pulumi.Input<number>;
  gid: pulumi.Input<number>;
  domains: string[];
  /** The map files: a change to any of them re-runs the settings and so reloads Postfix. */
  mapFiles: { sha256: pulumi.Output<string> }[];
  after: pulumi.Input<pulumi.Resource>[];
}

/** The input of the postconf scripts, for a given uid and gid. */
export function postconfInput(
  args: Pick<PostfixSettingsArgs, "postfix" | "mailboxBase" | "domains">,
  uid: number,
  gid: number,
): PostconfInput {
  const p = args.postfix;
  return {
    configDir: p.configDir,
    settings: mainCfSettings({
      mapsDir: p.mapsDir,
      mailboxBase: args.mailboxBase,
      uid,
      gid,
      proxy: p.proxy,
    }),
    domains: args.domains,
    proxiedMaps: p.proxy ? proxiedMaps(p.mapsDir) : [],
    backupFile: `${p.mapsDir}/main.cf.before-vmail`,
  };
}

export class PostfixSettings extends pulumi.ComponentResource {
  readonly settings: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: PostfixSettingsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:PostfixSettings", name, {}, opts);
    const input = pulumi
      .all([args.uid, args.gid])
      .apply(([uid, gid]) => postconfInput(args, uid, gid));
    this.settings = input.settings;
    args.server.command(
      "postfix-main-cf",
      {
        script: input.apply(postconfApplyScript),
        deleteScript: input.apply(postconfRemoveScript),
        triggers: args.mapFiles.map((f) => f.sha256),
        logOutput: true,
      },
      { parent: this, dependsOn: args.after },
    );
    this.registerOutputs({ settings: this.settings });
  }
}
