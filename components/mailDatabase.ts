// PostgreSQL for the mail accounts, through @pulumi/postgresql: a read-only login role for Postfix
// (the reader: it never sees a password hash), one for Dovecot (it may read them), an owner role,
// the `mail` database, schema public locked down, SELECT-only grants on what each one reads (no
// default privileges: a table made later is nobody's to read); MailSchema adds the tables and
// pg_hba lines.
// Children are named from this component's name; `aliases` keep the names of earlier versions,
// so an existing stack upgrades without a single replacement.

import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { CheckpointGuard } from "../resources/checkpointGuard";
import type { Server } from "../resources/server";
import type { DatabaseSettings } from "../spec/config";
import { pgServerIdentity } from "../spec/target";
import { TABLES, usersColumnsReadBy, wholeTablesReadBy, type MailReader } from "../spec/tables";
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
  /** Dovecot's role's password (secret), when vmail sets Dovecot up. */
  readonly dovecotPassword?: pulumi.Output<string>;
  /** The owner role's password (secret), when it may log in (ownerLogin). */
  readonly ownerPassword?: pulumi.Output<string>;
  readonly databaseName: pulumi.Output<string>;
  /** What a destroy drops that cannot be made again at will: named by MailServer's DestroyGuard. */
  readonly dropsOnDestroy: { database: string; roles: string[] };
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
    // Roles and the database are created (or dropped) only after the guard has checked that this
    // run may (and that a new pgHost or pgPort has them already).
    const roles = [s.readerRole, s.ownerRole, ...(s.dovecotRole ? [s.dovecotRole] : [])];
    const guard = new CheckpointGuard(
      `${name}-checkpoint-guard`,
      { database: s.name, roles, server: pgServerIdentity(s) },
      child("checkpoint-guard"),
    );
    const pg = (formerly?: string, more: pulumi.CustomResourceOptions = {}) =>
      child(formerly, { provider, dependsOn: [guard], ...more });

    // Letters and digits only: safe in a Postfix .cf file, a libpq string and Dovecot's config.
    const password = (who: "reader" | "owner" | "dovecot", role: string, version: number) =>
      pulumi.secret(
        new random.RandomPassword(
          `${name}-${who}-password`,
          { length: 32, special: false, keepers: { version: String(version) } },
          child(`${role}-password`),
        ).result,
      );
    /**
     * A role; one that logs in has a password, write-only: it reaches PostgreSQL, never the
     * Role's state. The version is what makes the provider set it again (raised with the
     * config's counter).
     */
    const role = (
      who: "reader" | "owner" | "dovecot",
      roleName: string,
      login?: { password: pulumi.Output<string>; version: number },
      formerly?: string,
    ) =>
      new postgresql.Role(
        `${name}-${who}`,
        {
          name: roleName,
          login: login !== undefined,
          ...(login
            ? { passwordWo: login.password, passwordWoVersion: String(login.version) }
            : {}),
        },
        pg(formerly),
      );
    const readerVersion = s.readerPasswordVersion;
    this.readerPassword = password("reader", s.readerRole, readerVersion);
    const reader = role(
      "reader",
      s.readerRole,
      { password: this.readerPassword, version: readerVersion },
      s.readerRole,
    );
    // vmail only SET ROLEs to the owner: it logs in (with a password) only when asked to.
    this.ownerPassword = s.ownerLogin
      ? password("owner", s.ownerRole, s.ownerPasswordVersion)
      : undefined;
    const owner = role(
      "owner",
      s.ownerRole,
      this.ownerPassword && { password: this.ownerPassword, version: s.ownerPasswordVersion },
      s.ownerRole,
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
    /** CONNECT on the mail database. */
    const connectTo = (role: pulumi.Input<string>) => ({
      database: database.name,
      role,
      objectType: "database",
      privileges: ["CONNECT"],
    });
    // Grants on one object go one after the other: PostgreSQL refuses two concurrent ACL
    // updates of the same object ("tuple concurrently updated").
    const connect = new postgresql.Grant(
      `${name}-reader-connect`,
      connectTo(reader.name),
      pg(undefined, { dependsOn: [guard, publicDb] }),
    );
    const inDb = { database: database.name, schema: "public" };
    /** USAGE on schema public. */
    const schemaUsage = (role: pulumi.Input<string>) => ({
      ...inDb,
      role,
      objectType: "schema",
      privileges: ["USAGE"],
    });
    const afterTables = (formerly: string) => pg(formerly, { dependsOn: [schema.tables] });
    // PUBLIC keeps neither CREATE nor USAGE on schema public (an empty list revokes).
    const lockdown = new postgresql.Grant(
      `${name}-public-lockdown`,
      { ...inDb, role: "public", objectType: "schema", privileges: [] },
      afterTables("public-schema-lockdown"),
    );
    const usage = new postgresql.Grant(
      `${name}-reader-usage`,
      schemaUsage(reader.name),
      pg(`${s.readerRole}-schema-usage`, { dependsOn: [schema.tables, lockdown] }),
    );
    // What each role may read comes from the tables' description (spec/tables.ts): Postfix
    // reads transports and aliases whole, and of users only what its maps look up.
    // Replaced old-first: deleting a table grant revokes SELECT on every table it named (each
    // column grant included), which would undo a new grant made before it.
    const select = new postgresql.Grant(
      `${name}-reader-select`,
      {
        ...inDb,
        role: reader.name,
        objectType: "table",
        objects: wholeTablesReadBy("postfix"),
        privileges: ["SELECT"],
      },
      pg(`${s.readerRole}-select`, { dependsOn: [schema.tables], deleteBeforeReplace: true }),
    );
    /** SELECT on the users columns `reader`'s role may read. */
    const usersColumns = (role: pulumi.Input<string>, mailReader: MailReader) => ({
      ...inDb,
      role,
      objectType: "column",
      objects: [TABLES.users.table],
      columns: usersColumnsReadBy(mailReader),
      privileges: ["SELECT"],
    });
    const readerUsers = new postgresql.Grant(
      `${name}-reader-select-users`,
      usersColumns(reader.name, "postfix"),
      // A new column replaces it: the old grant's REVOKE must not undo the new one's columns.
      pg(undefined, { dependsOn: [schema.tables, select], deleteBeforeReplace: true }),
    );
    const ready = [...schema.ready, publicDb, connect, lockdown, usage, select, readerUsers];

    // Dovecot checks passwords: its role may read the hashes, and nothing but the users table.
    // Its grants follow the reader's on the same objects (see "one after the other" above).
    if (s.dovecotRole) {
      const version = s.dovecotPasswordVersion;
      this.dovecotPassword = password("dovecot", s.dovecotRole, version);
      const dovecot = role("dovecot", s.dovecotRole, { password: this.dovecotPassword, version });
      const dovecotConnect = new postgresql.Grant(
        `${name}-dovecot-connect`,
        connectTo(dovecot.name),
        pg(undefined, { dependsOn: [guard, connect] }),
      );
      const dovecotUsage = new postgresql.Grant(
        `${name}-dovecot-usage`,
        schemaUsage(dovecot.name),
        pg(undefined, { dependsOn: [schema.tables, usage] }),
      );
      const dovecotUsers = new postgresql.Grant(
        `${name}-dovecot-select-users`,
        usersColumns(dovecot.name, "dovecot"),
        pg(undefined, { dependsOn: [schema.tables, readerUsers], deleteBeforeReplace: true }),
      );
      ready.push(dovecotConnect, dovecotUsage, dovecotUsers);
    }
    this.ready = ready;
    this.dropsOnDestroy = { database: s.name, roles };
    this.registerOutputs({
      databaseName: this.databaseName,
      readerPassword: this.readerPassword,
      ownerPassword: this.ownerPassword,
      dovecotPassword: this.dovecotPassword,
    });
  }
}
