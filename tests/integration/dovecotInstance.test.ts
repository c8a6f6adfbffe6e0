// Smoke test of tests/support/dovecotInstance.ts without vmail's code: a real private Dovecot on
// 127.0.0.1, a passwd-file user added the way vmail adds its SQL passdb (an include in a marked
// block at the end of conf.d/10-auth.conf), `doveadm auth test` and an IMAP login against it,
// a second instance beside it, and the system's /etc/dovecot, /run/dovecot and
// /var/lib/dovecot left as they were.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { makeDovecotInstance, type DovecotInstance } from "../support/dovecotInstance";
import { assertStopsForGood, snapshot } from "../support/throwawayDaemon";

/** The first line the server at 127.0.0.1:port sends, or "" when nothing answers. */
function greeting(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.createConnection({ host: "127.0.0.1", port });
    s.setEncoding("utf8");
    s.setTimeout(5_000, () => s.destroy());
    let got = "";
    s.on("data", (chunk: string) => {
      got += chunk;
      if (got.includes("\n")) s.destroy();
    });
    s.on("error", () => undefined);
    s.on("close", () => resolve(got.split("\r\n")[0]));
  });
}

/** The TCP addresses (ip:port) the process listens on, from /proc/net/tcp{,6}. */
function listening(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
    if (m) inodes.add(m[1]);
  }
  const out: string[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== "0A" || !inodes.has(f[9])) continue; // 0A: LISTEN
      const [ip, port] = f[1].split(":");
      const addr =
        ip.length === 8
          ? (ip.match(/../g) ?? [])
              .reverse()
              .map((b) => parseInt(b, 16))
              .join(".")
          : `[${ip}]`;
      out.push(`${addr}:${parseInt(port, 16)}`);
    }
  }
  return out;
}

const baseDir = (d: DovecotInstance) =>
  execFileSync("doveconf", ["-c", path.join(d.configDir, "dovecot.conf"), "-h", "base_dir"], {
    encoding: "utf8",
  }).trim();

const masterPid = (d: DovecotInstance) =>
  Number(readFileSync(path.join(baseDir(d), "master.pid"), "utf8").trim());

/** A uid (and gid of the same number) that no account or group has: a mail owner's stand-in. */
function unusedId(): number {
  for (let id = 61_000 + Math.floor(Math.random() * 3_000); id < 65_000; id++) {
    const taken = ["passwd", "group"].some(
      (db) => spawnSync("getent", [db, String(id)]).status === 0,
    );
    if (!taken) return id;
  }
  throw new Error("no unused uid in 61000-64999");
}

const USER = "dave@example.com";
const PASSWORD = "Dave's pässword \\ with spaces";
const MARKER = "vmail-test-passwdfile";

