// Several mail servers over one account database, under the real CLI with the repo's own program:
// a primary PostgreSQL cluster where vmail writes, a streaming replica made with pg_basebackup,
// this machine's private Postfix and Dovecot (the stack's own server) and a second private
// Postfix and Dovecot reached over SSH on loopback (server mx2), which read the replica first and
// then the primary. The state is in the PostgreSQL backend. Adding and removing mx2 touches no
// row; a user added by `up` is delivered and logs in on mx2; with the primary stopped, mx2 still
// delivers to and serves its users from the replica; with the primary back, `up` changes nothing.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { chmod, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as auto from "@pulumi/pulumi/automation";
import { mapFilePath } from "../../core/postfixConfig";
import {
  assertNoChanges,
  changedResources,
  createTestStack,
  PROJECT_FILES,
  timed,
  type TestStack,
} from "../support/engine";
import { delivered, postmapQuery } from "../support/mailWorld";
import {
  startPgCluster,
  startReplica,
  stateBackendOn,
  STATE_DB,
  superuserQuery,
  type PgCluster,
} from "../support/pgCluster";
import { pluginGate } from "../support/plugins";
import { createPostfixInstance, type PostfixInstance } from "../support/postfixInstance";
import { makeDovecotInstance, type DovecotInstance } from "../support/dovecotInstance";
import { startSshServer, type SshServer } from "../support/sshServer";
import { REPO } from "../support/stackFiles";
import { installSystemDeps } from "../support/systemDeps";

const PLUGINS = pluginGate("e2e: several mail servers over one account database");
const STACK = "e2e-servers";
const OWNER = "vmailsrv";

/** A mail server of the test: its Postfix and Dovecot, its maildirs and its maps. */
interface TestServer {
  postfix: PostfixInstance;
  dovecot: DovecotInstance;
  mailboxBase: string;
  mapsDir: string;
}

let primary: PgCluster;
let replica: PgCluster | undefined;
let sshd: SshServer;
let own: TestServer;
let mx2: TestServer;
let dir: string;
let t: TestStack;

async function testServer(name: string): Promise<TestServer> {
  const postfix = await createPostfixInstance();
  await postfix.start();
  const dovecot = await makeDovecotInstance();
  await dovecot.start();
  return {
    postfix,
    dovecot,
    mailboxBase: join(dir, name, "mail"),
    mapsDir: join(dir, name, "pgsql"),
  };
}

/** The stack file: the stack's own server is this machine; mx2 is added by a test. */
function stackFile(): Record<string, unknown> {
  return {
    "vmail:protect": false,
    "vmail:pgHost": "127.0.0.1",
    "vmail:pgPort": primary.port,
    "vmail:pgHbaFile": primary.hbaFile,
    "vmail:mailUser": OWNER,
    "vmail:mailGroup": OWNER,
    "vmail:mailboxBase": own.mailboxBase,
    "vmail:postfixConfigDir": own.postfix.configDir,
    "vmail:postfixMapsDir": own.mapsDir,
    "vmail:dovecotConfigDir": own.dovecot.configDir,
    "vmail:domains": ["example.com"],
    "vmail:users": [{ address: "dave@example.com", maildir: "dave/" }],
    "vmail:aliases": [{ address: "postmaster@example.com", to: "dave@example.com" }],
  };
}

/** mx2 as an operator adds it, field by field: over SSH, its replica first, then the primary. */
function addMx2(): void {
  const at = (field: string) => `vmail:servers[0].${field}`;
  const replicaPort = (replica as PgCluster).port;
  t.setPaths({
    [at("name")]: { value: "mx2" },
    [at("serverMode")]: { value: "ssh" },
    [at("sshHost")]: { value: sshd.host },
    [at("sshPort")]: { value: String(sshd.port) },
    [at("sshHostKey")]: { value: sshd.hostPublicKey },
    [at("mailboxBase")]: { value: mx2.mailboxBase },
    [at("postfixConfigDir")]: { value: mx2.postfix.configDir },
    [at("postfixMapsDir")]: { value: mx2.mapsDir },
    [at("dovecotConfigDir")]: { value: mx2.dovecot.configDir },
    [at("databaseHosts[0]")]: { value: `127.0.0.1:${replicaPort}` },
    [at("databaseHosts[1]")]: { value: `127.0.0.1:${primary.port}` },
  });
  t.setConfig({ "vmail:sshPrivateKey": { value: sshd.privateKey, secret: true } });
}

