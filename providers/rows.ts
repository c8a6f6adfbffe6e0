// The dynamic providers behind the rows: one row of transports, users or aliases per resource.
// They connect as the admin role and SET ROLE to the owner role, so a row is written with the
// owner's rights, and rotating the owner's password never touches a row's state. Each row
// records its database (target) and every call goes there. A move to another database is an
// update, not a replacement, so a generated password moves with its user: the row is written in
// the new database, then deleted from the old one. A create never silently takes over a row
// vmail did not write.

import { randomBytes } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { inTransaction, type DbTarget } from "./db";
import { hashPassword, type HashScheme } from "../core/passwords";
import { providerContext } from "./context";
import {
  deleteSql,
  markOursSql,
  ownershipSql,
  selectSql,
  tablesPresentSql,
  unmarkSql,
  upsertSql,
} from "../core/sql";
import { ALIASES, MANAGED_ROWS, TRANSPORTS, USERS, type TableShape } from "../core/tables";
import {
  describeTarget,
  dbIdentity,
  targetChanged,
  targetMoved,
  type DbIdentity,
} from "../core/target";

type Row = Record<string, unknown>;

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
const isDatabaseGone = (error: unknown) => (error as { code?: string }).code === "3D000";

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

/** The named columns of a row as read back, for a refresh to compare with the state. */
function columnsOf(row: Row, columns: string[]): Row {
  return Object.fromEntries(columns.map((c) => [c, row[c]]));
}

/**
 * Names of the fields that differ, compared as JSON; a field left out counts as its `unset` value
 * (a column's default: a state written before the column existed reads as unchanged).
 */
