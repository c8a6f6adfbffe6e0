// A row moving to another database (a new pgHost, pgPort or database): written where it now
// belongs, then deleted from where it was, unless both are the same database reached another
// way; the old database is reached before anything is written.

import { inTransaction, type DbTarget } from "./db";
import { providerContext } from "./context";
import { deleteRow, isDatabaseGone, stackOf, type Row } from "./rowStore";
import type { TableShape } from "../core/tables";
import { describeTarget, dbIdentity, targetMoved, type DbIdentity } from "../core/target";

/**
 * The resources' inputs keep their columns under one key, `row`: the SDK makes an Output and four
 * promises per input key, which at thousands of rows is most of the program's memory.
 */
export interface RowInputs<T extends Row> {
  row: T;
  /** The database the row is in; a state written before targets were recorded has none. */
  target?: DbIdentity;
}

/** The database the row's call goes to. */
export const dbOf = (inputs: { target?: DbIdentity }) => providerContext.dbAt(inputs.target);

/** physicalDatabase's answers by target: a move of 5,000 rows asks for the same two. */
const physical = new Map<string, Promise<string | undefined>>();

/**
 * Which cluster and database a connection reaches, however it was addressed (undefined: the
 * database is gone).
 */
function physicalDatabase(db: DbTarget): Promise<string | undefined> {
  const key = describeTarget(dbIdentity(db.settings));
  let found = physical.get(key);
  if (!found) {
    found = lookUpPhysicalDatabase(db);
    physical.set(key, found);
    found.catch(() => physical.delete(key)); // a failure is asked again next time
  }
  return found;
}

async function lookUpPhysicalDatabase(db: DbTarget): Promise<string | undefined> {
  try {
    const result = await inTransaction(db, undefined, (c) =>
      c.query<{ id: string }>(
        "SELECT system_identifier::text || '/' || current_database() AS id FROM pg_control_system()",
      ),
    );
    return result.rows[0].id;
  } catch (error) {
    if (isDatabaseGone(error)) return undefined;
    throw error;
  }
}

/**
 * Writes the row where it now belongs, then deletes it from where it was, unless "there" is the
 * same database reached another way (a new host name, say), where the delete would remove the
 * row just written. The old database is reached before anything is written: if it cannot be,
 * nothing moves, so a row (and a password made for it) is never in the new database while the
 * state still records the old one. A retired old database is not reached at all.
 */
export async function moveRow(
  olds: RowInputs<Row>,
  news: RowInputs<Row>,
  shape: TableShape,
  write: (creating: boolean) => Promise<void>,
): Promise<void> {
  if (!targetMoved(olds.target, news.target)) return write(false);
  if (providerContext.retired(olds.target)) return write(true);
  const [from, to] = [dbOf(olds), dbOf(news)];
  const key = String(olds.row[shape.key]);
  const fromId = await physicalDatabase(from).catch((error: Error) => {
    throw new Error(
      `vmail: ${shape.table} row ${key} was not moved to ${describeTarget(dbIdentity(to.settings))}: ` +
        `${error.message}`,
    );
  });
  const toId = await physicalDatabase(to);
  // The same database reached another way holds this very row: an update, not a create.
  await write(fromId !== toId);
  if (fromId === undefined || fromId === toId) return;
  try {
    await deleteRow(from, shape, key, stackOf(olds));
  } catch (error) {
    throw new Error(
      `vmail: ${shape.table} row ${key} is now in ${describeTarget(dbIdentity(to.settings))}, but ` +
        `deleting it from ${describeTarget(dbIdentity(from.settings))}, where it was, failed (the ` +
        `stack's admin role must reach that database too): ${(error as Error).message}`,
    );
  }
}
