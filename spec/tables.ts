// The three tables of the articles, as vmail sees them: a key column and value columns. Pure,
// and free of the pg client, so the program can name the tables without loading it.

/** A table of the articles, seen as key column + value columns. */
export interface TableShape {
  table: "users" | "transports" | "aliases";
  key: string;
  columns: string[];
}

export const USERS: TableShape = {
  table: "users",
  key: "email",
  columns: ["password", "realname", "maildir"],
};
export const TRANSPORTS: TableShape = {
  table: "transports",
  key: "domain",
  columns: ["gid", "transport"],
};
export const ALIASES: TableShape = { table: "aliases", key: "alias", columns: ["email"] };

/** vmail's list of the rows it wrote (see spec/sql.ts); no mail program reads it. */
export const MANAGED_ROWS = "vmail_managed_rows";

/** The three tables vmail keeps, by name. */
export const MAIL_TABLES = [USERS.table, TRANSPORTS.table, ALIASES.table] as const;
