// Points Postfix at the database: the pgsql lookup files (0640 root:postfix, they hold the
// reader's password) and the main.cf settings that use them, then a reload if Postfix runs.

import * as pulumi from "@pulumi/pulumi";
import type { PostfixSettings } from "./config";
import {
  MAP_NAMES,
  mainCfSettings,
  mapFilePath,
  proxiedMaps,
  renderMapFile,
  type MapConnection,
} from "./postfixConfig";
import { postconfApplyScript, postconfRemoveScript, type PostconfInput } from "./scripts";
import type { Server } from "./server";

export interface PostfixMapsArgs {
  server: Server;
  postfix: PostfixSettings;
  connection: MapConnection;
  readerPassword: pulumi.Input<string>;
  mailboxBase: string;
  uid: pulumi.Input<number>;
  gid: pulumi.Input<number>;
  domains: string[];
  /** Resources the maps need in place first (database grants, pg_hba). */
  dependsOn: pulumi.Input<pulumi.Resource>[];
}

export class PostfixMaps extends pulumi.ComponentResource {
  readonly settings: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: PostfixMapsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:PostfixMaps", name, {}, opts);
    const p = args.postfix;
    const files = MAP_NAMES.map((map) =>
      args.server.file(
        `postfix-${map}-map`,
        {
          path: mapFilePath(p.mapsDir, map),
          content: pulumi.secret(
            pulumi
              .output(args.readerPassword)
              .apply((pw) => renderMapFile(map, args.connection, pw)),
          ),
          ownership: { mode: "0640", owner: "root", group: "postfix" },
        },
        { parent: this, dependsOn: args.dependsOn },
      ),
    );

    const input = pulumi.all([args.uid, args.gid]).apply(([uid, gid]): PostconfInput => ({
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
    }));
    this.settings = input.settings;

    // Re-run (and so reload Postfix) whenever a map file changed, e.g. a rotated password.
    args.server.command(
      "postfix-main-cf",
      {
        script: input.apply(postconfApplyScript),
        deleteScript: input.apply(postconfRemoveScript),
        triggers: files.map((f) => f.sha256),
        logOutput: true,
      },
      { parent: this, dependsOn: files },
    );
    this.registerOutputs({ settings: this.settings });
  }
}
