// Two stacks on one database: each row records the stack that wrote it (vmail_managed_rows.stack),
// another stack's create or update of it is refused unless adopted, and a delete by a stack that
// no longer owns it leaves it in place. A real throwaway cluster; the providers driven directly,
// each call's inputs naming its stack as the program's rows do.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it, mock } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { Client } from "pg";
import { closePools } from "../../providers/db";
import {
  aliasProvider,
  userProvider,
  type UserInputs,
  type UserOutputs,
} from "../../providers/rows";
import { mailTablesProvider } from "../../providers/schema";
import { dbIdentity } from "../../core/target";
import { createMailDatabase } from "../support/mailDatabaseFixture";
import { startPgCluster, storedRow, superuserQuery, type PgCluster } from "../support/pgCluster";
import { testDatabaseSettings, useLocalContext } from "../support/providers";
import { installSystemDeps } from "../support/systemDeps";

type Provider = Required<pulumi.dynamic.ResourceProvider>;
const users = userProvider as Provider;
const aliases = aliasProvider as Provider;
const tables = mailTablesProvider as Provider;

const A = "organization/vmail/prod";
const B = "organization/vmail/staging";

let cluster: PgCluster;
const target = () => dbIdentity(testDatabaseSettings(cluster));
const inMail = (sql: string) => superuserQuery(cluster, sql, [], "mail");

/** The stack config's vmail:adoptExistingRows. */
const adopting = (adopt: boolean) =>
  useLocalContext(cluster, testDatabaseSettings(cluster, { adoptExistingRows: adopt }));

/** dave's inputs as stack `stack` declares them (`stack` undefined: a state from before). */
function dave(stack: string | undefined, realname: string): UserInputs {
  const row = {
    email: "dave@example.com",
    realname,
    maildir: "dave/",
    scheme: "BLF-CRYPT" as const,
  };
  return { row: { ...row, generateVersion: 1, ...(stack ? { stack } : {}) }, target: target() };
}

const daveRow = () => storedRow(cluster, "users", "email", "dave@example.com");

async function recordedStack(key = "dave@example.com"): Promise<string | null | undefined> {
  const rows = await inMail(`SELECT stack FROM vmail_managed_rows WHERE key = '${key}'`);
  return rows[0]?.stack as string | null | undefined;
}

/** Runs `work` with console.warn recorded: what the engine shows as the provider's warnings. */
async function warnings(work: () => Promise<unknown>): Promise<string[]> {
  const warn = mock.method(console, "warn", () => undefined);
  try {
    await work();
    return warn.mock.calls.map((c) => String(c.arguments[0]));
  } finally {
    warn.mock.restore();
  }
}

before(async () => {
  installSystemDeps();
  cluster = await startPgCluster();
  useLocalContext(cluster);
  await createMailDatabase(cluster, testDatabaseSettings(cluster));
});

beforeEach(async () => {
  adopting(false);
  await inMail("DELETE FROM users; DELETE FROM aliases; DELETE FROM vmail_managed_rows");
});

after(async () => {
  await closePools();
  await cluster?.stop();
});

