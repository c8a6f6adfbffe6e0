// The SQL vmail runs, as text. Pure. Values always travel as $n parameters; the only names
// spliced into statements are role names that passed identifierRule and are quoted here too
// (with pg's own escapeIdentifier).

import { escapeIdentifier } from "pg";
import { MANAGED_ROWS, TABLES, type TableShape, type TableSpec } from "./tables";

/**
 * A table's statements, from its description: the version 1 columns make the table, each later
 * column is added. Every statement is idempotent, so running them all again (a new column, or a
 * run killed half-way) changes only what is missing.
 */
export function tableDdl(spec: TableSpec): string[] {
  const columns = [spec.key, ...spec.columns];
  const first = columns.filter((c) => c.since === 1).map((c) => `${c.name} ${c.sql}`);
  const added = columns.filter((c) => c.since > 1);
  return [
    `CREATE TABLE IF NOT EXISTS ${spec.table} (\n    ${first.join(",\n    ")}\n  )`,
    ...added.map((c) => `ALTER TABLE ${spec.table} ADD COLUMN IF NOT EXISTS ${c.name} ${c.sql}`),
  ];
}

/** The mail tables as described in spec/tables.ts, then vmail's list of its rows. */
export const CREATE_TABLES = [
  ...Object.values(TABLES).flatMap(tableDdl),
  // vmail's own bookkeeping: the rows it wrote. A create that finds a row not listed here (the
  // server had it before vmail) refuses to overwrite it. Written in the same transaction as the
  // row, so a run killed after the write leaves a row the next run knows as its own.
  `CREATE TABLE IF NOT EXISTS ${MANAGED_ROWS} (
    tbl TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (tbl, key)
  )`,
  // For whoever finds the table in the database: a DBA who drops it makes deletes fail.
  `COMMENT ON TABLE ${MANAGED_ROWS} IS 'vmail''s record of the users, transports and aliases rows ` +
    `it wrote. Do not drop or edit it: vmail deletes rows only while this table exists, and ` +
    `refuses to overwrite a row not listed here.'`,
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

/** Whether the row of $1 exists, and whether vmail wrote it: `present`, `ours`. */
export function ownershipSql(shape: TableShape): string {
  return (
    `SELECT EXISTS (SELECT 1 FROM ${shape.table} WHERE ${shape.key} = $1) AS present, ` +
    `EXISTS (SELECT 1 FROM ${MANAGED_ROWS} WHERE tbl = '${shape.table}' AND key = $1) AS ours`
  );
}

/** Whether `shape`'s table and vmail's list of its rows exist: `mail`, `managed`. */
export function tablesPresentSql(shape: TableShape): string {
  return (
    `SELECT to_regclass('${shape.table}') IS NOT NULL AS mail, ` +
    `to_regclass('${MANAGED_ROWS}') IS NOT NULL AS managed`
  );
}

/** Records the row of $1 as vmail's. */
export function markOursSql(shape: TableShape): string {
  return `INSERT INTO ${MANAGED_ROWS} (tbl, key) VALUES ('${shape.table}', $1) ON CONFLICT DO NOTHING`;
}

export function unmarkSql(shape: TableShape): string {
  return `DELETE FROM ${MANAGED_ROWS} WHERE tbl = '${shape.table}' AND key = $1`;
}

export function deleteSql(shape: TableShape): string {
  return `DELETE FROM ${shape.table} WHERE ${shape.key} = $1`;
}

export function selectSql(shape: TableShape): string {
  return `SELECT ${[shape.key, ...shape.columns].join(", ")} FROM ${shape.table} WHERE ${shape.key} = $1`;
}
