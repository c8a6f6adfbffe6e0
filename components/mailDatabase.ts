// PostgreSQL for the mail accounts, through @pulumi/postgresql: a read-only login role for Postfix
// and Dovecot, an owner role, the `mail` database, schema public locked down, SELECT-only grants
// for the reader (tables made later included); MailSchema adds the tables and pg_hba lines.
// Children are named from this component's name; `aliases` keep the names of earlier versions,
// so an existing stack upgrades without a single replacement.

import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { CheckpointGuard } from "../resources/checkpointGuard";
import type { Server } from "../resources/server";
import type { DatabaseSettings } from "../spec/config";
import { MAIL_TABLES } from "../spec/tables";
import { MailSchema } from "./mailSchema";

export interface MailDatabaseArgs {
  /** How the mail server (whose pg_hba.conf vmail edits) is reached. */
  readonly server: Server;
  /** Where PostgreSQL is, and the names of the database and its two roles. */
  readonly settings: DatabaseSettings;
  /** The admin (superuser) role's password, a secret. */
  readonly adminPassword: pulumi.Input<string>;
  /** Keep the database (and its mail data) from being deleted. */
  readonly protect: boolean;
}

export class MailDatabase extends pulumi.ComponentResource {
  /** The reader role's password (secret): Postfix's maps hold it. */
  readonly readerPassword: pulumi.Output<string>;
  /** The owner role's password (secret), when it may log in (ownerLogin). */
  readonly ownerPassword?: pulumi.Output<string>;
  readonly databaseName: pulumi.Output<string>;
  /** Done when the tables exist and the reader's grants are in place: rows may be written. */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: MailDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:MailDatabase", name, {}, opts);
    const s = args.settings;
    /** Options of a child named `${name}-suffix`, known before as `formerly` (if it was). */
    const child = (formerly?: string, more: pulumi.CustomResourceOptions = {}) => ({
      parent: this,
      ...(formerly ? { aliases: [{ name: formerly }] } : {}),
      ...more,
    });

    // Every postgresql resource names this provider; none may fall back to a default one.
    const provider = new postgresql.Provider(
      `${name}-provider`,
      {
        host: s.host,
        port: s.port,
        username: s.adminUser,
        password: args.adminPassword,
        sslmode: s.sslMode,
        ...(s.sslRootCert ? { sslrootcert: s.sslRootCert } : {}),
        superuser: true,
        database: "postgres",
      },
      child("postgresql"),
    );
    // Roles and the database are created only after the guard has checked that this run may.
    const guard = new CheckpointGuard(
      `${name}-checkpoint-guard`,
      { database: s.name, roles: [s.readerRole, s.ownerRole] },
      child("checkpoint-guard"),
    );
    const pg = (formerly?: string, more: pulumi.CustomResourceOptions = {}) =>
      child(formerly, { provider, dependsOn: [guard], ...more });

    // Letters and digits only: safe in a Postfix .cf file, a libpq string and Dovecot's config.
    const password = (who: "reader" | "owner", role: string, version: number) =>
      pulumi.secret(
        new random.RandomPassword(
          `${name}-${who}-password`,
          { length: 32, special: false, keepers: { version: String(version) } },
          child(`${role}-password`),
        ).result,
      );
    // Each role's password is write-only: it reaches PostgreSQL, never the Role's state. The
    // version is what makes the provider set it again (raised with the config's counter).
    this.readerPassword = password("reader", s.readerRole, s.readerPasswordVersion);
    const reader = new postgresql.Role(
      `${name}-reader`,
      {
        name: s.readerRole,
        login: true,
        passwordWo: this.readerPassword,
        passwordWoVersion: String(s.readerPasswordVersion),
      },
      pg(s.readerRole),
    );
    // vmail only SET ROLEs to the owner: it logs in (with a password) only when asked to.
    this.ownerPassword = s.ownerLogin
      ? password("owner", s.ownerRole, s.ownerPasswordVersion)
      : undefined;
    const owner = new postgresql.Role(
      `${name}-owner`,
      {
        name: s.ownerRole,
        login: s.ownerLogin,
        ...(this.ownerPassword
          ? {
              passwordWo: this.ownerPassword,
              passwordWoVersion: String(s.ownerPasswordVersion),
            }
          : {}),
      },
      pg(s.ownerRole),
    );
    const database = new postgresql.Database(
      `${name}-db`,
      { name: s.name, owner: owner.name },
      pg(s.name, { protect: args.protect }),
    );
    this.databaseName = database.name;

    const schema = new MailSchema(
      `${name}-schema`,
      { server: args.server, settings: s, after: [database, owner] },
      { parent: this, aliases: [{ name: "mail-schema" }] },
    );
    // PUBLIC may neither connect to the mail database nor make temp tables in it; the reader may
    // connect (its owner may anyway).
    const publicDb = new postgresql.Grant(
      `${name}-public-db-lockdown`,
      { database: database.name, role: "public", objectType: "database", privileges: [] },
      pg(),
    );
    // Grants on one object go one after the other: PostgreSQL refuses two concurrent ACL
    // updates of the same object ("tuple concurrently updated").
    const connect = new postgresql.Grant(
      `${name}-reader-connect`,
      {
        database: database.name,
        role: reader.name,
        objectType: "database",
        privileges: ["CONNECT"],
      },
      pg(undefined, { dependsOn: [guard, publicDb] }),
    );
    const inDb = { database: database.name, schema: "public" };
    const afterTables = (formerly: string) => pg(formerly, { dependsOn: [schema.tables] });
    // PUBLIC keeps neither CREATE nor USAGE on schema public (an empty list revokes).
    const lockdown = new postgresql.Grant(
      `${name}-public-lockdown`,
      { ...inDb, role: "public", objectType: "schema", privileges: [] },
      afterTables("public-schema-lockdown"),
    );
    const usage = new postgresql.Grant(
      `${name}-reader-usage`,
      { ...inDb, role: reader.name, objectType: "schema", privileges: ["USAGE"] },
      pg(`${s.readerRole}-schema-usage`, { dependsOn: [schema.tables, lockdown] }),
    );
    const select = new postgresql.Grant(
      `${name}-reader-select`,
      {
        ...inDb,
        role: reader.name,
        objectType: "table",
        objects: [...MAIL_TABLES],
        privileges: ["SELECT"],
      },
      afterTables(`${s.readerRole}-select`),
    );
    // Tables the owner makes later are readable too (a Grant covers only tables that exist now).
    const later = new postgresql.DefaultPrivileges(
      `${name}-reader-select-later`,
      {
        ...inDb,
        owner: owner.name,
        role: reader.name,
        objectType: "table",
        privileges: ["SELECT"],
      },
      afterTables(`${s.readerRole}-select-later`),
    );

    this.ready = [...schema.ready, publicDb, connect, lockdown, usage, select, later];
    this.registerOutputs({
      databaseName: this.databaseName,
      readerPassword: this.readerPassword,
      ownerPassword: this.ownerPassword,
    });
  }
}
