// Where rows and files live, and whose they are: every call of a row goes to the database the row
// records (not to wherever the stack points now), a move writes the new row and MovedRowsCleanup
// deletes this stack's old ones last (and refuses a server-side port that misses the new database),
// a file records its server, and a create never takes over a row vmail did not write. Two real
// throwaway clusters; the providers driven directly.

import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { closePools } from "../../providers/db";
import {
  aliasProvider,
  domainProvider,
  userProvider,
  type UserInputs,
  type UserOutputs,
} from "../../providers/rows";
import { postfixMainCfProvider } from "../../providers/postfixMainCf";
import { rowsCleanupProvider } from "../../providers/rowsCleanup";
import { serverFileProvider } from "../../providers/serverFile";
import type { DatabaseSettings } from "../../core/config";
import { dbIdentity, type DbIdentity, type ServerIdentity } from "../../core/target";
import { doveadmVerifies } from "../support/dovecot";
import { createMailDatabase } from "../support/mailDatabaseFixture";
import {
  startPgCluster,
  storedRow as rowIn,
  superuserQuery,
  type PgCluster,
} from "../support/pgCluster";
import { testDatabaseSettings, useLocalContext } from "../support/providers";
import { installSystemDeps } from "../support/systemDeps";

type Provider = Required<pulumi.dynamic.ResourceProvider>;
const users = userProvider as Provider;
const domains = domainProvider as Provider;
const aliases = aliasProvider as Provider;
const files = serverFileProvider as Provider;

const STACK = "organization/vmail/targets";
const cleanup = rowsCleanupProvider as Provider;

let a: PgCluster;
let b: PgCluster;
let dir: string;

/** The stack's config points at `cluster` (optionally with more settings). */
function configureFor(cluster: PgCluster, more: Partial<DatabaseSettings> = {}) {
  useLocalContext(cluster, testDatabaseSettings(cluster, more));
}
const at = (cluster: PgCluster, host: string = cluster.host): DbIdentity =>
  dbIdentity({ host, port: cluster.port, name: "mail" });

function userInputs(email: string, target: DbIdentity): UserInputs {
  return {
    row: {
      email,
      realname: null,
      maildir: `${email.split("@")[0]}/`,
      scheme: "BLF-CRYPT",
      generateVersion: 1,
      stack: STACK,
    },
    target,
  };
}

before(async () => {
  installSystemDeps();
  // One admin password for both, as one stack config has: it reaches the old database too.
  a = await startPgCluster();
  b = await startPgCluster({ superPassword: a.superPassword });
  for (const cluster of [a, b]) {
    configureFor(cluster);
    await createMailDatabase(cluster, testDatabaseSettings(cluster));
  }
  dir = await mkdtemp(join(tmpdir(), "vmail-targets-"));
});