function changedFields<T extends object>(
  olds: T,
  news: T,
  fields: (keyof T & string)[],
  unset: Record<string, unknown> = {},
): string[] {
  const value = (o: T, f: keyof T & string) => JSON.stringify(o[f] ?? unset[f] ?? null);
  return fields.filter((f) => value(olds, f) !== value(news, f));
}

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
const dbOf = (inputs: { target?: DbIdentity }) => providerContext.dbAt(inputs.target);

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
async function moveRow(
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

/** The provider of a table whose row is exactly `row`, keyed by `shape.key`: transports, aliases. */
function plainRowProvider<T extends Row>(shape: TableShape): pulumi.dynamic.ResourceProvider {
  return {
    configure: (req) => Promise.resolve(providerContext.set(req.config)),
    async create(inputs: RowInputs<T>) {
      await writeRow(dbOf(inputs), shape, inputs.row, true);
      return { id: String(inputs.row[shape.key]), outs: inputs };
    },
    diff: (_id, olds: RowInputs<T>, news: RowInputs<T>) => {
      const changed = changedFields(olds.row, news.row, shape.columns, shape.unset).length > 0;
      const moved = targetChanged(olds.target, news.target) || stackChanged(olds, news);
      return Promise.resolve({ changes: changed || moved });
    },
    async update(_id, olds: RowInputs<T>, news: RowInputs<T>) {
      await moveRow(olds, news, shape, (creating) =>
        writeRow(dbOf(news), shape, news.row, creating),
      );
      return { outs: news };
    },
    async read(id: string, props: RowInputs<T>) {
      if (providerContext.retired(props.target)) return { id, props };
      const row = await readRow(dbOf(props), shape, id);
      if (!row) return { id: "" };
      return { id, props: { ...props, row: { ...props.row, ...columnsOf(row, shape.columns) } } };
    },
    async delete(id: string, props: RowInputs<T>) {
      if (providerContext.retired(props.target)) return;
      await deleteRow(dbOf(props), shape, id, stackOf(props));
    },
  };
}

/** A transports row: mail for the domain goes to `transport` as the mail owner's group. */
export interface DomainRow extends Row {
  domain: string;
  gid: number;
  transport: string;
}

/** An aliases row; `email` holds the comma-separated targets, as Postfix reads them. */
export interface AliasRow extends Row {
  alias: string;
  email: string;
}

export const domainProvider = plainRowProvider<DomainRow>(TRANSPORTS);
export const aliasProvider = plainRowProvider<AliasRow>(ALIASES);

// --- users ------------------------------------------------------------------------------------

/** The users columns vmail writes from the config, but the password (see passwordFor). */
const USER_COLUMNS = USERS.columns.filter((c) => c !== "password");

/** A user's columns (all but the password) and how its password is made. */
export interface UserRow extends Row {
  email: string;
  realname: string | null;
  maildir: string;
  scheme: HashScheme;
  /** May log in (left out: true, the column's default). */
  login?: boolean;
  /** Generate a password; bumping the number makes a new one. */
  generateVersion?: number;
}

export interface UserInputs extends RowInputs<UserRow> {
  /** A `doveadm pw` hash, stored as given. */
  passwordHash?: string;
  /** A clear-text password (secret) to hash. */
  password?: string;
}

export interface UserOutputs extends UserInputs {
  /** What vmail wrote into users.password (secret). */
  writtenHash: string;
  /** What users.password holds now; differs from writtenHash after a change behind vmail's back. */
  storedHash: string;
  /** The generated password (secret), when vmail generated it. */
  generatedPassword?: string;
}

/** 24 characters of a-z, A-Z, 0-9: about 143 bits, easy to hand over. */
export function generatePassword(): string {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  const bytes = randomBytes(48);
  let out = "";
  for (const b of bytes) {
    if (b < 4 * alphabet.length) out += alphabet[b % alphabet.length]; // no modulo bias
    if (out.length === 24) break;
  }
  return out.length === 24 ? out : generatePassword();
}

/**
 * The hash to store and the generated password. The old ones are kept unless the input asks for
 * new ones, so a second `up` changes nothing and a hash changed behind vmail's back is put back.
 */
async function passwordFor(
  news: UserInputs,
  olds: UserOutputs | undefined,
): Promise<{ hash: string; generated?: string }> {
  const { scheme, generateVersion } = news.row;
  if (news.passwordHash !== undefined) return { hash: news.passwordHash };
  const sameScheme = olds !== undefined && olds.row.scheme === scheme;
  if (news.password !== undefined) {
    if (sameScheme && olds.password === news.password) return { hash: olds.writtenHash };
    return { hash: await hashPassword(news.password, scheme) };
  }
  if (olds?.generatedPassword && olds.row.generateVersion === generateVersion) {
    // Same password: a new scheme hashes it again, it never makes the user a new one.
    const generated = olds.generatedPassword;
    if (sameScheme) return { hash: olds.writtenHash, generated };
    return { hash: await hashPassword(generated, scheme), generated };
  }
  const generated = generatePassword();
  return { hash: await hashPassword(generated, scheme), generated };
}

async function writeUser(news: UserInputs, olds?: UserOutputs): Promise<UserOutputs> {
  const { hash, generated } = await passwordFor(news, olds);
  const write = (creating: boolean) =>
    writeRow(dbOf(news), USERS, { ...news.row, password: hash }, creating);
  await (olds ? moveRow(olds, news, USERS, write) : write(true));
  return { ...news, writtenHash: hash, storedHash: hash, generatedPassword: generated };
}

export const userProvider: pulumi.dynamic.ResourceProvider = {
  configure: (req) => Promise.resolve(providerContext.set(req.config)),
  async create(inputs: UserInputs) {
    return { id: inputs.row.email, outs: await writeUser(inputs) };
  },
  diff(_id, olds: UserOutputs, news: UserInputs) {
    const changed =
      changedFields(olds.row, news.row, [...USER_COLUMNS, "scheme", "generateVersion"], USERS.unset)
        .length > 0 || changedFields(olds, news, ["passwordHash", "password"]).length > 0;
    const drifted = olds.storedHash !== olds.writtenHash;
    return Promise.resolve({
      changes:
        changed || drifted || targetChanged(olds.target, news.target) || stackChanged(olds, news),
    });
  },
  async update(_id, olds: UserOutputs, news: UserInputs) {
    return { outs: await writeUser(news, olds) };
  },
  async read(id: string, props: UserOutputs) {
    if (providerContext.retired(props.target)) return { id, props };
    const row = await readRow(dbOf(props), USERS, id);
    if (!row) return { id: "" };
    return {
      id,
      props: {
        ...props,
        row: { ...props.row, ...columnsOf(row, USER_COLUMNS) },
        storedHash: row.password,
      },
    };
  },
  async delete(id: string, props: UserOutputs) {
    // The row only: the maildir and its mail stay on disk.
    if (providerContext.retired(props.target)) return;
    await deleteRow(dbOf(props), USERS, id, stackOf(props));
  },
};
