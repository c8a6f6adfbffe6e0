// A user renamed with `formerly`: vmail's user provider, driven as the engine drives it for an
// aliased resource, against a throwaway cluster and real directories on this machine. The row
// moves to the new address with the same password, the maildir is renamed on disk (mail that
// reached the old path meanwhile swept in), and a move onto an existing maildir is refused at
// preview and at the move.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type * as pulumi from "@pulumi/pulumi";
import { Client } from "pg";
import { closePools } from "../../providers/db";
import { providerContext } from "../../providers/context";
import { userProvider, type UserInputs, type UserOutputs } from "../../providers/rows";
import { dbIdentity } from "../../core/target";
import { createMailDatabase } from "../support/mailDatabaseFixture";
import { startPgCluster, storedRow, type PgCluster } from "../support/pgCluster";
import { testDatabaseSettings, useLocalContext } from "../support/providers";
import { installSystemDeps } from "../support/systemDeps";

type Provider = Required<pulumi.dynamic.ResourceProvider>;
const users = userProvider as Provider;

let cluster: PgCluster;
let base: string;
/** A second server's mailbox base (reached the same way here): its maildirs move too. */
let secondBase: string;

function inputs(email: string, maildir: string): UserInputs {
  const row = { email, realname: null, maildir, scheme: "BLF-CRYPT" as const, stack: "o/p/s" };
  return { row: { ...row, generateVersion: 1 }, target: dbIdentity(testDatabaseSettings(cluster)) };
}

/** A maildir with one message in new/, as a delivery leaves it. */
function maildirWith(maildir: string, message: string, at = base): void {
  for (const d of ["new", "cur", "tmp"]) mkdirSync(join(at, maildir, d), { recursive: true });
  writeFileSync(join(at, maildir, "new", `${message}.host`), `Subject: ${message}\n\n`);
}

const messages = (maildir: string, dir = "new", at = base) =>
  existsSync(join(at, maildir, dir)) ? readdirSync(join(at, maildir, dir)).sort() : [];

before(async () => {
  installSystemDeps();
  cluster = await startPgCluster();
  base = await mkdtemp(join(tmpdir(), "vmail-rename-"));
  secondBase = await mkdtemp(join(tmpdir(), "vmail-rename-second-"));
  const ctx = useLocalContext(cluster);
  providerContext.use({
    ...ctx,
    maildirs: [
      { shell: ctx.shell, mailboxBase: base },
      { shell: ctx.shell, mailboxBase: secondBase },
    ],
  });
  await createMailDatabase(cluster, testDatabaseSettings(cluster));
});

after(async () => {
  await closePools();
  await cluster?.stop();
  for (const dir of [base, secondBase]) if (dir) await rm(dir, { recursive: true, force: true });
});

describe("renaming a user", () => {
  it("moves the row with its password and the maildir with its mail; the preview shows an update", async () => {
    const made = (await users.create(inputs("frank@example.com", "example.com/frank/")))
      .outs as UserOutputs;
    maildirWith("example.com/frank/", "before-rename");
    const renamed = inputs("franklin@example.com", "example.com/franklin/");

    const checked = await users.check(made, renamed);
    assert.deepEqual(checked.failures, []);
    const diff = await users.diff("frank@example.com", made, renamed);
    assert.equal(diff.changes, true);
    assert.equal(diff.replaces, undefined, "an update, not a replacement");

    const outs = (await users.update("frank@example.com", made, renamed)).outs as UserOutputs;
    assert.equal(outs.generatedPassword, made.generatedPassword, "the same password");
    const row = await storedRow(cluster, "users", "email", "franklin@example.com");
    assert.equal(row.password, made.writtenHash, "the same stored hash");
    assert.equal(row.maildir, "example.com/franklin/");
    assert.equal(await storedRow(cluster, "users", "email", "frank@example.com"), undefined);
    assert.deepEqual(messages("example.com/franklin/"), ["before-rename.host"]);
    assert.equal(existsSync(join(base, "example.com/frank")), false, "nothing left behind");

    // Read back and deleted under its new address, whatever id the engine kept.
    const read = await users.read("frank@example.com", outs);
    assert.equal(read.id, "frank@example.com");
    await users.delete("frank@example.com", outs);
    assert.equal(await storedRow(cluster, "users", "email", "franklin@example.com"), undefined);
  });

  it("moves the maildir on every server that has it, and passes one that has none", async () => {
    const made = (await users.create(inputs("ida@example.com", "ida/"))).outs as UserOutputs;
    maildirWith("ida/", "on-the-first");
    maildirWith("ida/", "on-the-second", secondBase);
    const moved = (await users.update("ida@example.com", made, inputs("ida@example.com", "ida-b/")))
      .outs as UserOutputs;
    assert.deepEqual(messages("ida-b/"), ["on-the-first.host"]);
    assert.deepEqual(messages("ida-b/", "new", secondBase), ["on-the-second.host"]);
    assert.equal(existsSync(join(secondBase, "ida")), false, "nothing left on the second");

    // A maildir only the second server has (no mail on the first yet) moves there alone.
    rmSync(join(base, "ida-b"), { recursive: true });
    await users.update("ida@example.com", moved, inputs("ida@example.com", "ida-c/"));
    assert.deepEqual(messages("ida-c/", "new", secondBase), ["on-the-second.host"]);
    assert.equal(existsSync(join(base, "ida-c")), false, "none made on the first");
  });

  it("sweeps mail delivered to the old path during the move into the new maildir", async () => {
    const made = (await users.create(inputs("gus@example.com", "gus/"))).outs as UserOutputs;
    maildirWith("gus/", "first");
    // The row held by another transaction: the provider moves the maildir, then waits to write.
    const holder = new Client(cluster.clientConfig("mail"));
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT 1 FROM users WHERE email = 'gus@example.com' FOR UPDATE");
      const updating = users.update("gus@example.com", made, inputs("gus@example.com", "gustav/"));
      const deadline = Date.now() + 30_000;
      while (existsSync(join(base, "gus")) && Date.now() < deadline) await sleep(50);
      assert.deepEqual(messages("gustav/"), ["first.host"], "moved before the row changed");
      // What a delivery does while the row still names the old maildir: makes it again.
      maildirWith("gus/", "late");
      await holder.query("COMMIT");
      await updating;
    } finally {
      await holder.end();
    }
    assert.deepEqual(messages("gustav/"), ["first.host", "late.host"]);
    assert.equal(existsSync(join(base, "gus")), false, "the old maildir is gone");
  });

  it("refuses a move onto a maildir that exists, at preview and at the move, and moves nothing", async () => {
    const made = (await users.create(inputs("hal@example.com", "hal/"))).outs as UserOutputs;
    maildirWith("hal/", "hals");
    maildirWith("taken/", "someone-elses");
    const moved = inputs("hal@example.com", "taken/");
    const checked = await users.check(made, moved);
    assert.match(
      checked.failures?.[0]?.reason ?? "",
      /hal@example\.com: its maildir would move from \S+\/hal\/ to \S+\/taken\/, which exists already/,
    );
    await assert.rejects(
      users.update("hal@example.com", made, moved),
      /taken exists already; the maildir \S+\/hal was not moved/,
    );
    assert.deepEqual(messages("hal/"), ["hals.host"]);
    assert.deepEqual(messages("taken/"), ["someone-elses.host"]);
    const row = await storedRow(cluster, "users", "email", "hal@example.com");
    assert.equal(row.maildir, "hal/", "the row still names the old maildir");
  });
});
