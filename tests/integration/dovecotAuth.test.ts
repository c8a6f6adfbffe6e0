// Dovecot's SQL passdb and userdb as vmail writes them, judged by a real, throwaway Dovecot: the
// files, the include block and the reload from vmail's providers; users written by vmail's user
// provider in every scheme and every password source; `doveadm auth test` and an IMAP login.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { closePools } from "../../providers/db";
import { dovecotReloadProvider } from "../../providers/dovecotReload";
import { userProvider, type UserOutputs } from "../../providers/rows";
import { dovecotPaths } from "../../core/dovecotConfig";
import { HASH_SCHEMES, type HashScheme } from "../../core/passwords";
import { dbIdentity } from "../../core/target";
import { makeDovecotInstance, type DovecotInstance } from "../support/dovecotInstance";
import { createMailDatabase, type MailDatabaseFixture } from "../support/mailDatabaseFixture";
import { startPgCluster, superuserQuery, type PgCluster } from "../support/pgCluster";
import { testDatabaseSettings, useLocalContext } from "../support/providers";
import { installSystemDeps } from "../support/systemDeps";
import { writeDovecotFiles } from "../support/dovecotFiles";

type Provider = Required<pulumi.dynamic.ResourceProvider>;
const users = userProvider as Provider;
const reload = dovecotReloadProvider as Provider;

const OWNER = "vmaildove";
let cluster: PgCluster;
let db: MailDatabaseFixture;
let dovecot: DovecotInstance;
let base: string;
let uid: number;
let gid: number;

const settings = () => testDatabaseSettings(cluster);
const server = { kind: "local" } as const;

/** Writes Dovecot's files as DovecotAuth declares them, then reloads through the provider. */
async function writeVmailFiles(password: string): Promise<void> {
  const s = settings();
  const written = await writeDovecotFiles(dovecot.configDir, {
    hosts: [{ host: "127.0.0.1", port: s.serverPort }],
    dbname: s.name,
    role: s.dovecotRole ?? "",
    password,
    scheme: "BLF-CRYPT",
    mailboxBase: base,
    uid,
    gid,
  });
  // vmail's reload returns when `doveadm reload` does; Dovecot finishes it a moment later.
  await dovecot.reloadedBy(() =>
    reload.create({ server, configDir: dovecot.configDir, trigger: written }),
  );
}

/** A user as MailAccounts declares one, with its password from `source`. */
async function addUser(
  email: string,
  scheme: HashScheme,
  source: { generated: true } | { clear: string } | { hash: string },
): Promise<string> {
  const row = { email, realname: null, maildir: `${email.split("@")[0]}/`, scheme };
  const target = dbIdentity(settings());
  if ("generated" in source) {
    const outs = (await users.create({ row: { ...row, generateVersion: 1 }, target }))
      .outs as UserOutputs;
    return outs.generatedPassword ?? "";
  }
  if ("clear" in source) {
    await users.create({ row, target, password: source.clear });
    return source.clear;
  }
  await users.create({ row, target, passwordHash: source.hash });
  return "";
}

before(async () => {
  installSystemDeps();
  cluster = await startPgCluster();
  useLocalContext(cluster);
  db = await createMailDatabase(cluster, settings());
  spawnSync("useradd", ["--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", OWNER]);
  uid = Number(execFileSync("id", ["-u", OWNER], { encoding: "utf8" }));
  gid = Number(execFileSync("id", ["-g", OWNER], { encoding: "utf8" }));
  base = await mkdtemp(join(tmpdir(), "vmail-dovecot-mail-"));
  await chmod(base, 0o755);
  execFileSync("chown", [`${uid}:${gid}`, base]);
  dovecot = await makeDovecotInstance();
  await dovecot.start();
});

after(async () => {
  await closePools();
  await dovecot?.stop();
  await cluster?.stop();
  spawnSync("userdel", [OWNER]);
  spawnSync("groupdel", [OWNER]);
  if (base) await rm(base, { recursive: true, force: true });
});

