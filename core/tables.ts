// The mail tables, each column described once: its SQL type, which mail program's role may read
// it, whether vmail writes it from the stack config (and so reads it back on refresh and puts it
// back on up), and the schema version that added it. The DDL, the upsert and select, the
// providers' diff and read-back, and the column grants are all derived from here, so a new column
// is one entry (plus the rule that checks its value). Pure, and free of the pg client, so the
// program can name the tables without loading it.

/** The mail programs that read the tables, each through its own role. */
export type MailReader = "postfix" | "dovecot";

export interface Column {
  name: string;
  /** Type, constraints and default, as CREATE TABLE and ADD COLUMN take them. */
  sql: string;
  /** Whose role may SELECT it. Postfix's never reads a password hash. */
  readBy: readonly MailReader[];
  /** vmail writes it from the stack config; a refresh reads it back and `up` repairs drift. */
  written: boolean;
  /** The schema version that added it; 1 is the articles' tables. */
  since: number;
  /**
   * Its value where a row's config leaves it out: the column's own default, so a row stored
   * (and a state written) before the column existed reads as unchanged.
   */
  unset?: boolean | number | string | null;
}

export interface TableSpec {
  table: "users" | "transports" | "aliases";
  /** The primary key: an address or a domain, as Postfix looks it up. */
  key: Column;
  columns: readonly Column[];
}

const both: readonly MailReader[] = ["postfix", "dovecot"];

/** Whether mail to the row's user or domain is accepted (schema version 2). */
const receive: Column = {
  name: "receive",
  sql: "BOOLEAN NOT NULL DEFAULT true",
  readBy: ["postfix"],
  written: true,
  since: 2,
  unset: true,
};

/**
 * The articles' tables, with one deliberate change: transports.gid is not UNIQUE, since every
 * domain is delivered as the same mail owner's group and a second domain would be refused.
 */
export const TABLES = {
  users: {
    table: "users",
    key: { name: "email", sql: "TEXT PRIMARY KEY", readBy: both, written: true, since: 1 },
    columns: [
      { name: "password", sql: "TEXT NOT NULL", readBy: ["dovecot"], written: true, since: 1 },
      { name: "realname", sql: "TEXT", readBy: [], written: true, since: 1 },
      { name: "maildir", sql: "TEXT NOT NULL", readBy: both, written: true, since: 1 },
      // Dovecot's password query finds only users who may log in; Postfix delivers regardless.
      {
        name: "login",
        sql: "BOOLEAN NOT NULL DEFAULT true",
        readBy: ["dovecot"],
        written: true,
        since: 2,
        unset: true,
      },
      receive, // false: Postfix's refusal map refuses mail to the user (see postfixConfig.ts)
      // Bytes, NULL for no limit: Dovecot's user query turns it into the user's quota_rule.
      { name: "quota", sql: "BIGINT", readBy: ["dovecot"], written: true, since: 3, unset: null },
      // The addresses (and @domains) the user may send as besides their own: a comma list.
      { name: "send_as", sql: "TEXT", readBy: ["postfix"], written: true, since: 5, unset: null },
      {
        name: "created",
        sql: "TIMESTAMP WITH TIME ZONE DEFAULT now()",
        readBy: [],
        written: false,
        since: 1,
      },
    ],
  },
  transports: {
    table: "transports",
    key: { name: "domain", sql: "TEXT PRIMARY KEY", readBy: ["postfix"], written: true, since: 1 },
    columns: [
      { name: "gid", sql: "INTEGER NOT NULL", readBy: ["postfix"], written: true, since: 1 },
      { name: "transport", sql: "TEXT NOT NULL", readBy: ["postfix"], written: true, since: 1 },
      receive, // false: a suspended domain, whose mail the refusal map refuses
      // An alias domain's target: its addresses are those of the target (see postfixConfig.ts).
      {
        name: "alias_of",
        sql: "TEXT",
        readBy: ["postfix"],
        written: true,
        since: 4,
        unset: null,
      },
    ],
  },
  aliases: {
    table: "aliases",
    key: { name: "alias", sql: "TEXT PRIMARY KEY", readBy: ["postfix"], written: true, since: 1 },
    columns: [
      { name: "email", sql: "TEXT NOT NULL", readBy: ["postfix"], written: true, since: 1 },
    ],
  },
} as const satisfies Record<string, TableSpec>;

/** The schema version the description adds up to. */
export const SCHEMA_VERSION = Math.max(
  ...Object.values(TABLES).flatMap((t: TableSpec) => [t.key, ...t.columns].map((c) => c.since)),
);

/** A table as the row providers see it: the key and the columns vmail writes. */
export interface TableShape {
  table: TableSpec["table"];
  key: string;
  columns: string[];
  /** The value of a written column a row leaves out (see Column.unset). */
  unset: Record<string, unknown>;
}

export function shapeOf(spec: TableSpec): TableShape {
  const written = spec.columns.filter((c) => c.written);
  const unset = Object.fromEntries(
    written.filter((c) => c.unset !== undefined).map((c) => [c.name, c.unset]),
  );
  return { table: spec.table, key: spec.key.name, columns: written.map((c) => c.name), unset };
}

export const USERS = shapeOf(TABLES.users);
export const TRANSPORTS = shapeOf(TABLES.transports);
export const ALIASES = shapeOf(TABLES.aliases);

/**
 * What `reader`'s role may read of the table: "all" (a table grant), the columns (a column
 * grant, key first, in the description's order), or nothing.
 */
export function readableBy(spec: TableSpec, reader: MailReader): "all" | string[] {
  const all = [spec.key, ...spec.columns];
  const readable = all.filter((c) => c.readBy.includes(reader)).map((c) => c.name);
  return readable.length === all.length ? "all" : readable;
}

/** The tables `reader` reads whole: one table grant covers them. */
export function wholeTablesReadBy(reader: MailReader): string[] {
  return Object.values(TABLES)
    .filter((t) => readableBy(t, reader) === "all")
    .map((t) => t.table);
}

/** The users columns `reader` reads (never all of them: Postfix's role reads no hash). */
export function usersColumnsReadBy(reader: MailReader): string[] {
  const readable = readableBy(TABLES.users, reader);
  if (readable === "all") throw new Error(`vmail: ${reader} may not read every users column`);
  return readable;
}

/** vmail's list of the rows it wrote (see core/sql.ts); no mail program reads it. */
export const MANAGED_ROWS = "vmail_managed_rows";

/** The three tables vmail keeps, by name. */
export const MAIL_TABLES = [USERS.table, TRANSPORTS.table, ALIASES.table] as const;
