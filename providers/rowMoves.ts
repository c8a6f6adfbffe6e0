// A row moving to another database (a new pgHost, pgPort or database): written where it now
// belongs; MovedRowsCleanup (providers/rowsCleanup.ts) deletes it from where it was, last.

import { inTransaction, type DbTarget } from "./db";
import { providerContext } from "./context";
import { isDatabaseGone, type Row } from "./rowStore";
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
export function physicalDatabase(db: DbTarget): Promise<string | undefined> {
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
 * A row whose database changed is written where it now belongs, as a create: refused if that
 * database has the row and vmail did not write it. The same database reached another way (a new
 * host name) holds this very row: an update there. The row stays where it was until
 * MovedRowsCleanup deletes it, once Postfix and Dovecot read the new database, so no lookup
 * meanwhile finds it missing; an old database that cannot be reached is told apart by the cleanup.
 */
export async function moveRow(
  olds: RowInputs<Row>,
  news: RowInputs<Row>,
  write: (creating: boolean) => Promise<void>,
): Promise<void> {
  if (!targetMoved(olds.target, news.target)) return write(false);
  const same =
    !providerContext.retired(olds.target) &&
    (await physicalDatabase(dbOf(olds)).catch(() => undefined)) ===
      (await physicalDatabase(dbOf(news)));
  await write(!same);
}
