// What vmail's own providers add to a mail database: the three tables (schema public handed to
// the owner role) and the pg_hba.conf lines for the reader and the owner, followed by a reload.

import * as pulumi from "@pulumi/pulumi";
import { MailTables, PgReload } from "../resources/schema";
import type { Server } from "../resources/server";
import type { DatabaseSettings } from "../core/config";
import { HBA_BLOCK, renderHbaBlock, type HbaClient } from "../core/pgHba";
import { dbIdentity } from "../core/target";

export interface MailSchemaArgs {
  /** How the mail server (whose pg_hba.conf this is) is reached. */
  readonly server: Server;
  /** The database, its roles and the pg_hba.conf file. */
  readonly settings: DatabaseSettings;
  /** The mail servers that reach the database over the network, for pg_hba. */
  readonly clients: HbaClient[];
  /** The database and owner role, which must exist first (a component's dependsOn does not reach its children). */
  readonly after?: pulumi.Input<pulumi.Resource>[];
}

export class MailSchema extends pulumi.ComponentResource {
  readonly tables: MailTables;
  /** Done when the tables exist and PostgreSQL has reloaded vmail's pg_hba lines. */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: MailSchemaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:MailSchema", name, {}, opts);
    const s = args.settings;
    this.tables = new MailTables(
      `${name}-tables`,
      { database: s.name, ownerRole: s.ownerRole, target: dbIdentity(s) },
      { parent: this, dependsOn: args.after, aliases: [{ name: `${s.name}-tables` }] },
    );
    const hba = args.server.file(
      `${name}-pg-hba`,
      { path: s.hbaFile, content: renderHbaBlock(s, args.clients), block: HBA_BLOCK },
      { parent: this, aliases: [{ name: "pg-hba-block" }] },
    );
    const reload = new PgReload(
      `${name}-pg-reload`,
      {
        trigger: hba.written,
        hbaFile: s.hbaFile,
        server: args.server.identity,
        target: dbIdentity(s),
      },
      { parent: this, dependsOn: [hba], aliases: [{ name: "pg-hba-reload" }] },
    );
    this.ready = [this.tables, reload];
    this.registerOutputs({ tables: this.tables.id });
  }
}
