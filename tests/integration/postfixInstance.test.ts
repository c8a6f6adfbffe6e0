// Smoke test of tests/support/postfixInstance.ts: a real private Postfix on 127.0.0.1, with
// the system's /etc/postfix, queue and /var/mail left as they were.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as net from "node:net";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createPostfixInstance, type PostfixInstance } from "../support/postfixInstance";
import { assertStopsForGood, snapshot } from "../support/throwawayDaemon";

async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  log: () => string,
): Promise<T> {
  // Generous: on a loaded 2-core CI machine a reload and the next smtpd can take seconds.
  const deadline = Date.now() + 45_000;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}\n${log()}`);
    await sleep(100);
  }
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

void describe("throwaway Postfix instance", () => {
  // Watched for changes over the whole test (system files only ever read).
  const watched = ["/etc/postfix", "/etc/aliases", "/etc/aliases.db", "/var/mail"].filter((w) =>
    existsSync(w),
  );
  const snapshotsBefore: Map<string, string>[] = [];
  let spoolBefore: string[] = [];
  let pf: PostfixInstance;
  let createMs = 0;
  let startMs = 0;

  const postconf = (...args: string[]) =>
    execFileSync("postconf", ["-c", pf.configDir, ...args], { encoding: "utf8" }).trim();

  before(async () => {
    for (const w of watched)
      snapshotsBefore.push(statSync(w).isDirectory() ? snapshot(w) : fileSnap(w));
    spoolBefore = readdirSync("/var/spool/postfix", { recursive: true }).map(String).sort();
    const t0 = performance.now();
    pf = await createPostfixInstance();
    const t1 = performance.now();
    await pf.start();
    startMs = performance.now() - t1;
    createMs = t1 - t0;
  });
  after(() => pf?.stop());

  function fileSnap(file: string): Map<string, string> {
    return new Map([[file, createHash("sha256").update(readFileSync(file)).digest("hex")]]);
  }

  void it("answers SMTP on 127.0.0.1 at its own port (start time in the diagnostics)", async (t) => {
    t.diagnostic(`created in ${createMs.toFixed(0)} ms, started in ${startMs.toFixed(0)} ms`);
    t.diagnostic(`smtpd on 127.0.0.1:${pf.smtpPort}`);
    assert.equal(await pf.running(), true);
    assert.notEqual(pf.smtpPort, 25);
    assert.equal(await connects(pf.smtpPort), true);
    assert.ok(pf.log().includes(`configuration ${pf.configDir}`), pf.log());
  });

  void it("has its own dirs, loopback only, no chroot, mydestination=localhost", () => {
    const base = path.dirname(pf.configDir);
    assert.ok(base.startsWith("/tmp/vmail-postfix-"), base);
    assert.equal(pf.queueDir, path.join(base, "queue"));
    assert.equal(postconf("-h", "queue_directory"), pf.queueDir);
    assert.equal(postconf("-h", "data_directory"), path.join(base, "data"));
    assert.equal(postconf("-h", "inet_interfaces"), "127.0.0.1");
    assert.equal(postconf("-h", "inet_protocols"), "ipv4");
    assert.equal(postconf("-h", "mydestination"), "localhost");
    assert.equal(postconf("-h", "myhostname"), "mx.test.invalid");
    assert.equal(postconf("-h", "maillog_file"), path.join(base, "log/maillog"));
    // Every service unchrooted; smtpd only at 127.0.0.1:port, none on port 25.
    const chroot = postconf("-F", "*/*/chroot").split("\n");
    assert.ok(chroot.length > 10);
    for (const line of chroot) assert.match(line, /\/chroot = n$/);
    const services = postconf("-M").split("\n");
    assert.deepEqual(
      services.filter((l) => /\binet\b/.test(l)).map((l) => l.split(/\s+/)[0]),
      [`127.0.0.1:${pf.smtpPort}`],
    );
    assert.ok(services.some((l) => /^postlog\s+unix-dgram\b.*postlogd$/.test(l)));
    const maildrop = statSync(path.join(pf.queueDir, "maildrop"));
    assert.equal(maildrop.uid, Number(execFileSync("id", ["-u", "postfix"], { encoding: "utf8" })));
  });

  void it("rcptReply: 550 for unknown local users, 250 for system users, no relaying", async () => {
    const unknown = `no-such-user-${randomBytes(4).toString("hex")}@localhost`;
    assert.match(
      await pf.rcptReply(unknown),
      /^550 5\.1\.1 <no-such-user-[0-9a-f]+@localhost>: Recipient address rejected: User unknown in local recipient table$/,
    );
    // nobody is in /etc/passwd, and local_recipient_maps defaults to passwd + aliases.
    assert.equal(await pf.rcptReply("nobody@localhost"), "250 2.1.5 Ok");
    assert.equal(await pf.rcptReply("postmaster@localhost", "someone@example.org"), "250 2.1.5 Ok");
    assert.match(await pf.rcptReply("x@example.com"), /^5\d\d /);
    await assert.rejects(pf.rcptReply("a>b@localhost"), /not an SMTP address/);
  });

  void it("sendmail: mail to root@localhost is delivered to the instance's own spool", async () => {
    const token = randomBytes(8).toString("hex");
    await pf.sendmail("root@localhost", `Subject: smoke ${token}\n\nhello\n.\nstill the body\n`);
    const line = await waitFor(
      "status=sent",
      () =>
        pf
          .log()
          .split("\n")
          .find((l) => /to=<root@localhost>.*status=sent/.test(l)),
      () => pf.log(),
    );
    assert.match(line, /relay=local/);
    const mbox = readFileSync(path.join(pf.mailSpoolDir, "root"), "utf8");
    assert.ok(mbox.includes(`Subject: smoke ${token}`));
    assert.ok(mbox.includes("\n.\nstill the body"), "-oi keeps a lone dot in the body");
    assert.match(mbox, /^Return-Path: <root@localhost>$/m);
    await pf.flush();
    assert.match(
      execFileSync("postqueue", ["-c", pf.configDir, "-p"], { encoding: "utf8" }),
      /empty/,
    );
  });

  void it("takes vmail-style main.cf changes with postconf -e and postfix reload", async () => {
    // What vmail's apply script does: postconf -c DIR -e ..., then reload when running.
    const reload = async (what: string) => {
      const before = pf.reloads();
      execFileSync("postfix", ["-c", pf.configDir, "reload"], { stdio: "ignore" });
      assert.ok(await pf.reloadedSince(before), `master logged the ${what} reload\n${pf.log()}`);
    };
    execFileSync("postconf", ["-c", pf.configDir, "-e", "local_recipient_maps="]);
    await reload("first");
    const user = `no-such-user-${randomBytes(4).toString("hex")}@localhost`;
    // smtpd processes forked after the reload see the new main.cf; older ones finish first.
    const reply = await waitFor(
      "an smtpd with the new main.cf",
      async () => {
        // While master re-reads main.cf, a connection may be dropped: try again.
        const r = await pf.rcptReply(user).catch(() => "");
        return r.startsWith("250 ") ? r : undefined;
      },
      () => pf.log(),
    );
    assert.equal(reply, "250 2.1.5 Ok");
    execFileSync("postconf", ["-c", pf.configDir, "-X", "local_recipient_maps"]);
    await reload("second");
    await waitFor(
      "an smtpd with the old main.cf again",
      async () => (await pf.rcptReply(user).catch(() => "")).startsWith("550 ") || undefined,
      () => pf.log(),
    );
  });

  void it("moves smtpd to another port when its port was taken before start", async () => {
    const other = await createPostfixInstance({
      mydestination: "localhost, localhost.localdomain",
    });
    const squatter = net.createServer();
    try {
      const planned = other.smtpPort;
      await new Promise<void>((r) => squatter.listen(planned, "127.0.0.1", r));
      await other.start();
      assert.notEqual(other.smtpPort, planned);
      assert.notEqual(other.smtpPort, pf.smtpPort);
      assert.equal(await other.rcptReply("root@localhost.localdomain"), "250 2.1.5 Ok");
      assert.equal(
        execFileSync("postconf", ["-c", other.configDir, "-h", "mydestination"], {
          encoding: "utf8",
        }).trim(),
        "localhost, localhost.localdomain",
      );
    } finally {
      squatter.close();
      await other.stop();
    }
  });

  void it("stop() ends it, closes the port and removes every file; twice is fine", async () => {
    const own = await createPostfixInstance();
    await own.start();
    const base = path.dirname(own.configDir);
    const pid = Number(
      (await fs.readFile(path.join(own.queueDir, "pid/master.pid"), "utf8")).trim(),
    );
    assert.equal(await own.running(), true);
    await assertStopsForGood(own, base, pid);
    assert.equal(await connects(own.smtpPort), false);
  });

  void it("leaves /etc/postfix, /etc/aliases, /var/mail and /var/spool/postfix unchanged", () => {
    watched.forEach((w, i) => {
      const now = statSync(w).isDirectory() ? snapshot(w) : fileSnap(w);
      assert.deepEqual(now, snapshotsBefore[i], w);
    });
    const spoolNow = readdirSync("/var/spool/postfix", { recursive: true }).map(String).sort();
    assert.deepEqual(spoolNow, spoolBefore);
    assert.equal(execFileSync("postconf", ["-h", "alternate_config_directories"]).toString(), "\n");
  });
});
