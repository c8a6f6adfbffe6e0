// Rows in the database, for the row providers: written (with vmail's record of which rows it
// wrote, and for which stack), read and deleted, each in one transaction with the owner role's
// rights. Which row goes where, and when, is the providers' business (rows.ts, rowMoves.ts).

import { inTransaction, type DbTarget } from "./db";
import {
  deleteSql,
  markOursSql,
  ownershipSql,
  selectSql,
  tablesPresentSql,
  unmarkSql,
  upsertSql,
} from "../core/sql";
import { MANAGED_ROWS, type TableShape } from "../core/tables";
import { describeTarget, dbIdentity } from "../core/target";

export type Row = Record<string, unknown>;

/** What ownershipSql answers: the row is there, vmail wrote it, and which stack (null: none). */
interface Ownership {
  present: boolean;
  ours: boolean;
  stack: string | null;
}

/**
 * The stack that writes a row, `organization/project/stack` (resources/rows.ts puts it in each
 * row's inputs: the engine tells the provider process the project but not the stack); none in a
 * state written before vmail recorded stacks.
 */
export function stackOf(inputs: { row?: Row }): string | undefined {
  const stack = inputs.row?.stack;
  return typeof stack === "string" ? stack : undefined;
}

/**
 * Whether a row is now written by another stack (renamed, or its state copied into another): a
 * write, which the other stack's record refuses unless adopted. A state without a stack is no
 * change: the next write records it.
 */
export function stackChanged(olds: { row?: Row }, news: { row?: Row }): boolean {
  const [old, next] = [stackOf(olds), stackOf(news)];
  return old !== undefined && next !== undefined && old !== next;
}

/** SQLSTATE 42703: no such column (here: a list of vmail's rows made before it had `stack`). */
const isColumnMissing = (error: unknown) => (error as { code?: string }).code === "42703";

/**
 * Writes the row and records it as written by its stack (`values.stack`). Refused, and the row
 * left as it is, unless the stack says to adopt rows (vmail:adoptExistingRows), which takes the
 * row over and records this stack:
 * - a create that finds a row there that vmail did not write;
 * - a create that finds a row recorded without a stack (by a vmail before stacks were recorded):
 *   this stack has no state for it, so it may be another stack's. An update claims such a row
 *   silently: its state shows this stack wrote it;
 * - any write of a row recorded as another stack's: two stacks on one database (a copied stack,
 *   staging pointed at prod's database) must not take over each other's rows.
 */
export async function writeRow(
  db: DbTarget,
  shape: TableShape,
  values: Row,
  creating = false,
): Promise<void> {
  try {
    await writeRowAs(db, shape, values, creating, stackOf({ row: values }));
  } catch (error) {
    if (!isColumnMissing(error)) throw error;
    throw new Error(
      `vmail: ${shape.table} row ${String(values[shape.key])} was not written to ` +
        `${describeTarget(dbIdentity(db.settings))}: vmail's list of the rows it wrote there ` +
        `(${MANAGED_ROWS}) has no stack column yet. A \`pulumi up\` without --target adds it ` +
        `(MailTables) before it writes any row`,
    );
  }
}

