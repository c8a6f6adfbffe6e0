// vmail under the real Pulumi engine (Automation API, local file backend, passphrase secrets),
// against a throwaway PostgreSQL cluster, a private Postfix instance on loopback and this
// machine; then again over SSH to an sshd on loopback. Each step prints its duration.
// See tests/support/engineProgram.ts for which part of vmail the engine runs here and why.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { chmod, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as auto from "@pulumi/pulumi/automation";
import type { DatabaseSettings } from "../../core/config";
import { closePools } from "../../providers/db";
import { HBA_BLOCK } from "../../core/pgHba";
import { mapFilePath, postconfInput, type MapName } from "../../core/postfixConfig";
import { mailOwnerScript, parseUidGid } from "../../core/scripts";
import { postconfApplyScript } from "../../core/mainCfScripts";
import { mustRunOnServer } from "../../providers/shell";
import {
  changedResources,
  assertNoChanges,
  assertNoClearSecrets,
  createTestStack,
  goneOnRefresh,
  timed,
  type TestStack,
} from "../support/engine";
import {
  createMailDatabase,
  grantMailRoles,
  type MailDatabaseFixture,
} from "../support/mailDatabaseFixture";
import {
  startPgCluster,
  storedRow as storedRowIn,
  superuserQuery,
  type PgCluster,
} from "../support/pgCluster";
import { createPostfixInstance, type PostfixInstance } from "../support/postfixInstance";
import { startSshServer, type SshServer } from "../support/sshServer";
import { testDatabaseSettings } from "../support/providers";
import { engineProgram } from "../support/engineProgram";
import {
  assertStoredPasswordsVerify,
  CLEAR_PASSWORD,
  delivered,
  DOMAINS,
  mailAccounts,
  deleteAliasRowAndTransportMap,
  DELETED_BEHIND_VMAILS_BACK,
  postmapQuery,
} from "../support/mailWorld";
import { installSystemDeps } from "../support/systemDeps";

const local = { access: { kind: "local" as const } };
const OWNER = { user: "vmaile2e", group: "vmaile2e" };

let cluster: PgCluster;
let db: MailDatabaseFixture;
let settings: DatabaseSettings;
let postfix: PostfixInstance;
let dir: string;
let uid: number;
let gid: number;

const paths = () => ({
  mailboxBase: join(dir, "mail"),
  mapsDir: join(dir, "pgsql"),
  forward: join(dir, ".forward"),
});

function stackConfig(change?: "second"): Record<string, auto.ConfigValue> {
  const { users, aliases } = mailAccounts(change);
  const p = paths();
  const plain = (value: unknown) => ({
    value: typeof value === "string" ? value : JSON.stringify(value),
  });
  return {
    "vmail:protect": plain("false"),
    "vmail:pgHost": plain("127.0.0.1"),
    "vmail:pgPort": plain(String(cluster.port)),
    "vmail:pgAdminPassword": { value: cluster.superPassword, secret: true },
    "vmail:pgHbaFile": plain(cluster.hbaFile),
    "vmail:mailUser": plain(OWNER.user),
    "vmail:mailGroup": plain(OWNER.group),
    "vmail:mailboxBase": plain(p.mailboxBase),
    "vmail:postfixConfigDir": plain(postfix.configDir),
    "vmail:postfixMapsDir": plain(p.mapsDir),
    "vmail:domains": plain(DOMAINS),
    "vmail:users": { value: JSON.stringify(users), secret: true },
    "vmail:aliases": plain(aliases),
    "vmail:rootForward": plain(["dave@example.com"]),
    "vmail:rootForwardFile": plain(p.forward),
  };
}

function postmap(map: MapName, key: string): string {
  return postmapQuery(postfix, paths().mapsDir, map, key);
}

function row(table: "users" | "aliases" | "transports", key: string, value: string) {
  return storedRowIn(cluster, table, key, value);
}

function inMaildir(maildir: string, marker: string): Promise<boolean> {
  return delivered(postfix, paths().mailboxBase, maildir, marker);
}

before(async () => {
  installSystemDeps();
  dir = await mkdtemp(join(tmpdir(), "vmail-e2e-"));
  // Postfix's daemons and the mail owner must reach the maps and maildirs below it.
  await chmod(dir, 0o755);
  cluster = await startPgCluster();
  settings = testDatabaseSettings(cluster);
  // What MailDatabase (@pulumi/postgresql, @pulumi/random) would make: roles, database, grants.
  db = await createMailDatabase(cluster, settings, { tables: false });
  // What MailOwner (@pulumi/command) would run: the same script, on this machine.
  ({ uid, gid } = parseUidGid(
    await mustRunOnServer(
      local,
      "mail owner",
      mailOwnerScript({ ...OWNER, mailboxBase: paths().mailboxBase }),
    ),
  ));
  postfix = await createPostfixInstance();
});

