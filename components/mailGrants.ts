// What each role may do in the mail database: PUBLIC is locked out, and the reader and Dovecot get
// SELECT-only grants on what they read (no default privileges: a table made later is nobody's to
// read). What each one reads comes from the tables' description (core/tables.ts).
// Grants on one object go one after the other: PostgreSQL refuses two concurrent ACL updates of
// the same object ("tuple concurrently updated"), so each grant waits for the one before it.

import * as postgresql from "@pulumi/postgresql";
import type * as pulumi from "@pulumi/pulumi";
import { TABLES, usersColumnsReadBy, wholeTablesReadBy, type MailReader } from "../core/tables";
import type { DatabaseChildren } from "./databaseChildren";

export interface MailDb {
  /** The database's name, an output of the Database: grants wait for it. */
  readonly name: pulumi.Output<string>;
  /** MailSchema's tables: grants in schema public wait for them. */
  readonly tables: pulumi.Resource;
}

/** A login role that reads the mail tables. */
export interface Grantee {
  /** Names its grants: `${name}-${who}-connect`, ... */
  readonly who: "reader" | "dovecot";
  readonly role: pulumi.Input<string>;
  readonly reads: MailReader;
}

/** PUBLIC's lockdown and the reader's grants: the ones Dovecot's follow. */
export interface ReaderGrants {
  readonly connect: postgresql.Grant;
  readonly usage: postgresql.Grant;
  readonly users: postgresql.Grant;
  /** Each of them, in the order they are made. */
  readonly all: postgresql.Grant[];
}

/** `formerlyRole` is the reader's role name, which named some of its grants in earlier versions. */
export function grantReader(
  at: DatabaseChildren,
  db: MailDb,
  reader: Grantee,
  formerlyRole: string,
): ReaderGrants {
  const publicDb = lockDatabase(at, db);
  const connect = grantConnect(at, db, reader, publicDb);
  const lockdown = lockSchema(at, db);
  const usage = grantUsage(at, db, reader, lockdown, `${formerlyRole}-schema-usage`);
  const select = grantWholeTables(at, db, reader, `${formerlyRole}-select`);
  const users = grantUsersColumns(at, db, reader, select);
  return { connect, usage, users, all: [publicDb, connect, lockdown, usage, select, users] };
}

// Dovecot checks passwords: its role may read the hashes, and nothing but the users table.
export function grantDovecot(
  at: DatabaseChildren,
  db: MailDb,
  dovecot: Grantee,
  reader: ReaderGrants,
): postgresql.Grant[] {
  return [
    grantConnect(at, db, dovecot, reader.connect),
    grantUsage(at, db, dovecot, reader.usage),
    grantUsersColumns(at, db, dovecot, reader.users),
  ];
}

// PUBLIC may neither connect to the mail database nor make temp tables in it; the reader may
// connect (its owner may anyway).
function lockDatabase(at: DatabaseChildren, db: MailDb): postgresql.Grant {
  return new postgresql.Grant(
    `${at.name}-public-db-lockdown`,
    { database: db.name, role: "public", objectType: "database", privileges: [] },
    at.pg(),
  );
}

// PUBLIC keeps neither CREATE nor USAGE on schema public (an empty list revokes).
function lockSchema(at: DatabaseChildren, db: MailDb): postgresql.Grant {
  return new postgresql.Grant(
    `${at.name}-public-lockdown`,
    { ...inPublic(db), role: "public", objectType: "schema", privileges: [] },
    at.pg("public-schema-lockdown", { dependsOn: [db.tables] }),
  );
}

function grantConnect(
  at: DatabaseChildren,
  db: MailDb,
  to: Grantee,
  after: pulumi.Resource,
): postgresql.Grant {
  return new postgresql.Grant(
    `${at.name}-${to.who}-connect`,
    { database: db.name, role: to.role, objectType: "database", privileges: ["CONNECT"] },
    at.pg(undefined, { dependsOn: [at.guard, after] }),
  );
}

/** USAGE on schema public. */
function grantUsage(
  at: DatabaseChildren,
  db: MailDb,
  to: Grantee,
  after: pulumi.Resource,
  formerly?: string,
): postgresql.Grant {
  return new postgresql.Grant(
    `${at.name}-${to.who}-usage`,
    { ...inPublic(db), role: to.role, objectType: "schema", privileges: ["USAGE"] },
    at.pg(formerly, { dependsOn: [db.tables, after] }),
  );
}

// Replaced old-first: deleting a table grant revokes SELECT on every table it named (each
// column grant included), which would undo a new grant made before it.
function grantWholeTables(
  at: DatabaseChildren,
  db: MailDb,
  to: Grantee,
  formerly: string,
): postgresql.Grant {
  return new postgresql.Grant(
    `${at.name}-${to.who}-select`,
    {
      ...inPublic(db),
      role: to.role,
      objectType: "table",
      objects: wholeTablesReadBy(to.reads),
      privileges: ["SELECT"],
    },
    at.pg(formerly, { dependsOn: [db.tables], deleteBeforeReplace: true }),
  );
}

// Replaced old-first too: a new column replaces it, and the old grant's REVOKE must not undo the
// new one's columns.
function grantUsersColumns(
  at: DatabaseChildren,
  db: MailDb,
  to: Grantee,
  after: pulumi.Resource,
): postgresql.Grant {
  return new postgresql.Grant(
    `${at.name}-${to.who}-select-users`,
    {
      ...inPublic(db),
      role: to.role,
      objectType: "column",
      objects: [TABLES.users.table],
      columns: usersColumnsReadBy(to.reads),
      privileges: ["SELECT"],
    },
    at.pg(undefined, { dependsOn: [db.tables, after], deleteBeforeReplace: true }),
  );
}

function inPublic(db: MailDb) {
  return { database: db.name, schema: "public" };
}
