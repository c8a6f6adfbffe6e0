// The dynamic providers behind the rows: one row of transports, users or aliases per resource.
// They connect as the admin role and SET ROLE to the owner role, so a row is written with the
// owner's rights, and rotating the owner's password never touches a row's state.

import { randomBytes } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { inTransaction, type DbTarget } from "./db";
import { hashPassword, type HashScheme } from "../spec/passwords";
import { providerContext } from "./context";
import { deleteSql, selectSql, upsertSql } from "../spec/sql";
import { ALIASES, TRANSPORTS, USERS, type TableShape } from "../spec/tables";

type Row = Record<string, unknown>;

export async function writeRow(db: DbTarget, shape: TableShape, values: Row): Promise<void> {
  const params = [shape.key, ...shape.columns].map((c) => values[c]);
  await inTransaction(db, db.settings.ownerRole, (c) => c.query(upsertSql(shape), params));
}

export async function deleteRow(db: DbTarget, shape: TableShape, key: string): Promise<void> {
  await inTransaction(db, db.settings.ownerRole, (c) => c.query(deleteSql(shape), [key]));
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

/** Names of the fields that differ, compared as JSON. */
function changedFields<T extends object>(olds: T, news: T, fields: (keyof T & string)[]): string[] {
  return fields.filter((f) => JSON.stringify(olds[f] ?? null) !== JSON.stringify(news[f] ?? null));
}

/**
 * The resources' inputs keep their columns under one key, `row`: the SDK makes an Output and four
 * promises per input key, which at thousands of rows is most of the program's memory.
 */
export interface RowInputs<T extends Row> {
  row: T;
}

/** The provider of a table whose row is exactly `row`, keyed by `shape.key`: transports, aliases. */
function plainRowProvider<T extends Row>(shape: TableShape): pulumi.dynamic.ResourceProvider {
  const db = () => providerContext.get().db;
  return {
    configure: (req) => Promise.resolve(providerContext.set(req.config)),
    async create(inputs: RowInputs<T>) {
      await writeRow(db(), shape, inputs.row);
      return { id: String(inputs.row[shape.key]), outs: inputs };
    },
    diff: (_id, olds: RowInputs<T>, news: RowInputs<T>) =>
      Promise.resolve({ changes: changedFields(olds.row, news.row, shape.columns).length > 0 }),
    async update(_id, _olds: RowInputs<T>, news: RowInputs<T>) {
      await writeRow(db(), shape, news.row);
      return { outs: news };
    },
    async read(id: string, props: RowInputs<T>) {
      const row = await readRow(db(), shape, id);
      if (!row) return { id: "" };
      const current = Object.fromEntries(shape.columns.map((c) => [c, row[c]]));
      return { id, props: { ...props, row: { ...props.row, ...current } } };
    },
    async delete(id: string) {
      await deleteRow(db(), shape, id);
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

/** A user's columns (all but the password) and how its password is made. */
export interface UserRow extends Row {
  email: string;
  realname: string | null;
  maildir: string;
  scheme: HashScheme;
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
  await writeRow(providerContext.get().db, USERS, { ...news.row, password: hash });
  return { ...news, writtenHash: hash, storedHash: hash, generatedPassword: generated };
}

export const userProvider: pulumi.dynamic.ResourceProvider = {
  configure: (req) => Promise.resolve(providerContext.set(req.config)),
  async create(inputs: UserInputs) {
    return { id: inputs.row.email, outs: await writeUser(inputs) };
  },
  diff(_id, olds: UserOutputs, news: UserInputs) {
    const changed =
      changedFields(olds.row, news.row, ["realname", "maildir", "scheme", "generateVersion"])
        .length > 0 || changedFields(olds, news, ["passwordHash", "password"]).length > 0;
    const drifted = olds.storedHash !== olds.writtenHash;
    return Promise.resolve({ changes: changed || drifted });
  },
  async update(_id, olds: UserOutputs, news: UserInputs) {
    return { outs: await writeUser(news, olds) };
  },
  async read(id: string, props: UserOutputs) {
    const row = await readRow(providerContext.get().db, USERS, id);
    if (!row) return { id: "" };
    return {
      id,
      props: {
        ...props,
        row: { ...props.row, realname: row.realname, maildir: row.maildir },
        storedHash: row.password,
      },
    };
  },
  async delete(id: string) {
    // The row only: the maildir and its mail stay on disk.
    await deleteRow(providerContext.get().db, USERS, id);
  },
};
