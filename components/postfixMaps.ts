// Points Postfix at the database: the pgsql lookup files, 0640 root:postfix because each holds
// the reader's password. PostfixSettings makes main.cf use them.

import * as pulumi from "@pulumi/pulumi";
import { MAP_NAMES, mapFilePath, renderMapFile, type MapConnection } from "./postfixConfig";
import type { Server } from "./server";
import type { ServerFile } from "./serverFile";

export interface PostfixMapsArgs {
  server: Server;
  mapsDir: string;
  connection: MapConnection;
  readerPassword: pulumi.Input<string>;
  /** Resources the maps need in place first (grants, pg_hba). */
  after: pulumi.Input<pulumi.Resource>[];
}

export class PostfixMaps extends pulumi.ComponentResource {
  readonly files: ServerFile[];

  constructor(name: string, args: PostfixMapsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:PostfixMaps", name, {}, opts);
    this.files = MAP_NAMES.map((map) =>
      args.server.file(
        `postfix-${map}-map`,
        {
          path: mapFilePath(args.mapsDir, map),
          content: pulumi.secret(
            pulumi
              .output(args.readerPassword)
              .apply((password) => renderMapFile(map, args.connection, password)),
          ),
          ownership: { mode: "0640", owner: "root", group: "postfix" },
        },
        { parent: this, dependsOn: args.after },
      ),
    );
    this.registerOutputs({});
  }
}
