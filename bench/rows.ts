// The rows every system under test converges, as (table shape, values): what vmail stores for the
// accounts, so vmail, the Ansible peer and the psql floor all write exactly the same data.

import { LMTP_TRANSPORT } from "../core/dovecotDelivery";
import { onConflictSql, upsertSql } from "../core/sql";
import { ALIASES, TRANSPORTS, USERS, type TableShape } from "../core/tables";
import type { Accounts } from "./accounts";

type Value = string | number | boolean | null;

export interface Row {
  shape: TableShape;
  values: Value[];
}

/**
 * The row's values in the shape's column order. Every written column must be named: a column the
 * schema gains fails here, not as a short row in the middle of a peer's run.
 */
function valuesOf(shape: TableShape, row: Record<string, Value>): Row {
  const values = [shape.key, ...shape.columns].map((column) => {
    if (!(column in row)) throw new Error(`bench: no value for ${shape.table}.${column}`);
    return row[column];
  });
  return { shape, values };
}

export function rowsOf(a: Accounts, gid: number): Row[] {
  return [
    ...a.domains.map((domain) =>
      valuesOf(TRANSPORTS, {
        domain,
        gid,
        transport: LMTP_TRANSPORT,
        receive: true,
        alias_of: null,
      }),
    ),
    ...a.users.map((u) =>
      valuesOf(USERS, {
        email: u.address,
        password: u.password.kind === "hash" ? u.password.hash : null,
        realname: u.realname,
        maildir: u.maildir,
        login: true,
        receive: true,
        quota: null,
        send_as: null,
      }),
    ),
    ...a.aliases.map((x) => valuesOf(ALIASES, { alias: x.address, email: x.targets.join(", ") })),
  ];
}

/** For psycopg2 (Ansible's postgresql_query): the same upsert with %s placeholders. */
export function psycopgUpsert(shape: TableShape): string {
  return upsertSql(shape).replace(/\$\d+/g, "%s");
}

function literal(v: Value): string {
  if (v === null) return "NULL";
  if (typeof v === "string") return `'${v.replace(/'/g, "''")}'`;
  return String(v);
}

/** One multi-row upsert per table, for a single psql transaction. */
export function floorSql(rows: Row[]): string {
  const byTable = new Map<TableShape, Row[]>();
  for (const r of rows) byTable.set(r.shape, [...(byTable.get(r.shape) ?? []), r]);
  return [...byTable.entries()]
    .map(([shape, list]) => {
      const columns = [shape.key, ...shape.columns];
      const values = list.map((r) => `(${r.values.map(literal).join(", ")})`).join(",\n");
      return (
        `INSERT INTO ${shape.table} (${columns.join(", ")}) VALUES\n${values}\n` +
        `${onConflictSql(shape)};`
      );
    })
    .join("\n");
}
