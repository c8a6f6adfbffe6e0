// A database or server that is gone for good: a row cannot move off it (nothing is written while
// the old database cannot be reached), every connect is bounded in time, and the operator's way
// out, vmail:retiredTargets, moves rows and files without touching the dead target again. Two
// real throwaway clusters, one of them stopped; the providers driven directly.

import assert from "node:assert/strict";
import { createServer, type Server as NetServer } from "node:net";
import { after, before, describe, it } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { providerContext } from "../../providers/context";
import { closePools, inTransaction } from "../../providers/db";
import { userProvider, type UserInputs, type UserOutputs } from "../../providers/rows";
import { rowsCleanupProvider } from "../../providers/rowsCleanup";
import { serverFileProvider } from "../../providers/serverFile";
import {
  dbIdentity,
  describeTarget,
  type DbIdentity,
  type ServerIdentity,
} from "../../core/target";
import { createMailDatabase } from "../support/mailDatabaseFixture";
import { startPgCluster, storedRow, type PgCluster } from "../support/pgCluster";
import { testDatabaseSettings, useLocalContext } from "../support/providers";
import { startSshServer } from "../support/sshServer";
import { installSystemDeps } from "../support/systemDeps";

type Provider = Required<pulumi.dynamic.ResourceProvider>;
const users = userProvider as Provider;
const cleanup = rowsCleanupProvider as Provider;
const STACK = "organization/vmail/retired";
const files = serverFileProvider as Provider;

let dead: PgCluster;
let alive: PgCluster;
let deadTarget: DbIdentity;
let silent: NetServer;

/** The stack points at `alive`, having given up on what `retired` names. */
function configure(retired: string[] = []): void {
  const ctx = useLocalContext(alive, testDatabaseSettings(alive));
  providerContext.use({ ...ctx, retiredTargets: retired });
}

const dave = (target: DbIdentity, generateVersion = 1): UserInputs => ({
  row: {
    email: "dave@example.com",
    realname: null,
    maildir: "dave/",
    scheme: "BLF-CRYPT",
    generateVersion,
    stack: STACK,
  },
  target,
});

before(async () => {
  installSystemDeps();
  dead = await startPgCluster();
  alive = await startPgCluster({ superPassword: dead.superPassword });
  for (const cluster of [dead, alive]) {
    useLocalContext(cluster, testDatabaseSettings(cluster));
    await createMailDatabase(cluster, testDatabaseSettings(cluster));
  }
  deadTarget = dbIdentity({ host: dead.host, port: dead.port, name: "mail" });
  // A host that takes connections and never answers.
  silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
});

after(async () => {
  await closePools();
  silent?.close();
  await Promise.all([dead?.stop(), alive?.stop()]);
});

describe("a database that is gone for good", () => {
  let written: UserOutputs;
  const aliveTarget = () => dbIdentity({ host: alive.host, port: alive.port, name: "mail" });

  before(async () => {
    useLocalContext(dead, testDatabaseSettings(dead));
    written = (await users.create(dave(deadTarget))).outs as UserOutputs;
    await closePools();
    await dead.stop();
  });

  it("a move off it writes the row where the stack points, as the state records it; the cleanup, last, fails naming the way out", async () => {
    configure();
    // A new password in the same run: what is written is what the state records.
    const moved = (await users.update("dave@example.com", written, dave(aliveTarget(), 2)))
      .outs as UserOutputs;
    const row = await storedRow(alive, "users", "email", "dave@example.com");
    assert.equal(row.password, moved.writtenHash, "the state records what was written");
    const [from, to] = [
      { target: deadTarget, stack: STACK },
      { target: aliveTarget(), stack: STACK },
    ];
    await assert.rejects(cleanup.update("rows", from, to), (e: Error) => {
      assert.match(
        e.message,
        /cannot be reached to delete them there: vmail: cannot reach postgres/,
      );
      assert.match(
        e.message,
        new RegExp(`add "${describeTarget(deadTarget)}" to vmail:retiredTargets`),
      );
      return true;
    });
    await assert.rejects(users.read("dave@example.com", written), /cannot reach postgres/);
    configure([describeTarget(deadTarget)]);
    await cleanup.update("rows", from, to); // retired: left as it is
  });

  it("once retired: read as the state has it, moved without touching it, forgotten on delete", async () => {
    configure([describeTarget(deadTarget)]);
    assert.deepEqual(await users.read("dave@example.com", written), {
      id: "dave@example.com",
      props: written,
    });
    const moved = (await users.update("dave@example.com", written, dave(aliveTarget(), 2)))
      .outs as UserOutputs;
    const row = await storedRow(alive, "users", "email", "dave@example.com");
    assert.equal(row.password, moved.writtenHash, "the state records what was written");
    assert.notEqual(moved.generatedPassword, written.generatedPassword, "the new password");
    await users.delete("dave@example.com", written); // recorded at the dead one: nothing to do
  });

  it("a connect to a host that never answers fails in bounded time, naming the way out", async () => {
    const address = silent.address();
    assert.ok(address !== null && typeof address === "object");
    const target = { ...providerContext.get().db };
    target.settings = { ...target.settings, host: "127.0.0.1", port: address.port };
    const started = Date.now();
    await assert.rejects(
      inTransaction(target, undefined, (c) => c.query("SELECT 1")),
      /cannot reach postgres 127\.0\.0\.1:\d+\/mail .*timeout.*vmail:retiredTargets/s,
    );
    // A guard against a hang, not a speed check: the OS alone would wait minutes.
    assert.ok(Date.now() - started < 60_000);
  });
});

describe("a server that is gone for good", () => {
  let gone: ServerIdentity;
  let privateKey: string;
  const file = () => ({
    server: gone,
    path: "/etc/postfix/pgsql/mailboxes.cf",
    sha256: "x",
    written: "x",
  });

  before(async () => {
    // A server that was there (its key pinned, the stack's key authorized), then went away.
    const sshd = await startSshServer();
    gone = {
      kind: "ssh",
      host: sshd.host,
      port: sshd.port,
      user: "root",
      hostKey: sshd.hostPublicKey,
    };
    privateKey = sshd.privateKey;
    await sshd.stop();
  });

  /** The stack's SSH key, and the retired targets. */
  function configureSsh(retired: string[] = []): void {
    configure(retired);
    const ctx = providerContext.get();
    providerContext.use({ ...ctx, shell: { ...ctx.shell, privateKey } });
  }

  it("fails a delete there with the way out, and once retired, forgets the file", async () => {
    configureSsh();
    const described = describeTarget(gone).replace(/[.]/g, "\\.");
    await assert.rejects(
      files.delete(file().path, file()),
      new RegExp(`add "${described}" to vmail:retiredTargets`),
    );
    configureSsh([describeTarget(gone)]);
    await files.delete(file().path, file());
    assert.deepEqual(await files.read(file().path, file()), { id: file().path, props: file() });
  });
});
