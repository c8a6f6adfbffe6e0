// vmail's whole program under the real CLI: the repo's own index.ts, components and Pulumi.yaml,
// a stack file written here, the Node.js language host and the command, random and postgresql
// plugins. It converges a throwaway PostgreSQL cluster, a private Postfix and a private Dovecot
// on loopback (running, so every reload is real) and this machine's Unix accounts. It needs the
// three plugins in Pulumi's plugin cache and fails without them (see support/plugins.ts).

import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { chmod, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as auto from "@pulumi/pulumi/automation";
import { Client } from "pg";
import { HBA_BLOCK } from "../../core/pgHba";
import { blockBody, withBlock } from "../../core/managedBlock";
import { dovecotPaths } from "../../core/dovecotConfig";
import { mainCfBackupFile, MAP_NAMES, mapFilePath, type MapName } from "../../core/postfixConfig";
import { hashPassword } from "../../core/passwords";
import {
  changedResources,
  assertNoChanges,
  assertNoClearSecrets,
  createTestStack,
  goneOnRefresh,
  PROJECT_FILES,
  timed,
  type TestStack,
} from "../support/engine";
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
import { startPgCluster, storedRow, superuserQuery, type PgCluster } from "../support/pgCluster";
import { startSshServer, type SshServer } from "../support/sshServer";
import { pluginGate } from "../support/plugins";
import { createPostfixInstance, type PostfixInstance } from "../support/postfixInstance";
import { makeDovecotInstance, type DovecotInstance } from "../support/dovecotInstance";
import { REPO } from "../support/stackFiles";
import { selfSignedPair, serveTls, type ClusterTls } from "../support/tls";
import { submit } from "../support/submissionClient";
import { freePort } from "../support/ports";
import { installSystemDeps } from "../support/systemDeps";

const PLUGINS = pluginGate("e2e: vmail's whole program under the CLI");
const STACK = "e2e-program";
const OWNER = "vmailprog";
const BULK_USERS = 300;

let cluster: PgCluster;
let tls: ClusterTls;
let postfix: PostfixInstance;
let dovecot: DovecotInstance;
let dir: string;
let t: TestStack;
let sshd: SshServer | undefined;
/** The submission service's port (master.cf's 127.0.0.1:PORT) and its self-signed pair. */
let submissionPort: number;
let submissionTls: { certFile: string; keyFile: string };

/** main.cf settings the operator had before vmail, which vmail replaces and destroy puts back. */
const OPERATORS_MAIN_CF = {
  transport_maps: "static:smtp:[127.0.0.1]:2525",
  local_recipient_maps: "proxy:unix:passwd.byname $alias_maps",
};

const paths = () => ({
  mailboxBase: join(dir, "mail"),
  mapsDir: join(dir, "pgsql"),
  forward: join(dir, ".forward"),
});

/** The stack file an operator would write: everything but the secrets. */
function stackFile(): Record<string, unknown> {
  const p = paths();
  return {
    "vmail:protect": false,
    // The admin connections (vmail's providers and the postgresql plugin) verify the server's
    // certificate, name included, against the CA the test made.
    "vmail:pgHost": "localhost",
    "vmail:pgSslMode": "verify-full",
    "vmail:pgSslRootCert": tls.caFile,
    "vmail:pgPort": cluster.port,
    "vmail:pgHbaFile": cluster.hbaFile,
    "vmail:mailUser": OWNER,
    "vmail:mailGroup": OWNER,
    "vmail:mailboxBase": p.mailboxBase,
    "vmail:postfixConfigDir": postfix.configDir,
    "vmail:postfixMapsDir": p.mapsDir,
    "vmail:dovecotConfigDir": dovecot.configDir,
    "vmail:domains": DOMAINS,
    // Typed in Pulumi.yaml as lists of objects: written as YAML, the clear password apart.
    "vmail:users": mailAccounts().users.map((u) =>
      Object.fromEntries(Object.entries(u).filter(([field]) => field !== "password")),
    ),
    "vmail:aliases": mailAccounts().aliases,
    "vmail:rootForward": ["dave@example.com"],
    "vmail:rootForwardFile": p.forward,
    "vmail:submission": true,
    "vmail:submissionListen": `127.0.0.1:${submissionPort}`,
    "vmail:tlsCertFile": submissionTls.certFile,
    "vmail:tlsKeyFile": submissionTls.keyFile,
  };
}

/** Set through `pulumi config set --secret` (stdin): the admin password. */
function secretConfig(): Record<string, auto.ConfigValue> {
  return { "vmail:pgAdminPassword": { value: cluster.superPassword, secret: true } };
}

const postmap = (map: MapName, key: string) => postmapQuery(postfix, paths().mapsDir, map, key);
const inMaildir = (maildir: string, marker: string, attempts?: number) =>
  delivered(postfix, paths().mailboxBase, maildir, marker, attempts);
const postconf = (name: string) =>
  execFileSync("postconf", ["-c", postfix.configDir, "-h", name], { encoding: "utf8" }).trim();
const events = () => {
  const list: auto.EngineEvent[] = [];
  return { list, onEvent: (e: auto.EngineEvent) => list.push(e) };
};

async function countUsers(like: string): Promise<number> {
  const rows = await superuserQuery<{ n: number }>(
    cluster,
    "SELECT count(*)::int AS n FROM users WHERE email LIKE $1",
    [like],
    "mail",
  );
  return rows[0].n;
}

async function roleLogsIn(role: string, password: string): Promise<boolean> {
  const client = new Client({ ...cluster.clientConfig("mail"), user: role, password });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Kills what a SIGKILLed `up` left running in the project directory: the engine starts each
 * plugin in a process group of its own, so killing the `up`'s group misses the provider
 * processes, which would live on, idle, after the suite.
 */
function killLeftInProject(projectDir: string): void {
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      if (readlinkSync(`/proc/${pid}/cwd`) === projectDir) process.kill(Number(pid), "SIGKILL");
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
}

/** Whether `role` may run `sql` in the mail database (false on "permission denied"). */
async function mayRun(role: string, password: string, sql: string): Promise<boolean> {
  const client = new Client({ ...cluster.clientConfig("mail"), user: role, password });
  await client.connect();
  try {
    await client.query(sql);
    return true;
  } catch (error) {
    if (/permission denied/.test((error as Error).message)) return false;
    throw error;
  } finally {
    await client.end();
  }
}

/** A file's mode (octal, permission bits) and owner and group names, as the server has them. */
function ownership(file: string): { mode: string; owner: string; group: string } {
  const [mode, owner, group] = execFileSync("stat", ["-c", "%a %U %G", file], { encoding: "utf8" })
    .trim()
    .split(" ");
  return { mode, owner, group };
}

/** The resources a refresh found changed on the server (not gone: see goneOnRefresh). */
function changedOnRefresh(list: auto.EngineEvent[]): string[] {
  return list
    .flatMap((e) =>
      e.resOutputsEvent?.metadata.op === "update" ? [e.resOutputsEvent.metadata.urn] : [],
    )
    .map((urn) => urn.split("::").pop() ?? "")
    .sort();
}

describe("vmail's whole program under the CLI", { skip: PLUGINS.skip }, () => {
  const outputs: Record<string, unknown>[] = [];

  before(async () => {
    PLUGINS.assertPresent();
    installSystemDeps();
    dir = await mkdtemp(join(tmpdir(), "vmail-program-"));
    await chmod(dir, 0o755); // Postfix's daemons and the mail owner reach the maps and maildirs
    cluster = await startPgCluster();
    tls = await serveTls(cluster);
    postfix = await createPostfixInstance();
    // The operator's own values of settings vmail takes over: destroy must put them back.
    execFileSync("postconf", [
      "-c",
      postfix.configDir,
      "-e",
      ...Object.entries(OPERATORS_MAIN_CF).map(([k, v]) => `${k}=${v}`),
    ]);
    await postfix.start();
    dovecot = await makeDovecotInstance();
    await dovecot.start();
    submissionPort = await freePort();
    submissionTls = selfSignedPair(dir);
    // A server that sends mail out: this machine's Postfix is "local only" (every outside address
    // to the error transport, refused at RCPT however the client logged in).
    execFileSync("postconf", [
      "-c",
      postfix.configDir,
      "-e",
      "default_transport=smtp",
      "relay_transport=relay",
    ]);
    t = await createTestStack(
      STACK,
      { projectDir: REPO, files: PROJECT_FILES, stackFile: stackFile() },
      secretConfig(),
    );
    // Every Node process of every run (the program, vmail's providers) records the argv of each
    // process it starts, so step 7 can search what vmail really ran for secrets.
    const recorder = {
      NODE_OPTIONS: `--require ${join(REPO, "tests/support/recordSpawns.cjs")}`,
      VMAIL_SPAWN_LOG: join(dir, "spawned.jsonl"),
    };
    Object.assign(t.stack.workspace.envVars, recorder);
    Object.assign(t.env, recorder);
    // erin's clear-text password, as the README says: a secret at its path in the list.
    t.setPaths({ "vmail:users[1].password": { value: CLEAR_PASSWORD, secret: true } });
  });

  after(async () => {
    await t?.remove();
    await sshd?.stop();
    await postfix?.stop();
    await dovecot?.stop();
    await cluster?.stop();
    tls?.remove();
    spawnSync("userdel", [OWNER]);
    spawnSync("groupdel", [OWNER]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("0. a first up without checkpoints is refused before a role or the database is made", async () => {
    const env = t.stack.workspace.envVars;
    env.PULUMI_SKIP_CHECKPOINTS = "true";
    try {
      await assert.rejects(
        t.stack.up(t.opts()),
        /PULUMI_SKIP_CHECKPOINTS is set, but role mailreader, role mailreader_admin, role maildovecot, database mail must be created first/,
      );
    } finally {
      delete env.PULUMI_SKIP_CHECKPOINTS;
    }
    const made = await superuserQuery(
      cluster,
      "SELECT rolname FROM pg_roles WHERE rolname LIKE 'mailreader%' OR rolname = 'maildovecot' UNION ALL SELECT datname FROM pg_database WHERE datname = 'mail'",
    );
    assert.deepEqual(made, []);
  });

  it("0b. a virtual domain that Postfix also delivers locally is refused by the preview", async () => {
    const mydestination = postconf("mydestination");
    execFileSync("postconf", [
      "-c",
      postfix.configDir,
      "-e",
      `mydestination=${mydestination}, Example.NET`,
    ]);
    try {
      await assert.rejects(
        t.stack.preview(t.opts()),
        /example\.net is in Postfix's mydestination .*a virtual mailbox domain must not be/,
      );
    } finally {
      execFileSync("postconf", ["-c", postfix.configDir, "-e", `mydestination=${mydestination}`]);
    }
  });

  it("1. up from empty converges the server: mail reaches a user, an alias and a catch-all", async () => {
    const reloadsBefore = postfix.reloads();
    // reloadedBy: the up reloads Dovecot too, and the IMAP logins below wait for that reload.
    const result = await timed("program: up from empty", () =>
      dovecot.reloadedBy(() => t.stack.up(t.opts())),
    );
    assert.equal(result.summary.result, "succeeded");
    outputs.push(Object.fromEntries(Object.entries(result.outputs).map(([k, v]) => [k, v.value])));
    assert.equal(result.outputs.ownerPassword, undefined, "the owner does not log in");
    const [owner] = await superuserQuery<{ login: boolean }>(
      cluster,
      "SELECT rolcanlogin AS login FROM pg_roles WHERE rolname = 'mailreader_admin'",
    );
    assert.equal(owner.login, false);
    // PUBLIC may neither connect to the mail database nor make temp tables there.
    await superuserQuery(cluster, "CREATE ROLE vmail_stranger LOGIN PASSWORD 'stranger-pw'");
    const stranger = new Client({
      ...cluster.clientConfig("mail"),
      user: "vmail_stranger",
      password: "stranger-pw",
    });
    await assert.rejects(stranger.connect(), /permission denied for database "?mail"?/);
    await stranger.end().catch(() => undefined);
    await superuserQuery(cluster, "DROP ROLE vmail_stranger");
    const ids = execFileSync("id", [OWNER], { encoding: "utf8" });
    assert.match(ids, new RegExp(`uid=${String(result.outputs.mailUid.value)}\\(`));
    assert.equal(result.outputs.readerPassword.secret, true);
    assert.equal(result.outputs.generatedPasswords.secret, true);

    const [schema] = await superuserQuery<{ owner: string; acl: string[] }>(
      cluster,
      "SELECT nspowner::regrole::text AS owner, nspacl::text[] AS acl FROM pg_namespace WHERE nspname = 'public'",
      [],
      "mail",
    );
    assert.equal(schema.owner, "mailreader_admin");
    assert.deepEqual(
      schema.acl.filter((entry) => !entry.startsWith("mailreader_admin=")).sort(),
      ["maildovecot=U/mailreader_admin", "mailreader=U/mailreader_admin"],
      "PUBLIC has neither USAGE nor CREATE on schema public; the two readers have USAGE only",
    );
    // Postfix's reader reads what its maps look up, never a password hash; Dovecot's role may.
    const reader = outputs[0].readerPassword as string;
    const dovecotPw = outputs[0].dovecotPassword as string;
    assert.equal(await mayRun("mailreader", reader, "SELECT email, maildir FROM users"), true);
    assert.equal(await mayRun("mailreader", reader, "SELECT password FROM users"), false);
    assert.equal(await mayRun("maildovecot", dovecotPw, "SELECT password FROM users"), true);
    assert.equal(await mayRun("maildovecot", dovecotPw, "SELECT * FROM aliases"), false);
    // Neither reader may change anything, make anything, or read vmail's bookkeeping.
    for (const [role, password] of [
      ["mailreader", reader],
      ["maildovecot", dovecotPw],
    ]) {
      for (const sql of [
        "INSERT INTO users (email, password, maildir) VALUES ('intruder@example.com', 'x', 'x/')",
        "UPDATE users SET maildir = maildir",
        "DELETE FROM users",
        "TRUNCATE users",
        "INSERT INTO aliases (alias, email) VALUES ('intruder@example.com', 'x@example.com')",
        "UPDATE aliases SET email = email",
        "DELETE FROM transports",
        "TRUNCATE aliases, transports",
        "CREATE TABLE public.intruder (x int)",
        "SELECT * FROM vmail_managed_rows",
      ]) {
        assert.equal(await mayRun(role, password, sql), false, `${role} may not: ${sql}`);
      }
    }
    const [{ n: defaultAcls }] = await superuserQuery<{ n: number }>(
      cluster,
      "SELECT count(*)::int AS n FROM pg_default_acl",
      [],
      "mail",
    );
    assert.equal(defaultAcls, 0, "no default privileges: a table made later is nobody's to read");
    // The files holding a role's password are readable by root and the daemon's group only.
    const dovecotFiles = dovecotPaths(dovecot.configDir);
    for (const [file, group] of [
      ...MAP_NAMES.map((map) => [mapFilePath(paths().mapsDir, map), "postfix"]),
      [dovecotFiles.sql, "dovecot"],
    ]) {
      assert.deepEqual(ownership(file), { mode: "640", owner: "root", group }, file);
    }

    assert.equal(postconf("virtual_mailbox_maps"), `pgsql:${paths().mapsDir}/mailboxes.cf`);
    assert.equal(postconf("virtual_uid_maps"), `static:${String(result.outputs.mailUid.value)}`);
    assert.ok(
      await postfix.reloadedSince(reloadsBefore),
      "Postfix was reloaded after main.cf changed",
    );
    assert.equal(postmap("mailboxes", "dave@example.com"), "dave/");
    assert.equal(postmap("aliases", "dave_sonofdave@example.com"), "dave@example.com");
    // Dovecot delivers (its LMTP, in Postfix's queue directory), so that quotas hold.
    assert.equal(postmap("transport", "example.net"), "lmtp:unix:private/dovecot-lmtp");

    await postfix.sendmail("dave@example.com", "Subject: to dave\n\nmarker-p-dave-1\n");
    await postfix.sendmail("dave_sonofdave@example.com", "Subject: alias\n\nmarker-p-alias-1\n");
    await postfix.sendmail("whoever@example.net", "Subject: catch-all\n\nmarker-p-catch-1\n");
    assert.ok(await inMaildir("dave/", "marker-p-dave-1"), `to dave\n${postfix.log()}`);
    assert.ok(await inMaildir("dave/", "marker-p-alias-1"), `to the alias\n${postfix.log()}`);
    assert.ok(
      await inMaildir("example.net/erin/", "marker-p-catch-1"),
      `catch-all\n${postfix.log()}`,
    );
    const reply = await postfix.rcptReply("nobody@example.com");
    assert.match(reply, /^5\d\d /, `an unknown recipient is refused at RCPT, got ${reply}`);

    const generated = result.outputs.generatedPasswords.value as Record<string, string>;
    await assertStoredPasswordsVerify(cluster, generated);
    assert.match(readFileSync(paths().forward, "utf8"), /dave@example\.com/);

    // Dovecot was pointed at the users table and reloaded: dave logs in over IMAP with his
    // generated password and reads the mail Postfix delivered; erin with her clear-config one.
    const subjects = await dovecot.inboxSubjects("dave@example.com", generated["dave@example.com"]);
    assert.deepEqual(subjects.sort(), ["alias", "to dave"]);
    assert.deepEqual(await dovecot.inboxSubjects("erin@example.net", CLEAR_PASSWORD), [
      "catch-all",
    ]);
    assert.equal((await dovecot.authTest("dave@example.com", "not his password")).ok, false);
  });

  it("1b. users send mail on the submission port: AUTH after STARTTLS, only as their own addresses", async () => {
    const generated = outputs[0].generatedPasswords as Record<string, string>;
    const dave = {
      port: submissionPort,
      user: "dave@example.com",
      password: generated["dave@example.com"],
    };
    const entry = execFileSync(
      "postconf",
      ["-c", postfix.configDir, "-M", `127.0.0.1:${submissionPort}/inet`],
      {
        encoding: "utf8",
      },
    );
    assert.match(entry, /smtpd_sasl_path=private\/vmail-auth/);
    const sent = await submit({
      ...dave,
      from: "dave@example.com",
      to: "erin@example.net",
      message: "Subject: submitted\n\nmarker-p-submitted\n",
    });
    assert.deepEqual(sent, { ok: true }, postfix.log());
    assert.ok(await inMaildir("example.net/erin/", "marker-p-submitted"), postfix.log());
    const asAlias = await submit({
      ...dave,
      from: "dave_sonofdave@example.com",
      to: "x@elsewhere.example",
      message: "",
      rcptOnly: true,
    });
    assert.deepEqual(asAlias, { ok: true }, "dave sends as his alias, to anywhere");
    const asErin = await submit({
      ...dave,
      from: "erin@example.net",
      to: "x@elsewhere.example",
      message: "",
      rcptOnly: true,
    });
    assert.match(JSON.stringify(asErin), /"code":553.*not owned by user dave@example\.com/);
    const early = await submit({
      ...dave,
      authBeforeStartTls: true,
      from: "dave@example.com",
      to: "erin@example.net",
      message: "",
    });
    assert.match(JSON.stringify(early), /"code":530/);
    const wrong = await submit({
      ...dave,
      password: "not his password",
      from: "dave@example.com",
      to: "erin@example.net",
      message: "",
    });
    assert.match(JSON.stringify(wrong), /"stage":"auth","code":535/);
  });

  it("2. a second run changes nothing", async () => {
    await assertNoChanges(t, "program: ");
  });

  it("3. the preview names exactly the rows that change", async () => {
    // What mailAccounts("second") says, done as an operator edits the lists.
    t.setPaths({
      "vmail:users[2].address": { value: "frank@example.com" },
      "vmail:users[2].realname": { value: "Frank" },
      "vmail:users[0].realname": { value: "David" },
    });
    t.removePath("vmail:aliases[2]");
    const seen = events();
    await timed("program: preview of three changes", () =>
      t.stack.preview(t.opts({ onEvent: seen.onEvent })),
    );
    assert.deepEqual(changedResources(seen.list), [
      "create frank@example.com",
      "delete postmaster@example.com",
      "update dave@example.com",
    ]);
    await timed("program: up of three changes", () => t.stack.up(t.opts()));
    assert.equal(postmap("mailboxes", "frank@example.com"), "example.com/frank/");
    await postfix.sendmail("frank@example.com", "Subject: hi\n\nmarker-p-frank-1\n");
    assert.ok(await inMaildir("example.com/frank/", "marker-p-frank-1"), postfix.log());
  });

  it("3a. quotas: a user's own and a domain's default, shown by IMAP and doveadm, full mailboxes refused at RCPT", async () => {
    t.setPaths({
      "vmail:users[0].quota": { value: "20K" },
      "vmail:domainQuotas[0].domain": { value: "example.net" },
      "vmail:domainQuotas[0].quota": { value: "1M" },
    });
    const seen = events();
    await t.stack.preview(t.opts({ onEvent: seen.onEvent }));
    assert.deepEqual(changedResources(seen.list), [
      "update dave@example.com",
      "update erin@example.net",
    ]);
    await timed("program: up with quotas", () => t.stack.up(t.opts()));
    const dave = (outputs[0].generatedPasswords as Record<string, string>)["dave@example.com"];
    assert.match(await dovecot.inboxQuota("dave@example.com", dave), /\(STORAGE \d+ 20\)/);
    assert.match(await dovecot.quotaGet("erin@example.net"), /User quota\s+STORAGE\s+\d+\s+1024\s/);
    const full = await postfix.rcptReply("dave@example.com", "sender@example.org", 30_000);
    assert.match(full, /^552 5\.2\.2 .*Mailbox is full$/, full);
    // Aliases are asked about as themselves: not a mail user, so Postfix alone judges them.
    const alias = await postfix.rcptReply("dave_sonofdave@example.com", "sender@example.org", 100);
    assert.match(alias, /^250 /, alias);
    await postfix.sendmail("dave@example.com", "Subject: fits\n\nmarker-p-dave-quota\n");
    assert.ok(await inMaildir("dave/", "marker-p-dave-quota"), postfix.log());

    // Taken off again: no limit, and the next steps as before.
    t.removePath("vmail:users[0].quota");
    t.removePath("vmail:domainQuotas");
    await timed("program: up without quotas", () => t.stack.up(t.opts()));
    assert.match(await dovecot.quotaGet("dave@example.com"), /User quota\s+STORAGE\s+\d+\s+-/);
    const roomy = await postfix.rcptReply("dave@example.com", "sender@example.org", 30_000);
    assert.match(roomy, /^250 /, roomy);
  });

  it("3a2. forwarding: frank's mail goes to dave too, with a copy kept, then to dave only", async () => {
    t.setPaths({ "vmail:users[2].forwardTo": { value: "dave@example.com" } });
    const seen = events();
    await t.stack.preview(t.opts({ onEvent: seen.onEvent }));
    assert.deepEqual(changedResources(seen.list), ["create frank@example.com"]);
    await timed("program: up with a forward", () => t.stack.up(t.opts()));
    assert.equal(postmap("aliases", "frank@example.com"), "frank@example.com, dave@example.com");
    await postfix.sendmail("frank@example.com", "Subject: fwd\n\nmarker-p-forward-1\n");
    assert.ok(await inMaildir("example.com/frank/", "marker-p-forward-1"), postfix.log());
    assert.ok(await inMaildir("dave/", "marker-p-forward-1"), postfix.log());

    t.setPaths({ "vmail:users[2].keepCopy": { value: "false" } });
    await timed("program: up forwarding without a copy", () => t.stack.up(t.opts()));
    assert.equal(postmap("aliases", "frank@example.com"), "dave@example.com");
    await postfix.sendmail("frank@example.com", "Subject: fwd\n\nmarker-p-forward-2\n");
    assert.ok(await inMaildir("dave/", "marker-p-forward-2"), postfix.log());
    assert.equal(await inMaildir("example.com/frank/", "marker-p-forward-2", 1), false);

    t.removePath("vmail:users[2].forwardTo");
    t.removePath("vmail:users[2].keepCopy");
    await timed("program: up without the forward", () => t.stack.up(t.opts()));
    assert.equal(postmap("aliases", "frank@example.com"), "");
  });

  it("3a3. an alias domain: dave@example.org is dave@example.com; an unknown address is refused", async () => {
    t.setPaths({
      "vmail:aliasDomains[0].domain": { value: "example.org" },
      "vmail:aliasDomains[0].target": { value: "example.com" },
    });
    const seen = events();
    await t.stack.preview(t.opts({ onEvent: seen.onEvent }));
    // main.cf's resource is told the new domain too: it refuses any virtual domain that Postfix
    // also has in mydestination.
    assert.deepEqual(changedResources(seen.list), [
      "create example.org",
      "update mail-postfix-settings-main-cf",
    ]);
    await timed("program: up with an alias domain", () => t.stack.up(t.opts()));
    assert.equal(postmap("aliases", "dave@example.org"), "dave@example.com");
    const unknown = await postfix.rcptReply("nobody@example.org");
    assert.match(unknown, /^550 5\.1\.1 /, unknown);
    await postfix.sendmail("dave@example.org", "Subject: org\n\nmarker-p-alias-domain\n");
    assert.ok(await inMaildir("dave/", "marker-p-alias-domain"), postfix.log());

    t.removePath("vmail:aliasDomains");
    await timed("program: up without the alias domain", () => t.stack.up(t.opts()));
    assert.equal(postmap("domains", "example.org"), "");
    assert.equal(postmap("aliases", "dave@example.org"), "", "no longer one of dave's addresses");
  });

  it("3a4. a rename keeps the password and moves the maildir with its mail; renamed back the same way", async () => {
    const before = (await t.stack.outputs()).generatedPasswords.value as Record<string, string>;
    const password = before["frank@example.com"];
    t.setPaths({
      "vmail:users[2].address": { value: "franklin@example.com" },
      "vmail:users[2].formerly": { value: "frank@example.com" },
    });
    const seen = events();
    await t.stack.preview(t.opts({ onEvent: seen.onEvent }));
    assert.deepEqual(changedResources(seen.list), ["update franklin@example.com"]);
    await timed("program: up with a rename", () => t.stack.up(t.opts()));
    const after = (await t.stack.outputs()).generatedPasswords.value as Record<string, string>;
    assert.equal(after["franklin@example.com"], password, "the same generated password");
    assert.equal(after["frank@example.com"], undefined);
    assert.equal(postmap("mailboxes", "franklin@example.com"), "example.com/franklin/");
    assert.equal(postmap("mailboxes", "frank@example.com"), "");
    assert.ok(
      await inMaildir("example.com/franklin/", "marker-p-frank-1", 1),
      "the old mail moved",
    );
    assert.equal(existsSync(join(paths().mailboxBase, "example.com/frank")), false);
    const subjects = await dovecot.inboxSubjects("franklin@example.com", password);
    assert.ok(subjects.includes("hi"), `franklin reads frank's mail: ${subjects.join(", ")}`);

    t.setPaths({
      "vmail:users[2].address": { value: "frank@example.com" },
      "vmail:users[2].formerly": { value: "franklin@example.com" },
    });
    await timed("program: up renaming back", () => t.stack.up(t.opts()));
    t.removePath("vmail:users[2].formerly");
    await assertNoChanges(t, "program (after renaming back): ");
    assert.ok(await inMaildir("example.com/frank/", "marker-p-frank-1", 1));
    assert.equal((await dovecot.authTest("frank@example.com", password)).ok, true);
  });

  it("3b. a new user whose row the server already has is refused until the stack says to adopt it", async () => {
    await superuserQuery(
      cluster,
      "INSERT INTO users (email, password, maildir) VALUES ('gina@example.com', '{PLAIN}by-hand', 'gina/')",
      [],
      "mail",
    );
    const hash = await hashPassword("gina's password", "BLF-CRYPT");
    t.setPaths({
      "vmail:users[3].address": { value: "gina@example.com" },
      "vmail:users[3].passwordHash": { value: hash, secret: true },
    });
    await assert.rejects(
      t.stack.up(t.opts()),
      /users row gina@example\.com is already in postgres localhost:\d+\/mail, and vmail did not write it: it is left as it is.*vmail:adoptExistingRows/s,
    );
    const kept = await storedRow(cluster, "users", "email", "gina@example.com");
    assert.equal(kept.password, "{PLAIN}by-hand", "the row is as it was");

    t.setConfig({ "vmail:adoptExistingRows": { value: "true" } });
    await timed("program: adopt a row", () => t.stack.up(t.opts()));
    const adopted = await storedRow(cluster, "users", "email", "gina@example.com");
    assert.equal(adopted.password, hash);
    t.removePath("vmail:adoptExistingRows");
    await assertNoChanges(t, "program (after adopting): ");
  });

  it("3c. a move to another server (this one, now over SSH) replaces every file and main.cf, old first; rows stay", async () => {
    sshd = await startSshServer();
    t.setConfig({
      "vmail:serverMode": { value: "ssh" },
      "vmail:sshHost": { value: sshd.host },
      "vmail:sshPort": { value: String(sshd.port) },
      "vmail:sshHostKey": { value: sshd.hostPublicKey },
      "vmail:sshPrivateKey": { value: sshd.privateKey, secret: true },
    });
    const seen = events();
    await timed("program: preview of a server move", () =>
      t.stack.preview(t.opts({ onEvent: seen.onEvent })),
    );
    const changes = changedResources(seen.list);
    const replaced = changes.filter((c) => c.startsWith("replace ")).map((c) => c.slice(8));
    for (const name of [
      "mail-postfix-maps-mailboxes",
      "mail-postfix-maps-transport",
      "mail-postfix-maps-aliases",
      "mail-postfix-maps-domains",
      "mail-database-schema-pg-hba",
      "mail-root-forward-file",
      "mail-postfix-settings-main-cf",
      "mail-dovecot-auth-sql",
      "mail-dovecot-auth-auth-include",
      "mail-dovecot-auth-auth-block",
      "mail-dovecot-delivery-conf",
      "mail-submission-service",
    ]) {
      assert.ok(replaced.includes(name), `${name} is replaced: ${changes.join(", ")}`);
    }
    assert.deepEqual(
      changes.filter((c) => c.includes("@")),
      [],
      "no row changes: the database did not move",
    );
    const reloadsBefore = postfix.reloads();
    await timed("program: up of a server move", () => t.stack.up(t.opts()));
    assert.match(sshd.log(), /Accepted publickey for root/);
    for (const map of ["mailboxes", "transport", "aliases", "domains"] as const) {
      assert.ok(existsSync(mapFilePath(paths().mapsDir, map)), `${map}.cf is there`);
    }
    assert.equal(postconf("virtual_mailbox_base"), `${paths().mailboxBase}/`);
    assert.ok(readFileSync(cluster.hbaFile, "utf8").includes(HBA_BLOCK.marker));
    assert.ok(await postfix.reloadedSince(reloadsBefore), "Postfix reloaded");
    const service = `127.0.0.1:${submissionPort}/inet`;
    assert.match(
      execFileSync("postconf", ["-c", postfix.configDir, "-M", service], { encoding: "utf8" }),
      /smtpd_sasl_path=private\/vmail-auth/,
      "the submission service, removed from the old server first, is on the new one",
    );
    await postfix.sendmail("dave@example.com", "Subject: moved\n\nmarker-p-moved-1\n");
    assert.ok(await inMaildir("dave/", "marker-p-moved-1"), postfix.log());
    await assertNoChanges(t, "program (after the move): ");
  });

  it("3d. a move to a PostgreSQL server without vmail's roles and database is refused by the preview", async () => {
    // Another cluster, reached with the stack's admin password and a CA file that knows both.
    const elsewhere = await startPgCluster({ superPassword: cluster.superPassword });
    const elsewhereTls = await serveTls(elsewhere);
    const stackFilePath = join(t.workDir, `Pulumi.${STACK}.yaml`);
    const stackFileBefore = readFileSync(stackFilePath, "utf8");
    const bothCas = join(dir, "both-cas.pem");
    writeFileSync(
      bothCas,
      readFileSync(tls.caFile, "utf8") + readFileSync(elsewhereTls.caFile, "utf8"),
    );
    try {
      t.setConfig({
        "vmail:pgPort": { value: String(elsewhere.port) },
        "vmail:pgSslRootCert": { value: bothCas },
      });
      await assert.rejects(
        timed("program: preview of a database move", () => t.stack.preview(t.opts())),
        (e: Error) => {
          assert.match(
            e.message,
            new RegExp(
              `vmail:pgHost or vmail:pgPort moved from postgres localhost:${cluster.port} to ` +
                `postgres localhost:${elsewhere.port}, which has no role mailreader, role ` +
                "mailreader_admin, role maildovecot, database mail\\. vmail moves the rows, but not",
            ),
          );
          return true;
        },
      );
      const [{ n }] = await superuserQuery<{ n: number }>(
        elsewhere,
        "SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'mail%'",
      );
      assert.equal(n, 0, "nothing was made on the other server");
    } finally {
      writeFileSync(stackFilePath, stackFileBefore);
      await elsewhere.stop();
      elsewhereTls.remove();
    }
    await assertNoChanges(t, "program (the move refused): ");
  });

  it("4. drift in a row, a .cf file and main.cf, deleted or edited: refresh sees each, up repairs and reloads", async () => {
    await deleteAliasRowAndTransportMap(cluster, paths().mapsDir);
    execFileSync("postconf", ["-c", postfix.configDir, "-e", "virtual_mailbox_base=/nowhere/"]);
    // Edits rather than deletions: a row's column, a line of a .cf file, a file's mode, a line
    // added inside vmail's pg_hba block.
    await superuserQuery(
      cluster,
      "UPDATE users SET maildir = 'elsewhere/' WHERE email = 'dave@example.com'",
      [],
      "mail",
    );
    const mailboxesCf = mapFilePath(paths().mapsDir, "mailboxes");
    const mapAsWritten = readFileSync(mailboxesCf, "utf8");
    writeFileSync(mailboxesCf, mapAsWritten.replace(/^query = .*$/m, "query = SELECT 'x/'"));
    await chmod(mapFilePath(paths().mapsDir, "aliases"), 0o644);
    const hbaAsWritten = readFileSync(cluster.hbaFile, "utf8");
    const hbaBody = blockBody(hbaAsWritten, HBA_BLOCK.marker) ?? "";
    writeFileSync(cluster.hbaFile, withBlock(hbaAsWritten, HBA_BLOCK, `${hbaBody}# by hand\n`));

    const refreshed = events();
    await timed("program: refresh", () => t.stack.refresh(t.opts({ onEvent: refreshed.onEvent })));
    assert.deepEqual(goneOnRefresh(refreshed.list), DELETED_BEHIND_VMAILS_BACK);
    assert.deepEqual(changedOnRefresh(refreshed.list), [
      "dave@example.com",
      "mail-database-schema-pg-hba",
      "mail-postfix-maps-aliases",
      "mail-postfix-maps-mailboxes",
      "mail-postfix-settings-main-cf",
    ]);

    const reloadsBefore = postfix.reloads();
    const repaired = events();
    await timed("program: up after drift", () => t.stack.up(t.opts({ onEvent: repaired.onEvent })));
    assert.deepEqual(changedResources(repaired.list), [
      "create dave_sonofdave@example.com",
      "create mail-postfix-maps-transport",
      "update dave@example.com",
      "update mail-database-schema-pg-hba",
      "update mail-database-schema-pg-reload", // PostgreSQL rereads the repaired pg_hba.conf
      "update mail-postfix-maps-aliases",
      "update mail-postfix-maps-mailboxes",
      "update mail-postfix-settings-main-cf",
    ]);
    assert.equal(postconf("virtual_mailbox_base"), `${paths().mailboxBase}/`);
    assert.equal((await storedRow(cluster, "users", "email", "dave@example.com")).maildir, "dave/");
    assert.equal(readFileSync(mailboxesCf, "utf8"), mapAsWritten);
    assert.equal(ownership(mapFilePath(paths().mapsDir, "aliases")).mode, "640");
    assert.equal(readFileSync(cluster.hbaFile, "utf8"), hbaAsWritten);
    assert.ok(await postfix.reloadedSince(reloadsBefore), "the repair reloaded Postfix");
    await postfix.sendmail("dave_sonofdave@example.com", "Subject: back\n\nmarker-p-alias-2\n");
    assert.ok(await inMaildir("dave/", "marker-p-alias-2"), postfix.log());
    const after = await t.stack.preview(t.opts());
    assert.deepEqual(Object.keys(after.changeSummary), ["same"]);
  });

  it("5. rotating the reader's password: the old one stops working, Postfix keeps delivering", async () => {
    const old = outputs[0].readerPassword as string;
    const oldDovecot = outputs[0].dovecotPassword as string;
    t.setConfig({
      "vmail:readerPasswordVersion": { value: "2" },
      "vmail:dovecotPasswordVersion": { value: "2" },
    });
    const reloadsBefore = postfix.reloads();
    const result = await timed("program: rotate reader password", () =>
      dovecot.reloadedBy(() => t.stack.up(t.opts())),
    );
    const rotated = result.outputs.readerPassword.value as string;
    const rotatedDovecot = result.outputs.dovecotPassword.value as string;
    outputs.push({ readerPassword: rotated, dovecotPassword: rotatedDovecot });
    assert.notEqual(rotatedDovecot, oldDovecot);
    assert.equal(
      await roleLogsIn("maildovecot", oldDovecot),
      false,
      "Dovecot's old one is refused",
    );
    assert.equal(await roleLogsIn("maildovecot", rotatedDovecot), true);
    assert.notEqual(rotated, old);
    assert.equal(await roleLogsIn("mailreader", old), false, "the old password is refused");
    assert.equal(await roleLogsIn("mailreader", rotated), true, "the new password works");
    assert.ok(await postfix.reloadedSince(reloadsBefore), "Postfix reloaded with the new maps");
    await postfix.sendmail("dave@example.com", "Subject: after\n\nmarker-p-rotated-1\n");
    assert.ok(await inMaildir("dave/", "marker-p-rotated-1"), postfix.log());
    // The same up rewrote Dovecot's file and reloaded it: logins still work.
    const generated = (await t.stack.outputs()).generatedPasswords.value as Record<string, string>;
    const subjects = await dovecot.inboxSubjects("dave@example.com", generated["dave@example.com"]);
    assert.ok(
      subjects.includes("after"),
      `dave sees the new mail over IMAP: ${subjects.join(", ")}`,
    );
  });

  it("5b. a new passwordScheme re-hashes each generated password; nobody gets a new one", async () => {
    const generated = (await t.stack.outputs()).generatedPasswords.value as Record<string, string>;
    assert.deepEqual(Object.keys(generated).sort(), ["dave@example.com", "frank@example.com"]);
    t.setConfig({ "vmail:passwordScheme": { value: "SHA512-CRYPT" } });
    const result = await timed("program: new scheme", () => t.stack.up(t.opts()));
    assert.deepEqual(result.outputs.generatedPasswords.value, generated, "the same passwords");
    const dave = await storedRow(cluster, "users", "email", "dave@example.com");
    assert.match(dave.password as string, /^\{SHA512-CRYPT\}\$6\$/);
    await assertStoredPasswordsVerify(cluster, generated);
  });

  it("6. an up killed mid-way without checkpoints is finished by the next one", async () => {
    const hash = await hashPassword("bulk password", "SHA512-CRYPT");
    const users = Array.from({ length: BULK_USERS }, (_, i) => ({
      address: `bulk${i}@example.com`,
      passwordHash: hash,
    }));
    writeFileSync(join(t.workDir, "bulk.json"), JSON.stringify({ users }));
    t.setConfig({ "vmail:accountsFile": { value: "bulk.json" } });

    // The last bulk row is held by an open transaction of the test's, so the up cannot finish
    // before it is killed, however fast the machine: its insert of that row waits on the lock.
    const last = `bulk${BULK_USERS - 1}@example.com`;
    const holder = new Client(cluster.clientConfig("mail"));
    await holder.connect();
    await holder.query("BEGIN");
    await holder.query(
      "INSERT INTO users (email, password, maildir) VALUES ($1, 'held', 'held/')",
      [last],
    );

    const env = { ...process.env, ...t.env, PULUMI_SKIP_CHECKPOINTS: "true" };
    const up = spawn("pulumi", ["up", "--yes", "--skip-preview", "--stack", STACK], {
      cwd: t.workDir,
      env,
      detached: true, // its own process group: the kill takes the language host and plugins too
      stdio: "ignore",
    });
    const exited = new Promise((resolve) => up.on("exit", resolve));
    // Without a pid, -pid would be this runner's own process group.
    assert.ok(up.pid !== undefined && up.pid > 0, "pulumi up started");
    let written = 0;
    for (let i = 0; i < 1200 && written < 20; i++) {
      await new Promise((r) => setTimeout(r, 100));
      written = await countUsers("bulk%");
    }
    process.kill(-up.pid, "SIGKILL");
    await exited;
    killLeftInProject(t.workDir);
    await holder.query("ROLLBACK");
    await holder.end();
    const atKill = await countUsers("bulk%");
    assert.ok(atKill >= 20 && atKill < BULK_USERS, `killed mid-way: ${atKill} rows written`);

    // What the operator does after a killed run: drop its lock, run up again. The state never
    // heard of the rows written: the next up creates every bulk row again, and succeeds.
    const cli = (...args: string[]) =>
      spawnSync("pulumi", [...args, "--stack", STACK, "--non-interactive"], {
        cwd: t.workDir,
        env,
        encoding: "utf8",
      });
    const cancel = cli("cancel", "--yes");
    assert.equal(cancel.status, 0, `pulumi cancel failed:\n${cancel.stdout}\n${cancel.stderr}`);
    const finish = cli("up", "--yes", "--skip-preview");
    assert.equal(finish.status, 0, `the next up failed:\n${finish.stdout}\n${finish.stderr}`);
    assert.equal(await countUsers("bulk%"), BULK_USERS);
    const preview = await t.stack.preview(t.opts());
    assert.deepEqual(Object.keys(preview.changeSummary), ["same"]);
  });

  it("7. neither the state, the engine's output nor a command line holds a clear-text secret", async () => {
    const generated = outputs[0].generatedPasswords as Record<string, string>;
    const secrets: Record<string, string> = {
      "admin password": cluster.superPassword,
      "first reader password": outputs[0].readerPassword as string,
      "rotated reader password": outputs[1].readerPassword as string,
      "first Dovecot password": outputs[0].dovecotPassword as string,
      "rotated Dovecot password": outputs[1].dovecotPassword as string,
      "clear-text user password": CLEAR_PASSWORD,
      "SSH private key": sshd?.privateKey ?? "",
      ...Object.fromEntries(Object.entries(generated).map(([a, p]) => [`password of ${a}`, p])),
    };
    assertNoClearSecrets(t, secrets);
    // The argv of every process vmail's runs started, here and over SSH.
    const commandLines = readFileSync(join(dir, "spawned.jsonl"), "utf8").trim().split("\n");
    const argv0 = commandLines.map((line) => (JSON.parse(line) as string[])[0]);
    assert.ok(argv0.includes("sh") && argv0.includes("ssh"), "vmail's own commands were recorded");
    assert.ok(
      commandLines.some((line) => line.includes("postconf")),
      "main.cf's script was recorded",
    );
    for (const [what, secret] of Object.entries(secrets)) {
      const escaped = JSON.stringify(secret).slice(1, -1);
      const found = commandLines.find((line) => line.includes(escaped));
      assert.equal(found, undefined, `${what} is on a command line`);
    }
    const dave = await storedRow(cluster, "users", "email", "dave@example.com");
    assert.ok(!t.storedState().includes(dave.password as string), "a stored hash is in the state");
  });

  it("7b. with vmail:protect true, destroy is refused and the mail database stays", async () => {
    t.setConfig({ "vmail:protect": { value: "true" } });
    await timed("program: protect", () => t.stack.up(t.opts()));
    await assert.rejects(
      timed("program: destroy refused", () => t.stack.destroy(t.opts())),
      /protected/,
    );
    const [{ n }] = await superuserQuery<{ n: number }>(
      cluster,
      "SELECT count(*)::int AS n FROM pg_database WHERE datname = 'mail'",
    );
    assert.equal(n, 1, "the mail database is still there");
    // The guard that waits for everything is deleted first, and refuses: nothing else is gone.
    assert.ok((await countUsers("%")) > BULK_USERS, "and its rows");
    assert.ok(existsSync(mapFilePath(paths().mapsDir, "mailboxes")), "and Postfix's maps");
    assert.equal(postconf("virtual_mailbox_maps"), `pgsql:${paths().mapsDir}/mailboxes.cf`);
    t.setConfig({ "vmail:protect": { value: "false" } });
    await timed("program: unprotect", () => t.stack.up(t.opts()));
  });

  it("7c. a destroy without checkpoints is refused before a role or the database is dropped", async () => {
    const env = t.stack.workspace.envVars;
    env.PULUMI_SKIP_CHECKPOINTS = "true";
    try {
      await assert.rejects(
        t.stack.destroy(t.opts()),
        /PULUMI_SKIP_CHECKPOINTS is set, but this run would drop database mail, role mailreader, role mailreader_admin, role maildovecot/,
      );
    } finally {
      delete env.PULUMI_SKIP_CHECKPOINTS;
    }
    const kept = await superuserQuery<{ name: string }>(
      cluster,
      "SELECT rolname AS name FROM pg_roles WHERE rolname IN ('mailreader', 'mailreader_admin', 'maildovecot') UNION ALL SELECT datname FROM pg_database WHERE datname = 'mail' ORDER BY 1",
    );
    assert.deepEqual(
      kept.map((r) => r.name),
      ["mail", "maildovecot", "mailreader", "mailreader_admin"],
    );
  });

  it("8. destroy (protect: false) removes what vmail made and keeps every maildir", async () => {
    const result = await timed("program: destroy", () => t.stack.destroy(t.opts()));
    assert.equal(result.summary.result, "succeeded");
    const left = await superuserQuery(
      cluster,
      "SELECT rolname FROM pg_roles WHERE rolname LIKE 'mailreader%' UNION ALL SELECT datname FROM pg_database WHERE datname = 'mail'",
    );
    assert.deepEqual(left, [], "roles and database are gone");
    for (const map of MAP_NAMES) {
      assert.equal(existsSync(mapFilePath(paths().mapsDir, map)), false, `${map}.cf removed`);
    }
    const service = execFileSync(
      "postconf",
      ["-c", postfix.configDir, "-M", `127.0.0.1:${submissionPort}/inet`],
      { encoding: "utf8" },
    );
    assert.equal(service.trim(), "", "the submission service is gone from master.cf");
    const setInMainCf = (name: string) =>
      execFileSync("postconf", ["-c", postfix.configDir, "-n", name], { encoding: "utf8" }).trim();
    for (const [name, value] of Object.entries(OPERATORS_MAIN_CF)) {
      assert.equal(setInMainCf(name), `${name} = ${value}`, "the operator's value is back");
    }
    for (const name of ["virtual_mailbox_maps", "virtual_alias_maps", "virtual_mailbox_base"]) {
      assert.equal(setInMainCf(name), "", `${name} is unset again, as it was`);
    }
    assert.equal(existsSync(mainCfBackupFile(postfix.configDir)), false, "the record is removed");
    assert.ok(!readFileSync(cluster.hbaFile, "utf8").includes(HBA_BLOCK.marker));
    const dovecotFiles = dovecotPaths(dovecot.configDir);
    assert.equal(existsSync(dovecotFiles.sql), false, "Dovecot's SQL file removed");
    assert.equal(existsSync(dovecotFiles.authInclude), false, "its include removed");
    assert.equal(existsSync(dovecotFiles.delivery), false, "its delivery file removed");
    assert.ok(!readFileSync(dovecotFiles.authConf, "utf8").includes("auth-vmail-sql"));
    assert.ok(!readFileSync(paths().forward, "utf8").includes("dave@example.com"));
    for (const [maildir, marker] of [
      ["dave/", "marker-p-dave-1"],
      ["dave/", "marker-p-rotated-1"],
      ["example.net/erin/", "marker-p-catch-1"],
      ["example.com/frank/", "marker-p-frank-1"],
    ]) {
      assert.ok(await inMaildir(maildir, marker), `${maildir} keeps ${marker}`);
    }
    assert.match(execFileSync("id", [OWNER], { encoding: "utf8" }), /uid=/, "the owner stays");
  });
});
