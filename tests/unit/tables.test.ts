// The tables' description (core/tables.ts) is the one place a column lives: the DDL, the columns
// the providers write and read back, and the grants come from it, and the queries Postfix and
// Dovecot run read only what their roles are granted.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderDovecotSql } from "../../core/dovecotConfig";
import { MAP_NAMES, renderMapFile } from "../../core/postfixConfig";
import { CREATE_TABLES, tableDdl } from "../../core/sql";
import {
  readableBy,
  SCHEMA_VERSION,
  shapeOf,
  TABLES,
  usersColumnsReadBy,
  wholeTablesReadBy,
  type MailReader,
  type TableSpec,
} from "../../core/tables";

/** The `query = ...` lines of a rendered file (Postfix's `query`, Dovecot's `*_query`). */
function queries(rendered: string): string[] {
  return rendered
    .split("\n")
    .filter((line) => /^\w*query = /.test(line))
    .map((line) => line.slice(line.indexOf("=") + 1));
}

/** Every table.column a query names, by the tables it reads FROM. */
function columnsNamed(query: string): { table: string; column: string }[] {
  const from = [...query.matchAll(/\bFROM (\w+)/g)].map((m) => m[1]);
  return Object.values(TABLES as Record<string, TableSpec>)
    .filter((t) => from.includes(t.table))
    .flatMap((t) =>
      [t.key, ...t.columns]
        .filter((c) => new RegExp(`\\b${c.name}\\b`).test(query))
        .map((c) => ({ table: t.table, column: c.name })),
    );
}

function assertReadable(reader: MailReader, query: string): void {
  const named = columnsNamed(query);
  assert.ok(named.length > 0, `the query reads a mail table: ${query}`);
  for (const { table, column } of named) {
    const spec = (TABLES as Record<string, TableSpec>)[table];
    const readable = readableBy(spec, reader);
    assert.ok(
      readable === "all" || readable.includes(column),
      `${reader}'s query reads ${table}.${column}, which its role is not granted: ${query}`,
    );
  }
}

describe("the tables' description", () => {
  it("makes the articles' tables, then adds each later column with an idempotent ADD COLUMN", () => {
    assert.equal(SCHEMA_VERSION, 5);
    const [create, ...added] = tableDdl(TABLES.users);
    assert.match(create, /^CREATE TABLE IF NOT EXISTS users \(\n {4}email TEXT PRIMARY KEY,/);
    assert.doesNotMatch(create, /login/, "the table as version 1 made it");
    assert.deepEqual(added, [
      "ALTER TABLE users ADD COLUMN IF NOT EXISTS login BOOLEAN NOT NULL DEFAULT true",
      "ALTER TABLE users ADD COLUMN IF NOT EXISTS receive BOOLEAN NOT NULL DEFAULT true",
      "ALTER TABLE users ADD COLUMN IF NOT EXISTS quota BIGINT",
      "ALTER TABLE users ADD COLUMN IF NOT EXISTS send_as TEXT",
    ]);
    assert.ok(CREATE_TABLES.includes(added[0]));
  });

  it("writes and reads back every column vmail owns, never one the database fills", () => {
    assert.deepEqual(shapeOf(TABLES.users), {
      table: "users",
      key: "email",
      columns: ["password", "realname", "maildir", "login", "receive", "quota", "send_as"],
      unset: { login: true, receive: true, quota: null, send_as: null },
    });
  });

  it("grants Postfix no password hash, and Dovecot nothing but what logs a user in", () => {
    assert.deepEqual(wholeTablesReadBy("postfix"), ["transports", "aliases"]);
    assert.deepEqual(usersColumnsReadBy("postfix"), ["email", "maildir", "receive", "send_as"]);
    assert.deepEqual(wholeTablesReadBy("dovecot"), []);
    assert.deepEqual(usersColumnsReadBy("dovecot"), [
      "email",
      "password",
      "maildir",
      "login",
      "quota",
    ]);
  });

  it("covers every column Postfix's maps and Dovecot's queries read", () => {
    for (const map of MAP_NAMES) {
      const rendered = renderMapFile(
        map,
        { hosts: [{ host: "127.0.0.1", port: 5432 }], user: "mailreader", dbname: "mail" },
        "pw",
      );
      for (const query of queries(rendered)) assertReadable("postfix", query);
    }
    const dovecot = renderDovecotSql({
      hosts: [{ host: "127.0.0.1", port: 5432 }],
      dbname: "mail",
      role: "maildovecot",
      password: "pw",
      scheme: "BLF-CRYPT",
      mailboxBase: "/home/mail",
      uid: 1000,
      gid: 1000,
    });
    const found = queries(dovecot);
    assert.equal(found.length, 3, dovecot);
    for (const query of found) assertReadable("dovecot", query);
  });
});
