// Points Postfix at the database: the pgsql lookup files, 0640 root:postfix because each holds
// the reader's password. PostfixSettings makes main.cf use them.

import * as pulumi from "@pulumi/pulumi";
import type { Server } from "../resources/server";
import type { ServerFile } from "../resources/serverFile";
import type { DatabaseHost, DatabaseSettings } from "../core/config";
import type { FileOwnership } from "../core/scripts";
import { MAP_NAMES, mapFilePath, renderMapFile } from "../core/postfixConfig";

/** Each map file's mode and owner (tests/unit/graph.test.ts pins the value). */
export const MAP_FILE_OWNERSHIP: FileOwnership = { mode: "0640", owner: "root", group: "postfix" };

export interface PostfixMapsArgs {
  /** How the mail server is reached. */
  readonly server: Server;
  /** Where the .cf files go. */
  readonly mapsDir: string;
  /** The reader role and database the maps query. */
  readonly database: DatabaseSettings;
  /** Where this server's Postfix reads the database. */
  readonly databaseHosts: DatabaseHost[];
  /** The reader's password, written into every file (so each file is a secret). */
  readonly readerPassword: pulumi.Input<string>;
  /**
   * Resources the maps need in place first: grants, pg_hba, and every row (a file names the
   * database, so after a move Postfix reads the new one only once each row is there).
   */
  readonly after: pulumi.Input<pulumi.Input<pulumi.Resource>[]>;
}

export class PostfixMaps extends pulumi.ComponentResource {
  readonly files: ServerFile[];

  constructor(name: string, args: PostfixMapsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:PostfixMaps", name, {}, opts);
    const db = args.database;
    const connection = { hosts: args.databaseHosts, user: db.readerRole, dbname: db.name };
    this.files = MAP_NAMES.map((map) =>
      args.server.file(
        `${name}-${map}`,
        {
          path: mapFilePath(args.mapsDir, map),
          content: pulumi.secret(
            pulumi
              .output(args.readerPassword)
              .apply((password) => renderMapFile(map, connection, password)),
          ),
          ownership: MAP_FILE_OWNERSHIP,
        },
        { parent: this, dependsOn: args.after, aliases: [{ name: `postfix-${map}-map` }] },
      ),
    );
    this.registerOutputs({ paths: this.files.map((f) => f.path) });
  }
}
