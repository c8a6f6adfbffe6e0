// Delivery through Dovecot as vmail sets it up, judged by a real, throwaway Postfix and Dovecot
// and PostgreSQL: the transports row sends mail to Dovecot's LMTP socket in Postfix's queue
// directory, the quota plugin counts it, and Postfix asks quota-status at RCPT time, so mail that
// would not fit is refused there (552 5.2.2); IMAP and doveadm show the limit and the usage. And
// an alias domain's addresses, resolved by vmail's aliases and refusal maps as Postfix runs them.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { DOVECOT_SQL_OWNERSHIP } from "../../components/dovecotAuth";
import {
  LMTP_TRANSPORT,
  parsePostfixQueue,
  postfixQueueScript,
  renderDeliveryConf,
} from "../../core/dovecotDelivery";
import {
  AUTH_INCLUDE_LINE,
  DOVECOT_AUTH_BLOCK,
  dovecotPaths,
  renderAuthInclude,
  renderDovecotSql,
} from "../../core/dovecotConfig";
import {
  mapFilePath,
  MAP_NAMES,
  postconfInput,
  renderMapFile,
  type MapName,
} from "../../core/postfixConfig";
import { postconfApplyScript } from "../../core/mainCfScripts";
import { dbIdentity } from "../../core/target";
import { closePools } from "../../providers/db";
import { dovecotReloadProvider } from "../../providers/dovecotReload";
import { domainProvider, userProvider, type UserOutputs } from "../../providers/rows";
import { serverFileProvider } from "../../providers/serverFile";
import { mustRunOnServer } from "../../providers/shell";
import { makeDovecotInstance, type DovecotInstance } from "../support/dovecotInstance";
import { createMailDatabase, type MailDatabaseFixture } from "../support/mailDatabaseFixture";
import { delivered, postmapQuery } from "../support/mailWorld";
import { startPgCluster, type PgCluster } from "../support/pgCluster";
import { createPostfixInstance, type PostfixInstance } from "../support/postfixInstance";
import { testDatabaseSettings, useLocalContext } from "../support/providers";
import { installSystemDeps } from "../support/systemDeps";

type Provider = Required<pulumi.dynamic.ResourceProvider>;
const files = serverFileProvider as Provider;
const reload = dovecotReloadProvider as Provider;

const OWNER = "vmaildeliv";
const STACK = "organization/vmail/delivery";
const local = { access: { kind: "local" as const } };
const server = { kind: "local" } as const;
let cluster: PgCluster;
let db: MailDatabaseFixture;
let postfix: PostfixInstance;
let dovecot: DovecotInstance;
let dir: string;
let base: string;
let uid: number;
let gid: number;
const passwords = new Map<string, string>();

const settings = () => testDatabaseSettings(cluster);
const mapsDir = () => join(dir, "maps");

/** Dovecot's files as DovecotAuth and DovecotDelivery declare them, then the reload. */
async function writeDovecotFiles(): Promise<void> {
  const s = settings();
  const paths = dovecotPaths(dovecot.configDir);
  const queue = parsePostfixQueue(
    await mustRunOnServer(local, "postfix queue", postfixQueueScript(postfix.configDir)),
  );
  const written: string[] = [];
  for (const inputs of [
    {
      path: paths.sql,
      content: renderDovecotSql({
        port: s.serverPort,
        dbname: s.name,
        role: s.dovecotRole ?? "",
        password: db.dovecotPassword,
        scheme: "BLF-CRYPT",
        mailboxBase: base,
        uid,
        gid,
      }),
      ownership: DOVECOT_SQL_OWNERSHIP,
    },
    {
      path: paths.authInclude,
      content: renderAuthInclude(paths.sql),
      ownership: { mode: "0644", owner: "root", group: "root" },
    },
    { path: paths.authConf, content: AUTH_INCLUDE_LINE, block: DOVECOT_AUTH_BLOCK },
    {
      path: paths.delivery,
      content: renderDeliveryConf(queue),
      ownership: { mode: "0644", owner: "root", group: "root" },
    },
  ]) {
    const made = await files.create({ server, ...inputs });
    written.push((made.outs as { written: string }).written);
  }
  await dovecot.reloadedBy(() =>
    reload.create({ server, configDir: dovecot.configDir, trigger: written }),
  );
}

/** A user row as MailAccounts declares one, its password generated; `quota` in bytes. */
async function addUser(
  email: string,
  quota: number | null,
  flags: { receive?: false } = {},
): Promise<void> {
  const row = {
    email,
    realname: null,
    maildir: `${email.split("@")[0]}/`,
    scheme: "BLF-CRYPT",
    stack: STACK,
    generateVersion: 1,
    ...(quota === null ? {} : { quota }),
    ...flags,
  };
  const made = await userProvider.create?.({ row, target: dbIdentity(settings()) });
  passwords.set(email, (made?.outs as UserOutputs).generatedPassword ?? "");
}

/** A message of about `bytes` bytes, findable by `marker`. */
const message = (marker: string, bytes: number) =>
  `Subject: ${marker}\n\n${marker}\n${"x"
    .repeat(76)
    .concat("\n")
    .repeat(Math.ceil(bytes / 77))}`;

