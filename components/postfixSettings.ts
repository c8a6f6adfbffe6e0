// The main.cf settings of the articles (plus the domains lookup) set with postconf, the values
// they replace kept aside and put back on destroy, and a reload when Postfix runs.

import * as pulumi from "@pulumi/pulumi";
import type { PostfixSettings as Settings } from "../spec/config";
import { mainCfSettings, proxiedMaps } from "../spec/postfixConfig";
import { PostfixMainCf } from "../resources/postfixMainCf";
import type { PostconfInput } from "../spec/scripts";

export interface PostfixSettingsArgs {
  postfix: Settings;
  mailboxBase: string;
  uid: pulumi.Input<number>;
  gid: pulumi.Input<number>;
  domains: string[];
  /** The map files: a write of any of them (a repair included) reloads Postfix. */
  mapFiles: { written: pulumi.Output<string> }[];
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
    new PostfixMainCf(
      "postfix-main-cf",
      {
        settings: input.settings,
        domains: input.domains,
        proxiedMaps: input.proxiedMaps,
        configDir: input.configDir,
        backupFile: input.backupFile,
        reloadAfter: pulumi.all(args.mapFiles.map((f) => f.written)),
      },
      { parent: this, dependsOn: args.after },
    );
    this.registerOutputs({ settings: this.settings });
  }
}
