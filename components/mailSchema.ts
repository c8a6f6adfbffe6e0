// What vmail's own providers add to a mail database: the three tables (schema public handed to
// the owner role) and the pg_hba.conf lines for the reader and the owner, followed by a reload.

import * as pulumi from "@pulumi/pulumi";
import type { DatabaseSettings } from "../spec/config";
import { HBA_BLOCK, renderHbaBlock } from "../spec/pgHba";
import { MailTables, PgReload } from "../resources/schema";
import type { Server } from "../resources/server";

export interface MailSchemaArgs {
  server: Server;
  settings: DatabaseSettings;
  /** The database and owner role, which must exist first (a component's dependsOn does not reach its children). */
  after?: pulumi.Input<pulumi.Resource>[];
}

export class MailSchema extends pulumi.ComponentResource {
  readonly tables: MailTables;
  /** Done when the tables exist and PostgreSQL has reloaded vmail's pg_hba lines. */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: MailSchemaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:MailSchema", name, {}, opts);
    const s = args.settings;
    this.tables = new MailTables(
      `${s.name}-tables`,
      { database: s.name, ownerRole: s.ownerRole },
      { parent: this, dependsOn: args.after },
    );
    const hba = args.server.file(
      "pg-hba-block",
      { path: s.hbaFile, content: renderHbaBlock(s), block: HBA_BLOCK },
      { parent: this },
    );
    const reload = new PgReload(
      "pg-hba-reload",
      { trigger: hba.written },
      { parent: this, dependsOn: [hba] },
    );
    this.ready = [this.tables, reload];
    this.registerOutputs({});
  }
}
