// PostgreSQL for the mail accounts, through @pulumi/postgresql: the roles (mailRoles.ts), the
// `mail` database owned by the owner role, and the grants (mailGrants.ts); MailSchema adds the
// tables and pg_hba lines. Every child waits for the checkpoint guard (databaseChildren.ts).

import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import { CheckpointGuard } from "../resources/checkpointGuard";
import { Milestone } from "../resources/milestone";
import type { Server } from "../resources/server";
import type { DatabaseSettings } from "../core/config";
import { pgServerIdentity } from "../core/target";
import { childOptionsOf, databaseChildren, type DatabaseChildren } from "./databaseChildren";
import { grantDovecot, grantReader, type MailDb, type ReaderGrants } from "./mailGrants";
import { dovecotRole, ownerRole, readerRole, roleNames } from "./mailRoles";
import { MailSchema } from "./mailSchema";
import type { HbaClient } from "../core/pgHba";

export interface MailDatabaseArgs {
  /** How the mail server (whose pg_hba.conf vmail edits) is reached. */
  readonly server: Server;
  /** Where PostgreSQL is, and the names of the database and its two roles. */
  readonly settings: DatabaseSettings;
  /** The admin (superuser) role's password, a secret. */
  readonly adminPassword: pulumi.Input<string>;
  /** The mail servers that reach the database over the network, for pg_hba. */
  readonly clients: HbaClient[];
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
  /**
   * Done when the tables exist and the reader's grants are in place: rows may be written. One
   * milestone, so each row's state names one dependency instead of a dozen.
   */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: MailDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:MailDatabase", name, {}, opts);
    const s = args.settings;
    const roles = roleNames(s);
    const at = this.guardedChildren(name, s, args.adminPassword, roles);

    const reader = readerRole(at, s);
    this.readerPassword = reader.password;
    const owner = ownerRole(at, s);
    this.ownerPassword = owner.password;
    const database = new postgresql.Database(
      `${name}-db`,
      { name: s.name, owner: owner.role.name },
      at.pg(s.name, { protect: args.protect }),
    );
    this.databaseName = database.name;
    const schema = new MailSchema(
      `${name}-schema`,
      { server: args.server, settings: s, clients: args.clients, after: [database, owner.role] },
      { parent: this, aliases: [{ name: "mail-schema" }] },
    );

    const db: MailDb = { name: database.name, tables: schema.tables };
    const readerGrants = grantReader(
      at,
      db,
      { who: "reader", role: reader.role.name, reads: "postfix" },
      s.readerRole,
    );
    const dovecot = s.dovecotRole
      ? this.dovecot(at, db, s.dovecotRole, s.dovecotPasswordVersion, readerGrants)
      : undefined;
    this.dovecotPassword = dovecot?.password;
    const ready = [...schema.ready, ...readerGrants.all, ...(dovecot?.grants ?? [])];
    this.ready = [new Milestone(`${name}-ready`, ready, { parent: this })];
    this.dropsOnDestroy = { database: s.name, roles };
    this.registerOutputs({
      databaseName: this.databaseName,
      readerPassword: this.readerPassword,
      ownerPassword: this.ownerPassword,
      dovecotPassword: this.dovecotPassword,
    });
  }

  /** The admin provider and the checkpoint guard, which every postgresql child uses. */
  private guardedChildren(
    name: string,
    s: DatabaseSettings,
    adminPassword: pulumi.Input<string>,
    roles: string[],
  ): DatabaseChildren {
    const child = childOptionsOf(this);
    const provider = new postgresql.Provider(
      `${name}-provider`,
      {
        host: s.host,
        port: s.port,
        username: s.adminUser,
        password: adminPassword,
        sslmode: s.sslMode,
        ...(s.sslRootCert ? { sslrootcert: s.sslRootCert } : {}),
        superuser: true,
        database: "postgres",
      },
      child("postgresql"),
    );
    // Roles and the database are created (or dropped) only after the guard has checked that this
    // run may (and that a new pgHost or pgPort has them already).
    const guard = new CheckpointGuard(
      `${name}-checkpoint-guard`,
      { database: s.name, roles, server: pgServerIdentity(s) },
      child("checkpoint-guard"),
    );
    return databaseChildren(name, child, provider, guard);
  }

  /** Dovecot's role and its grants, which follow the reader's on the same objects. */
  private dovecot(
    at: DatabaseChildren,
    db: MailDb,
    roleName: string,
    passwordVersion: number,
    reader: ReaderGrants,
  ): { password: pulumi.Output<string>; grants: postgresql.Grant[] } {
    const { role, password } = dovecotRole(at, roleName, passwordVersion);
    const grants = grantDovecot(
      at,
      db,
      { who: "dovecot", role: role.name, reads: "dovecot" },
      reader,
    );
    return { password, grants };
  }
}