before(async () => {
  installSystemDeps();
  cluster = await startPgCluster();
  useLocalContext(cluster);
  db = await createMailDatabase(cluster, settings());
  spawnSync("useradd", ["--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", OWNER]);
  uid = Number(execFileSync("id", ["-u", OWNER], { encoding: "utf8" }));
  gid = Number(execFileSync("id", ["-g", OWNER], { encoding: "utf8" }));
  dir = await mkdtemp(join(tmpdir(), "vmail-delivery-"));
  await chmod(dir, 0o755);
  base = join(dir, "mail");
  await mkdir(base, { mode: 0o755 });
  execFileSync("chown", [`${uid}:${gid}`, base]);
  await mkdir(mapsDir(), { mode: 0o755 });
  const s = settings();
  for (const map of MAP_NAMES) {
    const conn = { port: s.serverPort, user: s.readerRole, dbname: s.name };
    await writeFile(mapFilePath(mapsDir(), map), renderMapFile(map, conn, db.readerPassword), {
      mode: 0o644,
    });
  }
  postfix = await createPostfixInstance();
  dovecot = await makeDovecotInstance();
  await dovecot.start();
  await writeDovecotFiles();
  const target = dbIdentity(s);
  const domain = { domain: "example.com", gid, transport: LMTP_TRANSPORT, stack: STACK };
  await domainProvider.create?.({ row: domain, target });
  await domainProvider.create?.({
    row: { ...domain, domain: "example.org", alias_of: "example.com" },
    target,
  });
  await addUser("small@example.com", 10 * 1024);
  await addUser("roomy@example.com", null);
  await addUser("closed@example.com", null, { receive: false });
  const input = postconfInput(
    {
      postfix: { configDir: postfix.configDir, mapsDir: mapsDir(), proxy: false },
      mailboxBase: base,
      domains: ["example.com", "example.org"],
      quotaStatus: true,
    },
    uid,
    gid,
  );
  await mustRunOnServer(local, "postconf", postconfApplyScript(input));
  await postfix.start();
});

after(async () => {
  await closePools();
  await postfix?.stop();
  await dovecot?.stop();
  await cluster?.stop();
  spawnSync("userdel", [OWNER]);
  spawnSync("groupdel", [OWNER]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("delivery through Dovecot's LMTP, with quotas", () => {
  it("delivers over LMTP into the maildir Postfix's virtual(8) used, owned by the mail owner", async () => {
    await postfix.sendmail("small@example.com", message("first-small", 4000));
    assert.ok(await delivered(postfix, base, "small/", "first-small"), postfix.log());
    assert.ok(await postfix.logged(/relay=\S*dovecot-lmtp.*status=sent/), postfix.log());
    const owner = execFileSync("stat", ["-c", "%u:%g", join(base, "small", "new")], {
      encoding: "utf8",
    });
    assert.equal(owner.trim(), `${uid}:${gid}`);
  });

  it("doveadm and IMAP show the user's limit and usage; a user without a quota has none", async () => {
    const table = await dovecot.quotaGet("small@example.com");
    // "User quota STORAGE <used KiB> <limit KiB> <percent>"
    const storage = /User quota\s+STORAGE\s+(\d+)\s+(\d+)\s+\d+/.exec(table);
    assert.ok(storage, table);
    assert.equal(Number(storage[2]), 10, "a 10 KiB limit");
    assert.ok(Number(storage[1]) >= 4, `the 4 KB message counts: ${table}`);
    const imap = await dovecot.inboxQuota("small@example.com", passwords.get("small@example.com")!);
    assert.match(imap, /\(STORAGE \d+ 10\)/, imap);
    const roomy = await dovecot.quotaGet("roomy@example.com");
    assert.match(roomy, /User quota\s+STORAGE\s+\d+\s+-/, roomy);
  });

  it("mail that would not fit is refused at RCPT with 552 5.2.2; mail that fits is not", async () => {
    const refused = await postfix.rcptReply("small@example.com", "sender@example.org", 8000);
    // Postfix words it: "552 5.2.2 <small@example.com>: Recipient address rejected: Mailbox is full"
    assert.match(refused, /^552 5\.2\.2 <small@example\.com>: .*Mailbox is full$/, refused);
    const fits = await postfix.rcptReply("small@example.com", "sender@example.org", 1000);
    assert.match(fits, /^250 /, fits);
    const roomy = await postfix.rcptReply("roomy@example.com", "sender@example.org", 8000);
    assert.match(roomy, /^250 /, roomy);
  });
});

describe("an alias domain (example.org, of example.com)", () => {
  const postmap = (map: MapName, key: string) => postmapQuery(postfix, mapsDir(), map, key);

  it("resolves an address to the same local part of the target, where that address exists", () => {
    assert.equal(postmap("aliases", "roomy@example.org"), "roomy@example.com");
    assert.equal(postmap("aliases", "nobody@example.org"), "", "no such user in example.com");
    assert.equal(postmap("aliases", "@example.org"), "", "no catch-all of its own");
    assert.equal(
      postmap("aliases", "roomy@example.com"),
      "",
      "the target's own addresses as before",
    );
    assert.equal(postmap("domains", "example.org"), "example.org");
  });

  it("takes mail for an existing address and delivers it to the target's mailbox", async () => {
    assert.match(await postfix.rcptReply("roomy@example.org"), /^250 /);
    const unknown = await postfix.rcptReply("nobody@example.org");
    assert.match(unknown, /^550 5\.1\.1 /, unknown);
    await postfix.sendmail("roomy@example.org", message("via-alias-domain", 100));
    assert.ok(await delivered(postfix, base, "roomy/", "via-alias-domain"), postfix.log());
  });

  it("refuses mail for a target address that does not receive, and counts the target's quota", async () => {
    const closed = await postfix.rcptReply("closed@example.org");
    assert.match(closed, /^550 5\.2\.1 .*This mailbox does not accept mail/, closed);
    const full = await postfix.rcptReply("small@example.org", "sender@example.org", 8000);
    // quota-status is asked about the address as given: not a mail user, so Postfix decides, and
    // LMTP refuses it at delivery if it would not fit.
    assert.match(full, /^250 /, full);
  });
});