after(async () => {
  await closePools();
  await Promise.all([a?.stop(), b?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("a row's database", () => {
  it("a move is an update that writes the row in the new database, keeping its generated password; the old row stays until the cleanup, which deletes this stack's rows only", async () => {
    configureFor(a);
    const created = await users.create(userInputs("mover@example.com", at(a)));
    const olds = created.outs as UserOutputs;
    const other = {
      ...userInputs("other@example.com", at(a)).row,
      stack: "organization/vmail/other",
    };
    await users.create({ row: other, target: at(a) });
    // The stack now points at b.
    configureFor(b);
    const news = userInputs("mover@example.com", at(b));
    const diff = await users.diff("mover@example.com", olds, news);
    assert.equal(diff.changes, true);
    assert.deepEqual(diff.replaces ?? [], [], "an update: a replacement would make a new password");
    const moved = (await users.update("mover@example.com", olds, news)).outs as UserOutputs;
    const there = await rowIn(b, "users", "email", "mover@example.com");
    assert.ok(there, "written in b");
    assert.ok(
      await rowIn(a, "users", "email", "mover@example.com"),
      "still in a, still found there",
    );
    assert.equal(moved.generatedPassword, olds.generatedPassword);
    assert.ok(doveadmVerifies(there.password as string, olds.generatedPassword ?? ""));
    assert.equal((await users.diff("mover@example.com", moved, news)).changes, false);

    // Last of the run, MovedRowsCleanup: its update deletes from a what this stack moved to b.
    const [from, to] = [
      { target: at(a), stack: STACK },
      { target: at(b), stack: STACK },
    ];
    assert.equal((await cleanup.diff("rows", from, to)).changes, true);
    await cleanup.update("rows", from, to);
    assert.equal(await rowIn(a, "users", "email", "mover@example.com"), undefined, "gone from a");
    assert.ok(await rowIn(a, "users", "email", "other@example.com"), "another stack's row stays");
    assert.ok(await rowIn(b, "users", "email", "mover@example.com"));
  });

  it("the cleanup leaves the rows of the same database reached another way, and of a retired one", async () => {
    configureFor(a);
    await users.create(userInputs("same@example.com", at(a)));
    configureFor(a, { host: "localhost" });
    await cleanup.update(
      "rows",
      { target: at(a), stack: STACK },
      { target: at(a, "localhost"), stack: STACK },
    );
    assert.ok(await rowIn(a, "users", "email", "same@example.com"), "the one database keeps it");
  });

  it("refuses at preview a move whose server-side port does not reach the new database", async () => {
    const check = (serverPort: number) => {
      configureFor(b, { serverPort });
      return cleanup.check({ target: at(a), stack: STACK }, { target: at(b), stack: STACK });
    };
    assert.deepEqual((await check(b.port)).failures, [], "b's own port");
    const wrong = await check(a.port);
    assert.match(
      wrong.failures?.[0]?.reason ?? "",
      new RegExp(`127\\.0\\.0\\.1:${a.port} \\(vmail:pgServerPort.*reaches another database`),
    );
    const closed = await check(1);
    assert.match(closed.failures?.[0]?.reason ?? "", /127\.0\.0\.1:1 .*does not answer/);
  });

  it("the same database under another host name keeps its row", async () => {
    configureFor(a);
    const created = await domains.create({
      row: { domain: "alias-host.example", gid: 1000, transport: "virtual:" },
      target: at(a),
    });
    const news = {
      row: { domain: "alias-host.example", gid: 1000, transport: "virtual:" },
      target: at(a, "localhost"),
    };
    configureFor(a, { host: "localhost" });
    await domains.update("alias-host.example", created.outs, news);
    assert.ok(await rowIn(a, "transports", "domain", "alias-host.example"), "still there");
  });

  it("delete and refresh go to the database the row records, not the configured one", async () => {
    configureFor(a);
    const row = { alias: "stay@example.com", email: "dave@example.com" };
    await aliases.create({ row, target: at(a) });
    configureFor(b);
    await aliases.create({ row, target: at(b) });
    // The stack points at b; a's row is deleted in a, and b's stays.
    assert.equal(
      (await aliases.read("stay@example.com", { row, target: at(a) })).id,
      "stay@example.com",
    );
    await aliases.delete("stay@example.com", { row, target: at(a) });
    assert.equal(await rowIn(a, "aliases", "alias", "stay@example.com"), undefined);
    assert.ok(await rowIn(b, "aliases", "alias", "stay@example.com"));
    assert.equal((await aliases.read("stay@example.com", { row, target: at(a) })).id, "");
  });

  it("deleting a row of a database that no longer exists succeeds", async () => {
    configureFor(a);
    const gone = dbIdentity({ host: a.host, port: a.port, name: "dropped_since" });
    await aliases.delete("x@example.com", {
      row: { alias: "x@example.com", email: "y@example.com" },
      target: gone,
    });
  });
});

describe("rows vmail did not write", () => {
  it("a create that finds one refuses, naming it and the way to adopt, and changes nothing", async () => {
    configureFor(a);
    await superuserQuery(
      a,
      "INSERT INTO users (email, password, maildir) VALUES ('old@example.com', '{PLAIN}before', 'old/')",
      [],
      "mail",
    );
    await assert.rejects(
      users.create(userInputs("old@example.com", at(a))),
      /users row old@example\.com is already in postgres 127\.0\.0\.1:\d+\/mail, and vmail did not write it.*vmail:adoptExistingRows/,
    );
    const kept = await rowIn(a, "users", "email", "old@example.com");
    assert.equal(kept.password, "{PLAIN}before");
  });

  it("with adoptExistingRows the create takes it over", async () => {
    configureFor(a, { adoptExistingRows: true });
    const outs = (await users.create(userInputs("old@example.com", at(a)))).outs as UserOutputs;
    const taken = await rowIn(a, "users", "email", "old@example.com");
    assert.ok(doveadmVerifies(taken.password as string, outs.generatedPassword ?? ""));
  });

  it("a row vmail wrote (a run killed before the state saw it) is created again without complaint", async () => {
    configureFor(a);
    const inputs = {
      row: { domain: "killed.example", gid: 1000, transport: "virtual:" },
      target: at(a),
    };
    await domains.create(inputs);
    // The state never heard of it: the next run creates it again.
    await domains.create(inputs);
    // Once deleted, it is no longer vmail's: a row put there by hand is refused again.
    await domains.delete("killed.example", inputs);
    await superuserQuery(
      a,
      "INSERT INTO transports VALUES ('killed.example', 1000, 'virtual:')",
      [],
      "mail",
    );
    await assert.rejects(domains.create(inputs), /transports row killed\.example is already in/);
  });
});

describe("a file's server", () => {
  const elsewhere: ServerIdentity = {
    kind: "ssh",
    host: "127.0.0.1",
    port: 9, // discard: nothing answers SSH there
    user: "root",
    hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINXzElcUX6xwe3jKo50/fO6h43ELLYiGR/QtpG9kSEmX",
  };

  it("another server is a replacement, the old file removed first", async () => {
    configureFor(a);
    const path = join(dir, "moved.cf");
    const created = await files.create({
      server: { kind: "local" },
      path,
      content: "x\n",
      ownership: { mode: "0640", owner: "root", group: "root" },
    });
    const diff = await files.diff(path, created.outs, {
      ...created.outs,
      content: "x\n",
      server: elsewhere,
    });
    assert.deepEqual(diff.replaces, ["server"]);
    assert.equal(diff.deleteBeforeReplace, true);
    assert.equal(await readFile(path, "utf8"), "x\n");
  });

  it("read and delete go to the server the file records, not the configured one", async () => {
    configureFor(a); // the stack says: this machine
    const path = join(dir, "recorded.cf");
    const props = { server: elsewhere, path, ownership: undefined, sha256: "", written: "" };
    await assert.rejects(files.read(path, props), /127\.0\.0\.1|ssh|connect/i);
    await assert.rejects(files.delete(path, props), /127\.0\.0\.1|ssh|connect/i);
  });

  it("main.cf settings record their server too", async () => {
    const olds = {
      server: { kind: "local" },
      configDir: "/etc/postfix",
      settings: {},
      domains: [],
    };
    const diff = await (postfixMainCfProvider as Provider).diff("/etc/postfix", olds, {
      ...olds,
      server: elsewhere,
    });
    assert.deepEqual(diff.replaces, ["server"]);
    assert.equal(diff.deleteBeforeReplace, true);
  });
});