describe("Dovecot's SQL auth as vmail writes it", () => {
  const passwords = new Map<string, string>();

  it("writes the SQL file as DovecotAuth declares it (0640 root:dovecot), includes it at the top of 10-auth.conf, and reloads", async () => {
    await writeVmailFiles(db.dovecotPassword);
    const paths = dovecotPaths(dovecot.configDir);
    const sql = await stat(paths.sql);
    assert.equal(sql.mode & 0o777, 0o640);
    assert.equal(sql.uid, 0);
    assert.equal(
      sql.gid,
      Number(execFileSync("getent", ["group", "dovecot"], { encoding: "utf8" }).split(":")[2]),
    );
    const auth = await readFile(paths.authConf, "utf8");
    assert.ok(
      auth.indexOf("!include auth-vmail-sql.conf.ext") <
        auth.indexOf("!include auth-system.conf.ext"),
      "vmail's passdb is asked before PAM",
    );
    assert.match(dovecot.log(), /SIGHUP received - reloading configuration/);
  });

  it("doveadm auth test: generated, clear-config and doveadm-pw passwords of every scheme; a wrong one fails", async () => {
    for (const scheme of HASH_SCHEMES) {
      const tag = scheme.toLowerCase().replace(/[^a-z0-9]/g, "");
      passwords.set(
        `gen-${tag}@example.com`,
        await addUser(`gen-${tag}@example.com`, scheme, { generated: true }),
      );
      passwords.set(
        `clear-${tag}@example.com`,
        await addUser(`clear-${tag}@example.com`, scheme, { clear: `clear ${scheme} pässword` }),
      );
      const pw = `doveadm ${scheme} password`;
      const made = spawnSync("doveadm", ["pw", "-s", scheme], {
        input: `${pw}\n${pw}\n`,
        encoding: "utf8",
      });
      assert.equal(made.status, 0, made.stderr);
      await addUser(`hash-${tag}@example.com`, scheme, { hash: made.stdout.trim() });
      passwords.set(`hash-${tag}@example.com`, pw);
    }
    for (const [user, password] of passwords) {
      const right = await dovecot.authTest(user, password);
      assert.equal(right.ok, true, `${user}: ${right.output}\n${dovecot.log()}`);
      const wrong = await dovecot.authTest(user, `${password}x`);
      assert.equal(wrong.ok, false, `${user} with a wrong password: ${wrong.output}`);
    }
  });

  it("a mail user logs in over IMAP and sees the mail in its maildir", async () => {
    const user = "gen-blfcrypt@example.com";
    const maildir = join(base, "gen-blfcrypt");
    for (const sub of ["new", "cur", "tmp"]) await mkdir(join(maildir, sub), { recursive: true });
    await writeFile(
      join(maildir, "new", "1.vmail-test"),
      "From: a@example.org\r\nTo: gen-blfcrypt@example.com\r\nSubject: marker-imap-1\r\n\r\nhello\r\n",
    );
    execFileSync("chown", ["-R", `${uid}:${gid}`, maildir]);
    assert.deepEqual(await dovecot.inboxSubjects(user, passwords.get(user) ?? ""), [
      "marker-imap-1",
    ]);
    await assert.rejects(dovecot.inboxSubjects(user, "wrong"));
  });

  it("a new role password in the SQL file keeps logins working after the reload", async () => {
    const rotated = "rotated0Dovecot0Password";
    await superuserQuery(cluster, `ALTER ROLE maildovecot PASSWORD '${rotated}'`);
    await writeVmailFiles(rotated);
    const user = "clear-sha512crypt@example.com";
    const r = await dovecot.authTest(user, passwords.get(user) ?? "");
    assert.equal(r.ok, true, r.output);
  });

  it("reloads again only when a file was written, not when vmail's provider code changed", async () => {
    const olds = { server, configDir: dovecot.configDir, trigger: ["a", "b", "c"] };
    const same = await reload.diff(
      "x",
      { ...olds, __provider: "old code" },
      { ...olds, __provider: "new code" },
    );
    assert.equal(same.changes, false);
    const written = await reload.diff("x", olds, { ...olds, trigger: ["a", "b", "d"] });
    assert.equal(written.changes, true);
  });

  it("the preview refuses a server without Dovecot's config where the stack says", async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), "vmail-no-dovecot-"));
    try {
      const checked = (await reload.check({}, { server, configDir: elsewhere, trigger: [] })) as {
        failures?: { property: string; reason: string }[];
      };
      assert.equal(checked.failures?.[0]?.property, "configDir");
      assert.match(
        checked.failures?.[0]?.reason ?? "",
        /no dovecot\.conf.*set vmail:dovecot to false/,
      );
      const ok = (await reload.check(
        {},
        { server, configDir: dovecot.configDir, trigger: [] },
      )) as {
        failures?: unknown[];
      };
      assert.equal(ok.failures, undefined);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });
});