const preview = async (label: string) => {
  const seen: auto.EngineEvent[] = [];
  await timed(`servers: preview, ${label}`, () =>
    t.stack.preview(t.opts({ onEvent: (e: auto.EngineEvent) => seen.push(e) })),
  );
  return changedResources(seen);
};

/** Whether `sql` finds a row on the replica within 30 s (streaming replication is asynchronous). */
async function onReplica(sql: string, params: unknown[]): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const rows = await superuserQuery(replica as PgCluster, sql, params, "mail");
    if (rows.length > 0) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/**
 * Mail to `to` through mx2's Postfix lands in `maildir` on mx2; the subjects its owner then reads
 * there over IMAP with `password`.
 */
async function mailThroughMx2(
  mail: { to: string; maildir: string; subject: string; marker: string },
  password: string,
): Promise<string[]> {
  await mx2.postfix.sendmail(mail.to, `Subject: ${mail.subject}\n\n${mail.marker}\n`);
  assert.ok(
    await delivered(mx2.postfix, mx2.mailboxBase, mail.maildir, mail.marker),
    mx2.postfix.log(),
  );
  return inbox(mx2, mail.to, password);
}

/** An IMAP login on `server`'s Dovecot, retried while a reconnect to the database is under way. */
async function inbox(server: TestServer, user: string, password: string): Promise<string[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await server.dovecot.inboxSubjects(user, password);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

describe("several mail servers over one account database", { skip: PLUGINS.skip }, () => {
  let generated: Record<string, string> = {};

  before(async () => {
    PLUGINS.assertPresent();
    installSystemDeps();
    dir = await mkdtemp(join(tmpdir(), "vmail-servers-"));
    await chmod(dir, 0o755);
    primary = await startPgCluster();
    own = await testServer("own");
    mx2 = await testServer("mx2");
    sshd = await startSshServer();
    t = await createTestStack(
      STACK,
      { projectDir: REPO, files: PROJECT_FILES, stackFile: stackFile() },
      { "vmail:pgAdminPassword": { value: primary.superPassword, secret: true } },
      await stateBackendOn(primary),
    );
  });

  after(async () => {
    await t?.remove();
    await sshd?.stop();
    for (const s of [own, mx2]) {
      await s?.postfix.stop();
      await s?.dovecot.stop();
    }
    await replica?.stop();
    await primary?.stop();
    spawnSync("userdel", [OWNER]);
    spawnSync("groupdel", [OWNER]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("1. up converges the stack's own server, its state in the PostgreSQL backend", async () => {
    const result = await timed("servers: up from empty", () =>
      own.dovecot.reloadedBy(() => t.stack.up(t.opts())),
    );
    assert.equal(result.summary.result, "succeeded");
    generated = result.outputs.generatedPasswords.value as Record<string, string>;
    await own.postfix.sendmail("dave@example.com", "Subject: on own\n\nmarker-s-own-1\n");
    assert.ok(await delivered(own.postfix, own.mailboxBase, "dave/", "marker-s-own-1"));
    const [state] = await superuserQuery<{ n: number }>(
      primary,
      "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
      [],
      STATE_DB,
    );
    assert.ok(state.n > 0, "the backend keeps the state in its tables");
  });

  it("2. a replica from pg_basebackup; adding mx2 creates only mx2's resources, no row", async () => {
    replica = await startReplica(primary);
    assert.ok(await onReplica("SELECT 1 FROM users WHERE email = $1", ["dave@example.com"]));
    addMx2();
    const changes = await preview("mx2 added");
    assert.ok(changes.length > 10, changes.join("\n"));
    for (const change of changes) {
      assert.match(change, /^create mail-mx2(-|$)/, `only mx2's resources: ${change}`);
    }
    await timed("servers: up, mx2 added", () => mx2.dovecot.reloadedBy(() => t.stack.up(t.opts())));
    const hosts = mapSetting(mx2, "hosts");
    assert.equal(hosts, `inet:127.0.0.1:${replica.port} inet:127.0.0.1:${primary.port}`);
    assert.match(sshd.log(), /Accepted publickey for root/);
    // dave's mail through mx2 lands in mx2's maildirs; he reads it there.
    const dave = {
      to: "dave@example.com",
      maildir: "dave/",
      subject: "via mx2",
      marker: "marker-s-mx2-1",
    };
    const subjects = await mailThroughMx2(dave, generated["dave@example.com"]);
    assert.deepEqual(subjects, ["via mx2"]);
  });

  it("3. a user added by up is delivered through mx2 and logs in there", async () => {
    t.setPaths({ "vmail:users[1].address": { value: "gina@example.com" } });
    const changes = await preview("gina added");
    assert.deepEqual(changes, ["create gina@example.com"]);
    const result = await timed("servers: up, gina added", () => t.stack.up(t.opts()));
    generated = result.outputs.generatedPasswords.value as Record<string, string>;
    assert.ok(await onReplica("SELECT 1 FROM users WHERE email = $1", ["gina@example.com"]));
    assert.equal(
      postmapQuery(mx2.postfix, mx2.mapsDir, "mailboxes", "gina@example.com"),
      "example.com/gina/",
    );
    const gina = {
      to: "gina@example.com",
      maildir: "example.com/gina/",
      subject: "hello gina",
      marker: "marker-s-gina-1",
    };
    const subjects = await mailThroughMx2(gina, generated["gina@example.com"]);
    assert.deepEqual(subjects, ["hello gina"]);
  });

  it("4. with the primary stopped, mx2 delivers to and serves its users from the replica", async () => {
    await primary.pause();
    try {
      await mx2.postfix.sendmail("gina@example.com", "Subject: primary down\n\nmarker-s-down-1\n");
      await mx2.postfix.sendmail(
        "postmaster@example.com",
        "Subject: alias down\n\nmarker-s-down-2\n",
      );
      assert.ok(
        await delivered(mx2.postfix, mx2.mailboxBase, "example.com/gina/", "marker-s-down-1", 300),
        mx2.postfix.log(),
      );
      assert.ok(
        await delivered(mx2.postfix, mx2.mailboxBase, "dave/", "marker-s-down-2", 300),
        mx2.postfix.log(),
      );
      const subjects = await inbox(mx2, "gina@example.com", generated["gina@example.com"]);
      assert.deepEqual(subjects, ["hello gina", "primary down"]);
      const refused = await mx2.postfix.rcptReply("nobody@example.com");
      assert.match(refused, /^5\d\d /, `an unknown address is still refused, got ${refused}`);
    } finally {
      await primary.resume();
    }
  });

  it("5. with the primary back, the next up changes nothing", async () => {
    await assertNoChanges(t, "servers: ");
  });

  it("6. removing mx2 deletes only mx2's resources, no row; its main.cf is the operator's again", async () => {
    const before = postconfOf(mx2, "virtual_mailbox_maps");
    assert.equal(before, `pgsql:${mapFilePath(mx2.mapsDir, "mailboxes")}`);
    t.removePath("vmail:servers[0]");
    const changes = await preview("mx2 removed");
    assert.ok(changes.length > 10, changes.join("\n"));
    for (const change of changes) assert.match(change, /^delete mail-mx2(-|$)/, change);
    await timed("servers: up, mx2 removed", () => t.stack.up(t.opts()));
    assert.equal(postconfOf(mx2, "virtual_mailbox_maps"), "");
    assert.equal(existsSync(mapFilePath(mx2.mapsDir, "mailboxes")), false);
    // The stack's own server still delivers, its rows where they were. Its Postfix held
    // connections to the primary that step 4 stopped: the first lookup on one fails, and Postfix
    // then leaves that host alone for a minute and defers the mail meanwhile: the deadline is
    // well past that.
    await own.postfix.sendmail("gina@example.com", "Subject: after\n\nmarker-s-own-2\n");
    assert.ok(
      await delivered(own.postfix, own.mailboxBase, "example.com/gina/", "marker-s-own-2", 600),
      own.postfix.log(),
    );
  });
});

/** A main.cf setting of a test server's Postfix ("" when unset). */
function postconfOf(server: TestServer, name: string): string {
  return execFileSync("postconf", ["-c", server.postfix.configDir, "-h", name], {
    encoding: "utf8",
  }).trim();
}

/** A setting of a server's pgsql map file, as vmail wrote it. */
function mapSetting(server: TestServer, name: string): string {
  const text = readFileSync(mapFilePath(server.mapsDir, "mailboxes"), "utf8");
  return new RegExp(`^${name} = (.*)$`, "m").exec(text)?.[1] ?? "";
}