void describe("throwaway Dovecot instance", () => {
  const watched = ["/etc/dovecot", "/run/dovecot", "/var/lib/dovecot"];
  const before_: Map<string, string>[] = [];
  let dovecot: DovecotInstance;
  let mailBase: string;
  let maildir: string;
  let subject: string;
  let startMs = 0;
  let mailOwner = 0;

  before(async () => {
    for (const w of watched) before_.push(snapshot(w));
    const t0 = performance.now();
    dovecot = await makeDovecotInstance();
    await dovecot.start();
    startMs = performance.now() - t0;

    // The mail owner: an unprivileged uid without an account (Dovecot only needs the number
    // from the userdb), so there is no user to clean up. Its maildir, with one message in new/
    // as Postfix would leave it.
    mailOwner = unusedId();
    mailBase = await fs.mkdtemp(path.join(os.tmpdir(), "vmail-dovecot-mail-"));
    await fs.chmod(mailBase, 0o755);
    maildir = path.join(mailBase, "dave");
    for (const sub of ["cur", "new", "tmp"]) {
      await fs.mkdir(path.join(maildir, sub), { recursive: true, mode: 0o700 });
    }
    subject = `smoke ${randomBytes(6).toString("hex")}`;
    await fs.writeFile(
      path.join(maildir, "new", `${Date.now()}.test.mx.test.invalid`),
      `From: someone@example.org\r\nTo: ${USER}\r\nSubject: ${subject}\r\n\r\nhello\r\n`,
      { mode: 0o600 },
    );
    execFileSync("chown", ["-R", `${mailOwner}:${mailOwner}`, maildir]);
  });
  after(async () => {
    await dovecot?.stop();
    if (mailBase) await fs.rm(mailBase, { recursive: true, force: true });
  });

  void it("greets over IMAP on 127.0.0.1 at its own port only (start time in the diagnostics)", async (t) => {
    t.diagnostic(`started in ${startMs.toFixed(0)} ms, IMAP on 127.0.0.1:${dovecot.imapPort}`);
    assert.equal(await dovecot.running(), true);
    assert.notEqual(dovecot.imapPort, 143);
    assert.match(await greeting(dovecot.imapPort), /^\* OK .*ready/);
    assert.deepEqual(listening(masterPid(dovecot)), [`127.0.0.1:${dovecot.imapPort}`]);
  });

  void it("has a Debian-like config dir and its own base_dir, state and log", () => {
    const conf = path.join(dovecot.configDir, "dovecot.conf");
    const doveconf = (...names: string[]) =>
      execFileSync("doveconf", ["-c", conf, "-h", ...names], { encoding: "utf8" }).trim();
    const base = path.dirname(dovecot.configDir);
    assert.ok(base.startsWith(path.join(os.tmpdir(), "vmail-dovecot-")), base);
    assert.match(readFileSync(conf, "utf8"), /^!include conf\.d\/\*\.conf$/m);
    const authConf = readFileSync(path.join(dovecot.configDir, "conf.d/10-auth.conf"), "utf8");
    assert.equal(authConf, readFileSync("/usr/share/dovecot/conf.d/10-auth.conf", "utf8"));
    assert.match(authConf, /^!include auth-system\.conf\.ext$/m);
    assert.ok(existsSync(path.join(dovecot.configDir, "conf.d/auth-system.conf.ext")));
    assert.equal(baseDir(dovecot), path.join(base, "run"));
    assert.equal(doveconf("state_dir"), path.join(base, "state"));
    assert.equal(doveconf("log_path"), path.join(base, "log/dovecot.log"));
    assert.equal(doveconf("protocols"), "imap lmtp");
    assert.equal(doveconf("listen"), "127.0.0.1");
    assert.equal(doveconf("ssl"), "no");
    assert.equal(doveconf("disable_plaintext_auth"), "no");
    assert.equal(doveconf("auth_mechanisms"), "plain login");
    assert.match(doveconf("instance_name"), /^vmail-test-[0-9a-f]{8}$/);
    // The system passdb and userdb are there, as on a stock server.
    const n = execFileSync("doveconf", ["-c", conf, "-n"], { encoding: "utf8" });
    assert.match(n, /passdb \{\n {2}driver = pam\n\}/);
    assert.match(n, /userdb \{\n {2}driver = passwd\n\}/);
    assert.ok(existsSync(path.join(base, "run/auth-client")));
  });

  void it("reload() takes a passwd-file user added like vmail adds its include", async (t) => {
    // What vmail does with its SQL passdb: an .ext file in conf.d, included from a marked block
    // at the end of 10-auth.conf.
    const hash = spawnSync("setsid", ["doveadm", "pw", "-s", "BLF-CRYPT"], {
      input: `${PASSWORD}\n${PASSWORD}\n`,
      encoding: "utf8",
    });
    assert.equal(hash.status, 0, hash.stderr);
    assert.match(hash.stdout, /^\{BLF-CRYPT\}\$2y\$/);
    const users = path.join(dovecot.configDir, "test-users");
    await fs.writeFile(
      users,
      `${USER}:${hash.stdout.trim()}:${mailOwner}:${mailOwner}::${maildir}::userdb_mail=maildir:${maildir}/\n`,
      { mode: 0o640 },
    );
    execFileSync("chown", ["root:dovecot", users]);
    await fs.writeFile(
      path.join(dovecot.configDir, "conf.d/auth-test-passwdfile.conf.ext"),
      `passdb {\n  driver = passwd-file\n  args = ${users}\n}\n` +
        `userdb {\n  driver = passwd-file\n  args = ${users}\n}\n`,
    );
    await fs.appendFile(
      path.join(dovecot.configDir, "conf.d/10-auth.conf"),
      `# BEGIN ${MARKER}\n!include auth-test-passwdfile.conf.ext\n# END ${MARKER}\n`,
    );
    const t0 = performance.now();
    await dovecot.reload();
    const reloadMs = performance.now() - t0;

    const t1 = performance.now();
    const [right, wrong, subjects, refused] = await Promise.all([
      dovecot.authTest(USER, PASSWORD),
      dovecot.authTest(USER, `${PASSWORD}x`),
      dovecot.inboxSubjects(USER, PASSWORD),
      dovecot.inboxSubjects(USER, "wrong").then(
        () => "logged in",
        (e: Error) => e.message,
      ),
    ]);
    const parallelMs = performance.now() - t1;
    const log = dovecot.log();
    assert.equal(right.ok, true, `${right.output}\n${log}`);
    assert.match(right.output, /passdb: dave@example\.com auth succeeded/);
    assert.equal(wrong.ok, false, wrong.output);
    assert.deepEqual(subjects, [subject]);
    assert.match(refused, /^IMAP login as dave@example\.com refused: \[AUTHENTICATIONFAILED\]/);
    // doveadm and IMAP reached this instance (its log), and the IMAP process ran as the owner.
    assert.match(log, /passwd-file\(dave@example\.com\): Password mismatch/);
    assert.match(log, /imap-login: Info: Login: user=<dave@example\.com>, method=PLAIN/);
    assert.equal(statSync(path.join(maildir, "dovecot.index.log")).uid, mailOwner);
    // EXAMINE leaves the message where Postfix put it.
    assert.equal(readdirSync(path.join(maildir, "new")).length, 1);
    t.diagnostic(
      `reload ${reloadMs.toFixed(0)} ms; 2 auth tests and 2 IMAP logins at once ` +
        `${parallelMs.toFixed(0)} ms`,
    );
  });

  void it("reload() refuses a broken config and the instance keeps running", async () => {
    const broken = path.join(dovecot.configDir, "conf.d/99-broken.conf");
    await fs.writeFile(broken, "no_such_setting = 1\n");
    try {
      await assert.rejects(dovecot.reload(), /config is broken.*no_such_setting/s);
    } finally {
      await fs.rm(broken);
    }
    assert.equal(await dovecot.running(), true);
    await dovecot.reload();
    assert.match(await greeting(dovecot.imapPort), /^\* OK /);
  });

  void it("runs beside a second instance; stop() ends one and removes its files, twice is fine", async () => {
    const other = await makeDovecotInstance();
    try {
      await other.start();
      assert.notEqual(other.imapPort, dovecot.imapPort);
      assert.notEqual(other.configDir, dovecot.configDir);
      assert.equal(await dovecot.running(), true);
      assert.equal(await other.running(), true);
      assert.match(await greeting(other.imapPort), /^\* OK /);
      // Each doveadm reaches its own instance: the other one has no dave.
      const [mine, theirs] = await Promise.all([
        dovecot.authTest(USER, PASSWORD),
        other.authTest(USER, PASSWORD),
      ]);
      assert.equal(mine.ok, true, mine.output);
      assert.equal(theirs.ok, false, theirs.output);

      await assertStopsForGood(other, path.dirname(other.configDir), masterPid(other));
      assert.equal(await greeting(other.imapPort), "");
      // The first one did not notice.
      assert.equal(await dovecot.running(), true);
      assert.match(await greeting(dovecot.imapPort), /^\* OK /);
    } finally {
      await other.stop();
    }
  });

  void it("leaves /etc/dovecot, /run/dovecot and /var/lib/dovecot unchanged", () => {
    watched.forEach((w, i) => assert.deepEqual(snapshot(w), before_[i], w));
  });
});
