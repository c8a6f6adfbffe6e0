// A whole mail server for tests that drive vmail's own providers and scripts without the engine:
// a throwaway cluster with the mail database, a private Postfix and Dovecot, the mail owner, the
// map files, Dovecot's files (auth and delivery, as DovecotAuth and DovecotDelivery declare them),
// the domains example.com and its alias domain example.org, and main.cf as PostfixSettings sets it.

import { execFileSync, spawnSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import {
  LMTP_TRANSPORT,
  parsePostfixQueue,
  postfixQueueScript,
  renderDeliveryConf,
} from "../../core/dovecotDelivery";
import { postconfApplyScript } from "../../core/mainCfScripts";
import { mapFilePath, MAP_NAMES, postconfInput, renderMapFile } from "../../core/postfixConfig";
import { dbIdentity, type DbIdentity } from "../../core/target";
import { closePools } from "../../providers/db";
import { dovecotReloadProvider } from "../../providers/dovecotReload";
import { domainProvider, userProvider, type UserOutputs } from "../../providers/rows";
import { mustRunOnServer } from "../../providers/shell";
import { makeDovecotInstance, type DovecotInstance } from "./dovecotInstance";
import { createMailDatabase, type MailDatabaseFixture } from "./mailDatabaseFixture";
import { startPgCluster, type PgCluster } from "./pgCluster";
import { createPostfixInstance, type PostfixInstance } from "./postfixInstance";
import { testDatabaseSettings, useLocalContext } from "./providers";
import { installSystemDeps } from "./systemDeps";
import { writeDovecotFiles } from "./dovecotFiles";

type Provider = Required<pulumi.dynamic.ResourceProvider>;
const reload = dovecotReloadProvider as Provider;

const STACK = "organization/vmail/fixture";
export const LOCAL = { access: { kind: "local" as const } };
const server = { kind: "local" } as const;

export interface MailServerFixture {
  cluster: PgCluster;
  db: MailDatabaseFixture;
  postfix: PostfixInstance;
  dovecot: DovecotInstance;
  /** The temp dir everything of the fixture is in (0755). */
  dir: string;
  mailboxBase: string;
  mapsDir: string;
  uid: number;
  gid: number;
  target: DbIdentity;
  /** Generated passwords, by address, of the users addUser made. */
  passwords: Map<string, string>;
  /** A users row as MailAccounts declares one, its password generated; `row` adds columns. */
  addUser(email: string, row?: Record<string, unknown>): Promise<void>;
  stop(): Promise<void>;
}

/** `owner` names the mail owner's Unix account; `sasl` makes Dovecot listen for submission. */
export async function startMailServer(owner: string, sasl = false): Promise<MailServerFixture> {
  installSystemDeps();
  const cluster = await startPgCluster();
  useLocalContext(cluster);
  const s = testDatabaseSettings(cluster);
  const db = await createMailDatabase(cluster, s);
  spawnSync("useradd", ["--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", owner]);
  const uid = Number(execFileSync("id", ["-u", owner], { encoding: "utf8" }));
  const gid = Number(execFileSync("id", ["-g", owner], { encoding: "utf8" }));
  const dir = await mkdtemp(join(tmpdir(), "vmail-server-"));
  await chmod(dir, 0o755);
  const mailboxBase = join(dir, "mail");
  await mkdir(mailboxBase, { mode: 0o755 });
  execFileSync("chown", [`${uid}:${gid}`, mailboxBase]);
  const mapsDir = join(dir, "maps");
  await mkdir(mapsDir, { mode: 0o755 });
  for (const map of MAP_NAMES) {
    const conn = {
      hosts: [{ host: "127.0.0.1", port: s.serverPort }],
      user: s.readerRole,
      dbname: s.name,
    };
    await writeFile(mapFilePath(mapsDir, map), renderMapFile(map, conn, db.readerPassword), {
      mode: 0o644,
    });
  }
  const postfix = await createPostfixInstance();
  const dovecot = await makeDovecotInstance();
  await dovecot.start();
  const target = dbIdentity(s);
  const passwords = new Map<string, string>();
  const fixture: MailServerFixture = {
    cluster,
    db,
    postfix,
    dovecot,
    dir,
    mailboxBase,
    mapsDir,
    uid,
    gid,
    target,
    passwords,
    addUser: async (email, extra = {}) => {
      const row = {
        email,
        realname: null,
        maildir: `${email.split("@")[0]}/`,
        scheme: "BLF-CRYPT",
        stack: STACK,
        generateVersion: 1,
        ...extra,
      };
      const made = await userProvider.create?.({ row, target });
      passwords.set(email, (made?.outs as UserOutputs).generatedPassword ?? "");
    },
    stop: async () => {
      await closePools();
      await postfix.stop();
      await dovecot.stop();
      await cluster.stop();
      spawnSync("userdel", [owner]);
      spawnSync("groupdel", [owner]);
      await rm(dir, { recursive: true, force: true });
    },
  };
  await writeVmailFiles(fixture, sasl);
  const domain = { domain: "example.com", gid, transport: LMTP_TRANSPORT, stack: STACK };
  await domainProvider.create?.({ row: domain, target });
  await domainProvider.create?.({
    row: { ...domain, domain: "example.org", alias_of: "example.com" },
    target,
  });
  const input = postconfInput(
    {
      postfix: { configDir: postfix.configDir, mapsDir, proxy: false },
      mailboxBase,
      domains: ["example.com", "example.org"],
      quotaStatus: true,
    },
    uid,
    gid,
  );
  await mustRunOnServer(LOCAL, "postconf", postconfApplyScript(input));
  await postfix.start();
  return fixture;
}

/** Dovecot's files as DovecotAuth and DovecotDelivery declare them, then the reload. */
async function writeVmailFiles(f: MailServerFixture, sasl: boolean): Promise<void> {
  const s = testDatabaseSettings(f.cluster);
  const queue = parsePostfixQueue(
    await mustRunOnServer(LOCAL, "postfix queue", postfixQueueScript(f.postfix.configDir)),
  );
  const sql = {
    hosts: [{ host: "127.0.0.1", port: s.serverPort }],
    dbname: s.name,
    role: s.dovecotRole ?? "",
    password: f.db.dovecotPassword,
    scheme: "BLF-CRYPT" as const,
    mailboxBase: f.mailboxBase,
    uid: f.uid,
    gid: f.gid,
  };
  const written = await writeDovecotFiles(
    f.dovecot.configDir,
    sql,
    renderDeliveryConf(queue, sasl),
  );
  await f.dovecot.reloadedBy(() =>
    reload.create({ server, configDir: f.dovecot.configDir, trigger: written }),
  );
}
