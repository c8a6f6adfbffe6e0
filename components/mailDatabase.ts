// PostgreSQL for the mail accounts, through @pulumi/postgresql: a read-only login role for Postfix
// and Dovecot, an owner role, the `mail` database, schema public locked down, SELECT-only grants
// for the reader (tables made later included); MailSchema adds the tables and pg_hba lines.

import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { CheckpointGuard } from "../resources/checkpointGuard";
import type { DatabaseSettings } from "../spec/config";
import { MailSchema } from "./mailSchema";
import type { Server } from "../resources/server";

export interface MailDatabaseArgs {
  server: Server;
  settings: DatabaseSettings;
  adminPassword: pulumi.Input<string>;
  /** Keep the database (and its mail data) from being deleted. */
  protect: boolean;
}

export const MAIL_TABLES = ["users", "transports", "aliases"];

export class MailDatabase extends pulumi.ComponentResource {
  readonly readerPassword: pulumi.Output<string>;
  readonly ownerPassword: pulumi.Output<string>;
  readonly databaseName: pulumi.Output<string>;
  /** Done when the tables exist and the reader's grants are in place: rows may be written. */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: MailDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:MailDatabase", name, {}, opts);
    const s = args.settings;
    const child = { parent: this };

    // Every postgresql resource names this provider; none may fall back to a default one.
    const provider = new postgresql.Provider(
      "postgresql",
      {
        host: s.host,
        port: s.port,
        username: s.adminUser,
        password: args.adminPassword,
        sslmode: s.sslMode,
        superuser: true,
        database: "postgres",
      },
      child,
    );
    // Roles and the database are created only after the guard has checked that this run may.
    const guard = new CheckpointGuard(
      "checkpoint-guard",
      { database: s.name, roles: [s.readerRole, s.ownerRole] },
      child,
    );
    const pg = { parent: this, provider, dependsOn: [guard] };

    // Letters and digits only: safe in a Postfix .cf file, a libpq string and Dovecot's config.
    const password = (role: string, version: number) =>
      new random.RandomPassword(
        `${role}-password`,
        { length: 32, special: false, keepers: { version: String(version) } },
        child,
      );
    const readerSecret = password(s.readerRole, s.readerPasswordVersion);
    const ownerSecret = password(s.ownerRole, s.ownerPasswordVersion);
    // Secret already by the random provider's own marking; said again so it never depends on it.
    this.readerPassword = pulumi.secret(readerSecret.result);
    this.ownerPassword = pulumi.secret(ownerSecret.result);

    const reader = new postgresql.Role(
      s.readerRole,
      { name: s.readerRole, login: true, password: this.readerPassword },
      pg,
    );
    const owner = new postgresql.Role(
      s.ownerRole,
      { name: s.ownerRole, login: true, password: this.ownerPassword },
      pg,
    );
    const database = new postgresql.Database(
      s.name,
      { name: s.name, owner: owner.name },
      { ...pg, protect: args.protect },
    );
    this.databaseName = database.name;

    const schema = new MailSchema(
      "mail-schema",
      { server: args.server, settings: s, after: [database, owner] },
      { parent: this },
    );
    const tables = schema.tables;
    const inDb = { database: database.name, schema: "public" };
    const afterTables = { ...pg, dependsOn: [tables] };
    // PUBLIC keeps neither CREATE nor USAGE on schema public (an empty list revokes).
    const lockdown = new postgresql.Grant(
      "public-schema-lockdown",
      { ...inDb, role: "public", objectType: "schema", privileges: [] },
      afterTables,
    );
    const usage = new postgresql.Grant(
      `${s.readerRole}-schema-usage`,
      { ...inDb, role: reader.name, objectType: "schema", privileges: ["USAGE"] },
      afterTables,
    );
    const select = new postgresql.Grant(
      `${s.readerRole}-select`,
      {
        ...inDb,
        role: reader.name,
        objectType: "table",
        objects: MAIL_TABLES,
        privileges: ["SELECT"],
      },
      afterTables,
    );
    // Tables the owner makes later are readable too (a Grant covers only tables that exist now).
    const later = new postgresql.DefaultPrivileges(
      `${s.readerRole}-select-later`,
      {
        ...inDb,
        owner: owner.name,
        role: reader.name,
        objectType: "table",
        privileges: ["SELECT"],
      },
      afterTables,
    );

    this.ready = [...schema.ready, lockdown, usage, select, later];
    this.registerOutputs({ databaseName: this.databaseName });
  }
}
