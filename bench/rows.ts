// The rows every system under test converges, as (table shape, values): what vmail stores for the
// accounts, so vmail, the Ansible peer and the psql floor all write exactly the same data.

import { onConflictSql, upsertSql } from "../core/sql";
import { ALIASES, TRANSPORTS, USERS, type TableShape } from "../core/tables";
import type { Accounts } from "./accounts";

export interface Row {
  shape: TableShape;
  values: (string | number | null)[];
}

export function rowsOf(a: Accounts, gid: number): Row[] {
  return [
    ...a.domains.map((d) => ({ shape: TRANSPORTS, values: [d, gid, "virtual:"] })),
    ...a.users.map((u) => ({
      shape: USERS,
      values: [
        u.address,
        u.password.kind === "hash" ? u.password.hash : null,
        u.realname,
        u.maildir,
      ],
    })),
    ...a.aliases.map((x) => ({ shape: ALIASES, values: [x.address, x.targets.join(", ")] })),
  ];
}

/** For psycopg2 (Ansible's postgresql_query): the same upsert with %s placeholders. */
export function psycopgUpsert(shape: TableShape): string {
  return upsertSql(shape).replace(/\$\d+/g, "%s");
}

function literal(v: string | number | null): string {
  if (v === null) return "NULL";
  return typeof v === "number" ? String(v) : `'${v.replace(/'/g, "''")}'`;
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