describe("a row another stack wrote", () => {
  it("is refused to a create, naming the row, the database, the other stack and adoptExistingRows, and left as it is", async () => {
    await users.create(dave(A, "Dave of A"));
    assert.equal(await recordedStack(), A);
    await assert.rejects(
      users.create(dave(B, "Dave of B")),
      new RegExp(
        `users row dave@example\\.com in postgres 127\\.0\\.0\\.1:\\d+/mail belongs to another ` +
          `stack, ${A}, not to this one \\(${B}\\).*set vmail:adoptExistingRows to true`,
      ),
    );
    assert.equal((await daveRow())?.realname, "Dave of A");
    assert.equal(await recordedStack(), A);
  });

  it("is refused to an update too", async () => {
    const a = (await users.create(dave(A, "Dave of A"))).outs as UserOutputs;
    await assert.rejects(
      users.update("dave@example.com", { ...a, row: { ...a.row, stack: B } }, dave(B, "Dave of B")),
      /belongs to another stack, organization\/vmail\/prod.*vmail:adoptExistingRows/,
    );
    assert.equal((await daveRow())?.realname, "Dave of A");
  });

  it("is taken over with adoptExistingRows, and the stack it was taken from leaves it in place on its delete", async () => {
    const a = (await users.create(dave(A, "Dave of A"))).outs as UserOutputs;
    adopting(true);
    await users.create(dave(B, "Dave of B"));
    adopting(false);
    assert.equal((await daveRow())?.realname, "Dave of B");
    assert.equal(await recordedStack(), B);

    // A can no longer write it, and A's delete (its destroy) only forgets it, with a warning.
    await assert.rejects(
      users.update("dave@example.com", a, dave(A, "Dave again")),
      /organization\/vmail\/staging/,
    );
    const said = await warnings(() => users.delete("dave@example.com", a));
    assert.ok(await daveRow(), "B's users keep their mail");
    assert.equal(await recordedStack(), B);
    assert.match(
      said.join("\n"),
      new RegExp(
        `users row dave@example\\.com in postgres 127\\.0\\.0\\.1:\\d+/mail belongs to another ` +
          `stack, ${B}, not to this one \\(${A}\\): it is left in place, and this stack forgets it`,
      ),
    );
  });

  it("of another table (aliases) is protected the same way", async () => {
    const row = (stack: string) => ({
      row: { alias: "info@example.com", email: "dave@example.com", stack },
      target: target(),
    });
    await aliases.create(row(A));
    await assert.rejects(aliases.create(row(B)), /aliases row info@example\.com .* another stack/);
    await warnings(() => aliases.delete("info@example.com", row(B)));
    assert.ok(await storedRow(cluster, "aliases", "alias", "info@example.com"));
    await aliases.delete("info@example.com", row(A));
    assert.equal(await storedRow(cluster, "aliases", "alias", "info@example.com"), undefined);
  });

  it("is taken by one of two stacks creating it at once, never both", async () => {
    // Both creates are held at their write (the table locked), past any check they make first.
    const locker = new Client(cluster.clientConfig("mail"));
    await locker.connect();
    const row = (stack: string) => ({
      row: { alias: "race@example.com", email: `${stack.split("/")[2]}@example.com`, stack },
      target: target(),
    });
    let results: PromiseSettledResult<unknown>[];
    try {
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE aliases IN EXCLUSIVE MODE");
      const both = Promise.allSettled([aliases.create(row(A)), aliases.create(row(B))]);
      const waiting = async () =>
        (
          await locker.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'aliases'::regclass AND NOT granted",
          )
        ).rows[0].n;
      const deadline = Date.now() + 10_000;
      while ((await waiting()) < 2) {
        assert.ok(Date.now() < deadline, "both creates reach the locked table");
        await new Promise((r) => setTimeout(r, 20));
      }
      await locker.query("COMMIT");
      results = await both;
    } finally {
      await locker.end();
    }
    assert.deepEqual(results.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
    const winner = results[0].status === "fulfilled" ? A : B;
    assert.equal(await recordedStack("race@example.com"), winner);
    const stored = await storedRow(cluster, "aliases", "alias", "race@example.com");
    assert.equal(stored?.email, row(winner).row.email);
  });
});

