// The SQL vmail runs, as text. Pure. Values always travel as $n parameters; the only names
// spliced into statements are role names that passed identifierRule and are quoted here too
// (with pg's own escapeIdentifier).

import { escapeIdentifier } from "pg";
import type { TableShape } from "./tables";

/**
 * The three tables of the articles. One deliberate change: transports.gid is not UNIQUE, since
 * every domain is delivered to the same mail owner's group and a second domain would otherwise
 * be refused.
 */
export const CREATE_TABLES = [
  `CREATE TABLE IF NOT EXISTS users (
    email TEXT PRIMARY KEY,
    password TEXT NOT NULL,
    realname TEXT,
    maildir TEXT NOT NULL,
    created TIMESTAMP WITH TIME ZONE DEFAULT now()
  )`,
  `CREATE TABLE IF NOT EXISTS transports (
    domain TEXT PRIMARY KEY,
    gid INTEGER NOT NULL,
    transport TEXT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS aliases (
    alias TEXT PRIMARY KEY,
    email TEXT NOT NULL
  )`,
];

/** Run as the admin role inside the mail database: hand schema public to the owner role. */
export function schemaOwnershipSql(ownerRole: string): string {
  return `ALTER SCHEMA public OWNER TO ${escapeIdentifier(ownerRole)}`;
}

/** Makes the rest of the transaction run with the owner role's rights (and ownership). */
export function setRoleSql(role: string): string {
  return `SET LOCAL ROLE ${escapeIdentifier(role)}`;
}

/** What makes an insert an upsert: on a key already there, the value columns are overwritten. */
export function onConflictSql(shape: TableShape): string {
  const updates = shape.columns.map((c) => `${c} = EXCLUDED.${c}`);
  return `ON CONFLICT (${shape.key}) DO UPDATE SET ${updates.join(", ")}`;
}

export function upsertSql(shape: TableShape): string {
  const columns = [shape.key, ...shape.columns];
  const params = columns.map((_, i) => `$${i + 1}`);
  return (
    `INSERT INTO ${shape.table} (${columns.join(", ")}) VALUES (${params.join(", ")}) ` +
    onConflictSql(shape)
  );
}

export function deleteSql(shape: TableShape): string {
  return `DELETE FROM ${shape.table} WHERE ${shape.key} = $1`;
}

export function selectSql(shape: TableShape): string {
  return `SELECT ${[shape.key, ...shape.columns].join(", ")} FROM ${shape.table} WHERE ${shape.key} = $1`;
}