after(async () => {
  await closePools();
  await postfix?.stop();
  await cluster?.stop();
  spawnSync("userdel", [OWNER.user]);
  spawnSync("groupdel", [OWNER.group]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("vmail under the real engine, on this machine", () => {
  let t: TestStack;
  let generated: Record<string, string>;

  before(async () => {
    t = await createTestStack(
      "e2e-local",
      engineProgram({ gid, readerPassword: db.readerPassword }),
      stackConfig(),
    );
  });
  after(async () => {
    await t?.remove();
  });

  it("1. up from empty converges the server", async () => {
    const result = await timed("up from empty", () => t.stack.up(t.opts()));
    assert.equal(result.summary.result, "succeeded");
    // What MailDatabase's grants would do once MailSchema has made the tables.
    await grantMailRoles(cluster, settings);
    generated = result.outputs.generatedPasswords.value as Record<string, string>;
    assert.equal(result.outputs.generatedPasswords.secret, true);

    // What PostfixSettings (@pulumi/command) would run: the same postconf script.
    const postfixSettings = {
      postfix: { configDir: postfix.configDir, mapsDir: paths().mapsDir, proxy: false },
      mailboxBase: paths().mailboxBase,
      domains: DOMAINS,
      quotaStatus: false,
    };
    await mustRunOnServer(
      local,
      "postconf",
      postconfApplyScript(postconfInput(postfixSettings, uid, gid)),
    );
    await postfix.start();

    assert.equal(postmap("mailboxes", "dave@example.com"), "dave/");
    assert.equal(postmap("aliases", "dave_sonofdave@example.com"), "dave@example.com");
    assert.equal(postmap("transport", "example.com"), "virtual:");
    assert.equal(postmap("domains", "example.net"), "example.net");
    // the catch-all domain's mailbox is shielded by its self-alias
    assert.equal(postmap("aliases", "erin@example.net"), "erin@example.net");

    await postfix.sendmail("dave@example.com", "Subject: to dave\n\nmarker-dave-1\n");
    await postfix.sendmail("dave_sonofdave@example.com", "Subject: alias\n\nmarker-alias-1\n");
    await postfix.sendmail("whoever@example.net", "Subject: catch-all\n\nmarker-catchall-1\n");
    assert.ok(
      await inMaildir("dave/", "marker-dave-1"),
      `mail to dave not delivered\n${postfix.log()}`,
    );
    assert.ok(
      await inMaildir("dave/", "marker-alias-1"),
      `mail to the alias not delivered\n${postfix.log()}`,
    );
    assert.ok(
      await inMaildir("example.net/erin/", "marker-catchall-1"),
      `catch-all\n${postfix.log()}`,
    );

    const reply = await postfix.rcptReply("nobody@example.com");
    assert.match(reply, /^5\d\d /, `unknown recipient must be refused at RCPT, got ${reply}`);
    assert.match(await postfix.rcptReply("dave@example.com"), /^250 /);

    await assertStoredPasswordsVerify(cluster, generated);
    assert.match(readFileSync(paths().forward, "utf8"), /dave@example\.com/);
  });

  it("2. a second run changes nothing", async () => {
    await assertNoChanges(t, "");
  });

  it("3. adding a user, changing a realname, removing an alias: the preview names exactly those", async () => {
    t.setConfig(stackConfig("second"));
    const events: auto.EngineEvent[] = [];
    await timed("preview of three changes", () =>
      t.stack.preview(t.opts({ onEvent: (e: auto.EngineEvent) => events.push(e) })),
    );
    assert.deepEqual(changedResources(events), [
      "create frank@example.com",
      "delete postmaster@example.com",
      "update dave@example.com",
    ]);
    await timed("up of three changes", () => t.stack.up(t.opts()));
    assert.equal((await row("users", "email", "dave@example.com")).realname, "David");
    assert.ok(await row("users", "email", "frank@example.com"));
    assert.equal(await row("aliases", "alias", "postmaster@example.com"), undefined);
    assert.equal(postmap("mailboxes", "frank@example.com"), "example.com/frank/");
    await postfix.sendmail("frank@example.com", "Subject: hi\n\nmarker-frank-1\n");
    assert.ok(await inMaildir("example.com/frank/", "marker-frank-1"), postfix.log());
  });

  it("4. a row and a .cf file deleted behind vmail's back: refresh sees it, up puts both back", async () => {
    await deleteAliasRowAndTransportMap(cluster, paths().mapsDir);
    const events: auto.EngineEvent[] = [];
    const refresh = await timed("refresh", () =>
      t.stack.refresh(t.opts({ onEvent: (e: auto.EngineEvent) => events.push(e) })),
    );
    assert.equal(
      refresh.summary.resourceChanges?.delete,
      2,
      JSON.stringify(refresh.summary.resourceChanges),
    );
    assert.deepEqual(goneOnRefresh(events), DELETED_BEHIND_VMAILS_BACK);
    const upEvents: auto.EngineEvent[] = [];
    await timed("up after drift", () =>
      t.stack.up(t.opts({ onEvent: (e: auto.EngineEvent) => upEvents.push(e) })),
    );
    assert.deepEqual(changedResources(upEvents), [
      "create dave_sonofdave@example.com",
      "create mail-postfix-maps-transport",
    ]);
    assert.equal(postmap("aliases", "dave_sonofdave@example.com"), "dave@example.com");
    assert.equal(postmap("transport", "example.com"), "virtual:");
    await t.stack
      .preview(t.opts())
      .then((p) => assert.deepEqual(Object.keys(p.changeSummary), ["same"]));
  });

  it("5. neither the state nor the engine's output holds a clear-text secret", async () => {
    assertNoClearSecrets(t, {
      "admin password": cluster.superPassword,
      "reader password": db.readerPassword,
      "clear-text user password": CLEAR_PASSWORD,
      ...Object.fromEntries(
        Object.entries(generated).map(([a, p]) => [`generated password of ${a}`, p]),
      ),
    });
    const hash = (await row("users", "email", "dave@example.com")).password as string;
    assert.ok(!t.storedState().includes(hash), "a stored hash is in the state");
  });

  it("6. destroy removes rows, .cf files and vmail's lines, and keeps every maildir and its mail", async () => {
    const result = await timed("destroy", () => t.stack.destroy(t.opts()));
    assert.equal(result.summary.result, "succeeded");
    for (const table of ["users", "aliases", "transports"]) {
      const n = await superuserQuery<{ n: number }>(
        cluster,
        `SELECT count(*)::int AS n FROM ${table}`,
        [],
        "mail",
      );
      assert.equal(n[0].n, 0, `${table} is empty`);
    }
    assert.equal(existsSync(mapFilePath(paths().mapsDir, "aliases")), false);
    assert.ok(!readFileSync(cluster.hbaFile, "utf8").includes(HBA_BLOCK.marker));
    assert.ok(!readFileSync(paths().forward, "utf8").includes("dave@example.com"));
    assert.ok(await inMaildir("dave/", "marker-dave-1"), "dave's mail is still there");
    assert.ok(
      await inMaildir("example.com/frank/", "marker-frank-1"),
      "frank's mail is still there",
    );
  });
});

describe("vmail under the real engine, over SSH", () => {
  let sshd: SshServer;
  let t: TestStack;

  before(async () => {
    sshd = await startSshServer();
    const config = {
      ...stackConfig(),
      "vmail:serverMode": { value: "ssh" },
      "vmail:sshHost": { value: sshd.host },
      "vmail:sshPort": { value: String(sshd.port) },
      "vmail:sshUser": { value: "root" },
      "vmail:sshHostKey": { value: sshd.hostPublicKey },
      "vmail:sshPrivateKey": { value: sshd.privateKey, secret: true },
    };
    t = await createTestStack(
      "e2e-ssh",
      engineProgram({ gid, readerPassword: db.readerPassword }),
      config,
    );
  });
  after(async () => {
    await t?.remove();
    await sshd?.stop();
  });

  it("converges, changes nothing the second time, sees drift, destroys, keeping the key secret", async () => {
    const up = await timed("ssh: up from empty", () => t.stack.up(t.opts()));
    assert.equal(up.summary.result, "succeeded");
    assert.equal(postmap("mailboxes", "dave@example.com"), "dave/");
    assert.match(sshd.log(), /Accepted publickey for root/);
    await timed("ssh: no-op up", () => t.stack.up(t.opts({ expectNoChanges: true })));
    unlinkSync(mapFilePath(paths().mapsDir, "mailboxes"));
    const refresh = await timed("ssh: refresh", () => t.stack.refresh(t.opts()));
    assert.equal(refresh.summary.resourceChanges?.delete, 1);
    await timed("ssh: up after drift", () => t.stack.up(t.opts()));
    assert.equal(postmap("mailboxes", "dave@example.com"), "dave/");
    // The key's own parts: the whole key (its final newline may be dropped on the way), and each
    // base64 line but the first, which is the same in every unencrypted ed25519 key
    // (openssh-key-v1, no cipher, no KDF, one key, ssh-ed...).
    const key = sshd.privateKey.trim();
    const keyLines = key.split("\n").slice(2, -1);
    assert.ok(keyLines.length >= 3, "the key has lines past its fixed header");
    assertNoClearSecrets(t, {
      "the SSH private key": key,
      ...Object.fromEntries(
        keyLines.map((line, i) => [`line ${i + 3} of the SSH private key`, line]),
      ),
    });
    await timed("ssh: destroy", () => t.stack.destroy(t.opts()));
    assert.equal(existsSync(mapFilePath(paths().mapsDir, "mailboxes")), false);
  });
});