describe("a stack's own row", () => {
  it("is deleted by its delete, row and record", async () => {
    const a = (await users.create(dave(A, "Dave of A"))).outs as UserOutputs;
    await users.delete("dave@example.com", a);
    assert.equal(await daveRow(), undefined);
    assert.equal(await recordedStack(), undefined);
  });

  it("shows a change when the stack writing it is another (renamed, or a copied state), and none for a state without one", async () => {
    const a = (await users.create(dave(A, "Dave"))).outs as UserOutputs;
    assert.equal((await users.diff("dave@example.com", a, dave(A, "Dave"))).changes, false);
    assert.equal((await users.diff("dave@example.com", a, dave(B, "Dave"))).changes, true);
    const legacy = { ...a, row: { ...a.row, stack: undefined } };
    assert.equal((await users.diff("dave@example.com", legacy, dave(A, "Dave"))).changes, false);
    const alias = { row: { alias: "x@example.com", email: "dave@example.com" }, target: target() };
    const withStack = { ...alias, row: { ...alias.row, stack: A } };
    assert.equal((await aliases.diff("x@example.com", alias, withStack)).changes, false);
    assert.equal(
      (
        await aliases.diff("x@example.com", withStack, {
          ...alias,
          row: { ...alias.row, stack: B },
        })
      ).changes,
      true,
    );
  });
});

describe("a row recorded before vmail recorded stacks", () => {
  /** dave as an older vmail left him: written by A (whose state has no stack), no stack recorded. */
  async function legacyDave(): Promise<UserOutputs> {
    const outs = (await users.create(dave(A, "Dave of A"))).outs as UserOutputs;
    await inMail("UPDATE vmail_managed_rows SET stack = NULL");
    return { ...outs, row: { ...outs.row, stack: undefined } };
  }

  it("is claimed by the first stack that updates it, which its state shows it wrote", async () => {
    const legacy = await legacyDave();
    await users.update("dave@example.com", legacy, dave(A, "Dave, renamed"));
    assert.equal(await recordedStack(), A);
    await assert.rejects(
      users.create(dave(B, "Dave of B")),
      /another stack, organization\/vmail\/prod/,
    );
  });

  it("is refused to a create, which has no state for it, unless adopted", async () => {
    await legacyDave();
    await assert.rejects(
      users.create(dave(B, "Dave of B")),
      /users row dave@example\.com is already in postgres 127\.0\.0\.1:\d+\/mail, written by a vmail that did not record its stack, and this stack \(organization\/vmail\/staging\) has no state for it.*vmail:adoptExistingRows/,
    );
    assert.equal(await recordedStack(), null);
    adopting(true);
    await users.create(dave(B, "Dave of B"));
    assert.equal(await recordedStack(), B);
  });

  it("is deleted by a state without a stack; one another stack claimed since is left in place", async () => {
    const legacy = await legacyDave();
    await users.delete("dave@example.com", legacy);
    assert.equal(await daveRow(), undefined);

    const again = await legacyDave();
    await users.update("dave@example.com", again, dave(B, "Dave of B")); // B claims it
    const said = await warnings(() => users.delete("dave@example.com", again));
    assert.ok(await daveRow());
    assert.match(
      said.join("\n"),
      /another stack, organization\/vmail\/staging, not to this one \(recorded before vmail recorded stacks\)/,
    );
  });

  it("is kept by a move to the same database under another host name (an update there, not a create)", async () => {
    const legacy = await legacyDave();
    const there = { ...dave(A, "Dave of A"), target: { ...target(), host: "localhost" } };
    await users.update("dave@example.com", legacy, there);
    assert.equal((await daveRow())?.realname, "Dave of A");
    assert.equal(await recordedStack(), A);
  });

  it("in a list made before its stack column is still deleted; a write names the way out", async () => {
    const a = (await users.create(dave(A, "Dave of A"))).outs as UserOutputs;
    await inMail("ALTER TABLE vmail_managed_rows DROP COLUMN stack");
    try {
      await assert.rejects(
        users.update("dave@example.com", a, dave(A, "Dave, renamed")),
        /was not written to postgres 127\.0\.0\.1:\d+\/mail: vmail's list of the rows it wrote there \(vmail_managed_rows\) has no stack column yet/,
      );
      await users.delete("dave@example.com", a);
      assert.equal(await daveRow(), undefined);
    } finally {
      await tables.create({ database: "mail", ownerRole: "mailreader_admin", target: target() });
    }
    // MailTables' statements add the column back (an `up`), and a write records the stack again.
    await users.create(dave(A, "Dave of A"));
    assert.equal(await recordedStack(), A);
  });
});
