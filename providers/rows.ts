// The dynamic providers behind the rows: one row of transports, users or aliases per resource.
// They connect as the admin role and SET ROLE to the owner role, so a row is written with the
// owner's rights, and rotating the owner's password never touches a row's state. Each row
// records its database (target) and every call goes there. A move to another database is an
// update, not a replacement, so a generated password moves with its user: the row is written in
// the new database, then deleted from the old one. A create never silently takes over a row
// vmail did not write.

import { randomBytes } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { hashPassword, type HashScheme } from "../core/passwords";
import { providerContext } from "./context";
import { dbOf, moveRow, type RowInputs } from "./rowMoves";
import { deleteRow, readRow, stackChanged, stackOf, writeRow, type Row } from "./rowStore";
import { ALIASES, TRANSPORTS, USERS, type TableShape } from "../core/tables";
import { targetChanged } from "../core/target";
import {
  maildirClash,
  maildirMoveScript,
  maildirProbeScript,
  maildirSweepScript,
} from "../core/maildirMove";
import { mustRunOnServer } from "./shell";

/**
 * The state's row as a refresh reads it back: as it was when no column differs (a column left out
 * counting as its default), so a row that did not drift keeps its outputs as small as its inputs
 * leave them (core/rowWire.ts); with every column as the table holds it otherwise.
 */
function readBack<T extends Row>(
  state: T,
  stored: Row,
  columns: string[],
  unset: Record<string, unknown>,
): T {
  const fromTable = { ...state, ...Object.fromEntries(columns.map((c) => [c, stored[c]])) };
  return changedFields(state, fromTable, columns, unset).length === 0 ? state : fromTable;
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
      await moveRow(olds, news, (creating) => writeRow(dbOf(news), shape, news.row, creating));
      return { outs: news };
    },
    async read(id: string, props: RowInputs<T>) {
      if (providerContext.retired(props.target)) return { id, props };
      const row = await readRow(dbOf(props), shape, id);
      if (!row) return { id: "" };
      return { id, props: { ...props, row: readBack(props.row, row, shape.columns, shape.unset) } };
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
  if (!olds) await write(true);
  else if (olds.row.email !== news.row.email) await renameUser(olds, write);
  else await moveRow(olds, news, write);
  return { ...news, writtenHash: hash, storedHash: hash, generatedPassword: generated };
}

/**
 * A rename (the entry names its old address in `formerly`): the row under the new address, with
 * the same password, then the old row gone. The new one is refused when the database has that
 * address and vmail did not write it. Killed between the two, the next run finishes it.
 */
async function renameUser(
  olds: UserOutputs,
  write: (creating: boolean) => Promise<void>,
): Promise<void> {
  await write(true);
  if (providerContext.retired(olds.target)) return;
  await deleteRow(dbOf(olds), USERS, olds.row.email, stackOf(olds));
}

/** The row's address: a rename changes it, and the id stays what the row was made as. */
const keyOf = (id: string, props: UserOutputs) => props.row?.email ?? id;

/**
 * Runs the script `forBase` makes for each server's mailbox base, on each server (the stack's
 * own first), and returns what each printed.
 */
const onEachServer = (what: string, forBase: (base: string) => string) =>
  Promise.all(
    providerContext.maildirs().map((m) =>
      mustRunOnServer(m.shell, what, forBase(m.mailboxBase)).then((out) => ({
        out,
        base: m.mailboxBase,
      })),
    ),
  );

export const userProvider: pulumi.dynamic.ResourceProvider = {
  configure: (req) => Promise.resolve(providerContext.set(req.config)),
  /**
   * At preview: a maildir that moves (a rename, a new `maildir`) may not land on one that exists.
   * A server the preview cannot reach passes here; the move itself refuses the same case.
   */
  async check(olds: UserInputs | undefined, news: UserInputs) {
    const [from, to] = [olds?.row?.maildir, news.row?.maildir];
    if (typeof from !== "string" || typeof to !== "string" || from === to) return { inputs: news };
    const found = await onEachServer("looking at the maildirs", (base) =>
      maildirProbeScript(base, from, to),
    ).catch(() => []);
    const reason = found
      .map(({ out, base }) => maildirClash(out, base, from, to))
      .find((r) => r !== undefined);
    return {
      inputs: news,
      failures: reason ? [{ property: "row", reason: `vmail: ${news.row.email}: ${reason}` }] : [],
    };
  },
  async create(inputs: UserInputs) {
    return { id: inputs.row.email, outs: await writeUser(inputs) };
  },
  diff(_id, olds: UserOutputs, news: UserInputs) {
    const changed =
      changedFields(
        olds.row,
        news.row,
        ["email", ...USER_COLUMNS, "scheme", "generateVersion"],
        USERS.unset,
      ).length > 0 || changedFields(olds, news, ["passwordHash", "password"]).length > 0;
    const drifted = olds.storedHash !== olds.writtenHash;
    return Promise.resolve({
      changes:
        changed || drifted || targetChanged(olds.target, news.target) || stackChanged(olds, news),
    });
  },
  /**
   * A maildir that moves is renamed on the server before the row names it, and whatever was
   * delivered to the old path meanwhile is swept into it after.
   */
  async update(_id, olds: UserOutputs, news: UserInputs) {
    const [from, to] = [olds.row.maildir, news.row.maildir];
    const what = `moving ${olds.row.email}'s maildir ${from} to ${to}`;
    if (from !== to) await onEachServer(what, (base) => maildirMoveScript(base, from, to));
    const outs = await writeUser(news, olds);
    if (from !== to) await onEachServer(what, (base) => maildirSweepScript(base, from, to));
    return { outs };
  },
  async read(id: string, props: UserOutputs) {
    if (providerContext.retired(props.target)) return { id, props };
    const row = await readRow(dbOf(props), USERS, keyOf(id, props));
    if (!row) return { id: "" };
    return {
      id,
      props: {
        ...props,
        row: readBack(props.row, row, USER_COLUMNS, USERS.unset),
        storedHash: row.password,
      },
    };
  },
  async delete(id: string, props: UserOutputs) {
    // The row only: the maildir and its mail stay on disk.
    if (providerContext.retired(props.target)) return;
    await deleteRow(dbOf(props), USERS, keyOf(id, props), stackOf(props));
  },
};