async function writeRowAs(
  db: DbTarget,
  shape: TableShape,
  values: Row,
  creating: boolean,
  stack: string | undefined,
): Promise<void> {
  const key = values[shape.key];
  const adopt = db.settings.adoptExistingRows;
  const where = describeTarget(dbIdentity(db.settings));
  const params = [shape.key, ...shape.columns].map((c) => values[c] ?? shape.unset[c]);
  await inTransaction(db, db.settings.ownerRole, async (c) => {
    if (creating && !adopt) {
      const found = (await c.query<Ownership>(ownershipSql(shape), [key])).rows[0];
      if (found.present && !found.ours) {
        throw new Error(
          `vmail: ${shape.table} row ${String(key)} is already in ${where}, ` +
            `and vmail did not write it: it is left as it is. To let vmail take it over (and ` +
            `overwrite it with the stack's values), set vmail:adoptExistingRows to true`,
        );
      }
      if (found.present && found.stack === null && stack !== undefined) {
        throw new Error(
          `vmail: ${shape.table} row ${String(key)} is already in ${where}, written by a vmail ` +
            `that did not record its stack, and this stack (${stack}) has no state for it: it ` +
            `may be another stack's, and is left as it is. If it is this stack's, or to take it ` +
            `over (and overwrite it with this stack's values), set vmail:adoptExistingRows to true`,
        );
      }
    }
    await c.query(upsertSql(shape), params);
    const marked = await c.query(markOursSql(shape), [key, stack ?? null, adopt]);
    if (marked.rowCount === 0) {
      const other = (await c.query<Ownership>(ownershipSql(shape), [key])).rows[0].stack;
      throw new Error(
        `vmail: ${shape.table} row ${String(key)} in ${where} belongs to another stack, ` +
          `${other ?? "(gone since)"}, not to this one (${stack ?? "?"}): ${MANAGED_ROWS} records ` +
          `that stack's write. It is left as it is. To let this stack take it over (and ` +
          `overwrite it with this stack's values), set vmail:adoptExistingRows to true; the ` +
          `other stack then leaves the row in place, also when it is destroyed`,
      );
    }
  });
}

/** SQLSTATE 3D000: no such database (dropped or renamed since), so no row in it either. */
export const isDatabaseGone = (error: unknown) => (error as { code?: string }).code === "3D000";

/**
 * Deletes the row and vmail's mark of it. A database or mail table dropped since holds no row: the
 * delete is done. A missing list of vmail's rows is an error, never "done": the row may be there,
 * a user still receiving mail, and the state must keep it.
 *
 * A row recorded as another stack's (`stack`: the one the state says wrote it; none in a state
 * written before vmail recorded stacks, which then deletes only a row recorded without a stack)
 * is not deleted: this stack only forgets it, with a warning. That stack took it over (adopted
 * it), and its users keep their mail when a copy of it, or the stack it was taken from, is
 * destroyed; refusing the delete instead would keep this stack from ever being destroyed.
 */
export async function deleteRow(
  db: DbTarget,
  shape: TableShape,
  key: string,
  stack?: string,
): Promise<void> {
  try {
    await inTransaction(db, db.settings.ownerRole, async (c) => {
      const present = await c.query<{ mail: boolean; managed: boolean }>(tablesPresentSql(shape));
      if (!present.rows[0].mail) return;
      if (!present.rows[0].managed) {
        throw new Error(
          `vmail: not deleting ${shape.table} row ${key} from ` +
            `${describeTarget(dbIdentity(db.settings))}: vmail's list of the rows it wrote ` +
            `(table ${MANAGED_ROWS}) is missing there. \`pulumi up --refresh\` makes it again ` +
            `(the refresh finds it missing), and the delete then goes through; in a database the ` +
            `stack no longer points at, create it by hand as ${db.settings.ownerRole} (the ` +
            `statement is in vmail's core/sql.ts)`,
        );
      }
      const unmarked = await c.query(unmarkSql(shape), [key, stack ?? null]);
      if (unmarked.rowCount === 0) {
        const found = (await c.query<Ownership>(ownershipSql(shape), [key])).rows[0];
        if (found.ours) {
          console.warn(
            `vmail: ${shape.table} row ${key} in ${describeTarget(dbIdentity(db.settings))} ` +
              `belongs to another stack, ${found.stack}, not to this one ` +
              `(${stack ?? "recorded before vmail recorded stacks"}): it is left in place, and ` +
              `this stack forgets it`,
          );
          return;
        }
      }
      await c.query(deleteSql(shape), [key]);
    });
  } catch (error) {
    if (!isDatabaseGone(error)) throw error;
  }
}

export async function readRow(
  db: DbTarget,
  shape: TableShape,
  key: string,
): Promise<Row | undefined> {
  const result = await inTransaction(db, db.settings.ownerRole, (c) =>
    c.query<Row>(selectSql(shape), [key]),
  );
  return result.rows[0];
}
