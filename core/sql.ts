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

/** The mail tables as described in core/tables.ts, then vmail's list of its rows. */
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
  // And the stack that wrote each row (`organization/project/stack`), so two stacks pointed at
  // one database neither overwrite nor delete each other's rows. NULL: recorded before vmail
  // recorded stacks (providers/rows.ts says who may claim such a row).
  `ALTER TABLE ${MANAGED_ROWS} ADD COLUMN IF NOT EXISTS stack TEXT`,
  // For whoever finds the table in the database: a DBA who drops it makes deletes fail.
  `COMMENT ON TABLE ${MANAGED_ROWS} IS 'vmail''s record of the users, transports and aliases rows ` +
    `it wrote, and of the stack that wrote each. Do not drop or edit it: vmail deletes rows only ` +
    `while this table exists, refuses to overwrite a row not listed here, and leaves a row ` +
    `another stack wrote as it is.'`,
];

/**
 * The schema version vmail's statements last brought the tables to (one row; none in a database
 * made before vmail recorded it). A migration runs CREATE_TABLES and records SCHEMA_VERSION in
 * one transaction, so a run killed half-way leaves the old version and is simply run again.
 */
export const SCHEMA_TABLE = "vmail_schema";

export const SCHEMA_VERSION_SQL = {
  create: `CREATE TABLE IF NOT EXISTS ${SCHEMA_TABLE} (version INTEGER NOT NULL)`,
  read: `SELECT coalesce(max(version), 0) AS version FROM ${SCHEMA_TABLE}`,
  clear: `DELETE FROM ${SCHEMA_TABLE}`,
  record: `INSERT INTO ${SCHEMA_TABLE} (version) VALUES ($1)`,
};

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

/**
 * Whether the row of $1 exists, whether vmail wrote it, and which stack: `present`, `ours`,
 * `stack` (null: none recorded). The stack is read through to_jsonb, which has no such key in a
 * list made before vmail recorded stacks, so a delete works there before `up` adds the column.
 */
export function ownershipSql(shape: TableShape): string {
  return (
    `SELECT EXISTS (SELECT 1 FROM ${shape.table} WHERE ${shape.key} = $1) AS present, ` +
    `m.key IS NOT NULL AS ours, to_jsonb(m) ->> 'stack' AS stack ` +
    `FROM (SELECT 1) AS one LEFT JOIN ${MANAGED_ROWS} AS m ON m.tbl = '${shape.table}' AND m.key = $1`
  );
}

/** Whether `shape`'s table and vmail's list of its rows exist: `mail`, `managed`. */
export function tablesPresentSql(shape: TableShape): string {
  return (
    `SELECT to_regclass('${shape.table}') IS NOT NULL AS mail, ` +
    `to_regclass('${MANAGED_ROWS}') IS NOT NULL AS managed`
  );
}

/**
 * Records the row of $1 as written by stack $2 (null: keeps what is recorded), unless another
 * stack is recorded and $3 (adopt) is false: then it returns no row. One statement, so two stacks
 * writing the same row at once cannot both take it: the second waits for the first's mark.
 */
export function markOursSql(shape: TableShape): string {
  return (
    `INSERT INTO ${MANAGED_ROWS} AS m (tbl, key, stack) VALUES ('${shape.table}', $1, $2) ` +
    `ON CONFLICT (tbl, key) DO UPDATE SET stack = coalesce(EXCLUDED.stack, m.stack) ` +
    `WHERE m.stack IS NULL OR EXCLUDED.stack IS NULL OR m.stack = EXCLUDED.stack OR $3::boolean ` +
    `RETURNING key`
  );
}

/**
 * Forgets the row of $1 if stack $2 wrote it or no stack is recorded (null $2: only then). Reads
 * the stack as ownershipSql does, so it works on a list made before vmail recorded stacks.
 */
export function unmarkSql(shape: TableShape): string {
  return (
    `DELETE FROM ${MANAGED_ROWS} AS m WHERE tbl = '${shape.table}' AND key = $1 ` +
    `AND (to_jsonb(m) ->> 'stack' IS NULL OR to_jsonb(m) ->> 'stack' = $2)`
  );
}

export function deleteSql(shape: TableShape): string {
  return `DELETE FROM ${shape.table} WHERE ${shape.key} = $1`;
}

export function selectSql(shape: TableShape): string {
  return `SELECT ${[shape.key, ...shape.columns].join(", ")} FROM ${shape.table} WHERE ${shape.key} = $1`;
}
