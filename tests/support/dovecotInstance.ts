// A throwaway, private Dovecot instance for tests. Its config directory is laid out like Debian's
// /etc/dovecot where vmail touches it (conf.d/10-auth.conf and the auth-*.conf.ext files, copied
// from the package's pristine /usr/share/dovecot/conf.d), its dovecot.conf holds the instance
// settings, and its runtime dir (base_dir), state, log and every socket are in a temp dir. IMAP
// listens on 127.0.0.1 at a free port. Nothing of the system's Dovecot is changed: not
// /etc/dovecot (never read either: a dev stack may have edited it), not /run/dovecot, not
// /var/lib/dovecot; the system Dovecot may run meanwhile.
//
// Facts this relies on (checked with Dovecot 2.3.19.1 on Debian 12, as root):
// - `dovecot -c FILE` runs a second master beside the system one when base_dir differs: every
//   unix socket (auth-client, auth-userdb, auth-master, login/, doveadm-server, stats-writer,
//   anvil, config, dict ...) is a path relative to base_dir, and so is master.pid. state_dir
//   holds the `instances` list; instance_name only names the processes
//   ("dovecot-<instance_name>/auth"). `doveadm -c FILE` and `doveconf -c FILE` read base_dir
//   from FILE, so `doveadm -c FILE auth test` talks to this instance's auth-client socket
//   (passed explicitly too, with -a).
// - `dovecot -c FILE` checks the config, binds its listeners, then forks the master (its own
//   session and process group) and exits 0; a taken port fails it at once with exit 89 and
//   "listen(127.0.0.1, PORT) failed: Address already in use" on stderr. `doveconf -c FILE -n`
//   validates a config (exit 89 and the error on stderr).
// - With `protocols = imap lmtp` only imap-login has an inet listener (LMTP listens on unix
//   sockets: its default one in base_dir, and vmail's in Postfix's queue directory; pop3 and
//   submission are not started); imaps is disabled with port 0, so no system port is bound.
// - 2.3 names: `disable_plaintext_auth = no` (2.4 renamed it auth_allow_cleartext); logins
//   from 127.0.0.1 count as "secured" in 2.3 anyway. `ssl = no` needs no certificate.
// - mail_location is unset: the userdb's `mail` field (vmail's SQL userdb, a test's
//   passwd-file `userdb_mail=`) says where mail is. Debian's 10-mail.conf (mbox and
//   /var/mail) is not copied, so system users have no mailbox here.
// - Debian's 10-auth.conf says `auth_mechanisms = plain` and `!include auth-system.conf.ext`
//   (passdb pam, userdb passwd). Settings later in a file win, so the instance settings come
//   after `!include conf.d/*.conf`. Passdbs are asked in the order included: whenever PAM is
//   asked about a user it does not know (a virtual user, when vmail's include comes after the
//   system one) or a wrong password, Debian's pam_unix (no `nodelay`) waits ~2 s first. So such
//   an auth test or IMAP login takes ~2 s here, as on a stock Debian server.
// - auth_failure_delay (default 2 s before a failure is answered) is 0 here: only timing.
// - Dovecot's auth penalty (anvil, per client IP, 2 s growing to 15 s, for ~30 s after a failed
//   login) also hits 127.0.0.1 (login_trusted_networks = 127.0.0.0/8 did not lift it): a
//   right password after a wrong one took 7 s instead of 2 s. So inboxSubjects() connects
//   from a random 127.x.y.z source address: one call's failure does not slow down the next.
// - first_valid_uid defaults to 500: a mail owner uid >= 1000 (from the userdb's uid field) is
//   fine, and it need not be in /etc/passwd. The imap process runs as that uid, so the temp dir
//   and config dir are 0755 (it reaches base_dir's stats-writer; the auth process, user
//   dovecot, reads passdb files through them).
// - `doveadm -c FILE reload` SIGHUPs the master, which logs "SIGHUP received - reloading
//   configuration", re-reads the config and replaces its services: the old, idle auth and
//   config processes exit within milliseconds and the next request gets a new auth process.
//   A config error is only logged (the old config stays), hence the doveconf check first.
//   The master also unlinks and re-creates its listening sockets: for a few ms after `doveadm
//   reload` returns, auth-client is missing (17 of 20 reloads here) and `doveadm auth test`
//   fails to connect. So a test waits for the reload to finish (reload(), reloadedBy()).
// - Stopping: SIGTERM to the master takes ~1.2 s (it waits for its children). SIGTERM to its
//   whole process group races the master, which may spawn a new auth worker that then keeps
//   it for ~6 s. So stop() SIGKILLs the group (imap processes included): ~10 ms, and nothing
//   of a throwaway instance needs a clean shutdown. Without a reaping init the dead master
//   lingers as a zombie for a while (running() looks at its state).
// - `doveadm auth test USER` without a password reads it from stdin when there is no
//   controlling tty (the child gets its own session), so the password is never an argument.
//   Its requests carry no client IP, yet a failed one still earns the (shared) auth penalty:
//   the next one waited 4 s more. `-x no-penalty=yes` (an auth request field) skips it.
// - Python's imaplib: AUTHENTICATE PLAIN sends UTF-8 credentials (LOGIN would only take ASCII);
//   EXAMINE (select readonly) leaves maildir messages in new/ and flags nothing.
import { spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as net from "node:net";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "./ports";
import * as daemon from "./throwawayDaemon";
import { ensureInstalled } from "./systemDeps";

export interface DovecotInstance {
  /**
   * Its own config directory, laid out like /etc/dovecot: dovecot.conf and conf.d/ (Debian's
   * 10-auth.conf and auth-*.conf.ext). vmail writes into it; dovecot.conf is the instance's.
   */
  configDir: string;
  /**
   * IMAP listens on 127.0.0.1:imapPort only (plain text, no TLS, plaintext auth allowed on
   * loopback). Read it after start(): a bind race moves it.
   */
  readonly imapPort: number;
  /** `dovecot -c configDir/dovecot.conf`, then waits until IMAP answers with its greeting. */
  start(): Promise<void>;
  /**
   * Checks the config (`doveconf -n`, throws with its error), `doveadm -c ... reload`, then
   * waits as reloadedBy() does, so the next auth request sees the new config.
   */
  reload(): Promise<void>;
  /**
   * Runs `action`, which reloads Dovecot its own way (vmail's DovecotReload runs `doveadm
   * reload` and returns at once), then waits until the master logged the reload, the old auth
   * and config processes are gone and auth-client is back. Throws when no reload came in 30 s.
   */
  reloadedBy<T>(action: () => Promise<T>): Promise<T>;
  /** Whether its master process runs. */
  running(): Promise<boolean>;
  /** Stops it and removes every file of it. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * `doveadm -c ... auth test user` against this instance's auth-client socket, the password on
   * stdin: ok when the passdb lookup succeeded; output is doveadm's stdout and stderr.
   */
  authTest(user: string, password: string): Promise<{ ok: boolean; output: string }>;
  /**
   * Logs in over IMAP on loopback (Python's imaplib, AUTHENTICATE PLAIN, credentials on stdin),
   * selects INBOX read-only (EXAMINE: maildir messages stay in new/) and returns the Subject of
   * every message in sequence order ("" for none). Throws with the server's reply when the
   * login is refused ("IMAP login as USER refused: [AUTHENTICATIONFAILED] ...").
   */
  inboxSubjects(user: string, password: string): Promise<string[]>;
  /** Logs in as inboxSubjects() does and returns LIST's replies, one a mailbox. */
  folders(user: string, password: string): Promise<string[]>;
  /** Logs in as inboxSubjects() does and returns GETQUOTAROOT INBOX's untagged replies. */
  inboxQuota(user: string, password: string): Promise<string>;
  /** `doveadm -c ... quota get -u user`: the user's quota table as doveadm prints it. */
  quotaGet(user: string): Promise<string>;
  /** `doveadm -c ... user -f FIELD user`: one field of the userdb's answer (home, mail). */
  userField(user: string, field: string): Promise<string>;
  /** The last lines of its log file, for failing tests. */
  log(): string;
}

const DOVECOT = "/usr/sbin/dovecot";
/** The package's own copies of Debian's conf.d (those in /etc/dovecot may have been edited). */
const STOCK_CONF_D = "/usr/share/dovecot/conf.d";
const IMAP_LOGIN = "/usr/lib/dovecot/imap-login";
/** vmail delivers over LMTP (Debian's dovecot-lmtpd) and asks quota-status (dovecot-core). */
const DELIVERY_BINARIES = ["/usr/lib/dovecot/lmtp", "/usr/lib/dovecot/quota-status"];

function ensureBinaries(): void {
  const needed = [
    DOVECOT,
    IMAP_LOGIN,
    ...DELIVERY_BINARIES,
    "/usr/bin/doveadm",
    "/usr/bin/doveconf",
    "/usr/bin/python3",
  ];
  ensureInstalled([...needed, path.join(STOCK_CONF_D, "10-auth.conf")]);
}

/**
 * Runs a command with a clean environment, feeding it stdin. In its own session: no
 * controlling tty, so doveadm reads a password from stdin, not from the terminal.
 */
const run = (cmd: string, args: string[], input?: string): Promise<daemon.Ran> =>
  daemon.run(cmd, args, input, { detached: true });

/**
 * Runs `dovecot`, which forks its master and exits: the master keeps the stderr it was given
 * (a pipe would never see EOF), so stderr goes to a file. Resolves on exit with that file.
 */
async function launch(cmd: string, args: string[], errFile: string): Promise<daemon.Ran> {
  const err = await fs.open(errFile, "w", 0o644);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(cmd, args, {
        env: daemon.CLEAN_ENV,
        stdio: ["ignore", "ignore", err.fd],
      });
      child.once("error", reject);
      child.once("exit", (c) => resolve(c));
    });
    return { code, stdout: "", stderr: await fs.readFile(errFile, "utf8") };
  } finally {
    await err.close();
  }
}

const masterPid = (baseDir: string) => daemon.readPid(path.join(baseDir, "master.pid"));

/** The master's pid while it runs (a dead master may linger as a zombie). */
function runningMaster(baseDir: string): number | undefined {
  const pid = masterPid(baseDir);
  return pid !== undefined && daemon.alive(pid) ? pid : undefined;
}

/** The master's live children: pid and process title ("dovecot-NAME/auth -w"). */
function children(master: number): { pid: number; title: string }[] {
  const out: { pid: number; title: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const st = daemon.procStat(Number(entry));
    if (st?.ppid !== master || st.state === "Z") continue;
    try {
      const title = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0")[0];
      out.push({ pid: Number(entry), title });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The first line 127.0.0.1:port sends (the IMAP greeting), or why there was none. */
function greeting(port: number, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.createConnection({ host: "127.0.0.1", port });
    let buffer = "";
    const done = (s: string) => {
      socket.destroy();
      resolve(s);
    };
    socket.setEncoding("utf8");
    socket.setTimeout(timeoutMs, () => done(`no greeting within ${timeoutMs} ms`));
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      const i = buffer.indexOf("\n");
      if (i >= 0) done(buffer.slice(0, i).replace(/\r$/, ""));
    });
    socket.on("error", (e) => done(e.message));
    socket.on("close", () => done(buffer === "" ? "connection closed" : buffer));
  });
}

/** The instance's dovecot.conf: Debian's conf.d first, then the instance settings (they win). */
function dovecotConf(p: {
  instanceName: string;
  baseDir: string;
  stateDir: string;
  logFile: string;
  port: number;
}): string {
  return `# A throwaway test instance (tests/support/dovecotInstance.ts). vmail writes to conf.d/.
!include conf.d/*.conf

# Instance settings, after conf.d so that they win.
instance_name = ${p.instanceName}
base_dir = ${p.baseDir}
state_dir = ${p.stateDir}
log_path = ${p.logFile}
info_log_path = ${p.logFile}
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
auth_failure_delay = 0
first_valid_uid = 500

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${p.port}
  }
  inet_listener imaps {
    port = 0
  }
}
`;
}

// Logs in with AUTHENTICATE PLAIN from the source address argv[2] to 127.0.0.1:argv[1], with
// {"user", "password"} as JSON on stdin; prints {"subjects": [...]} (or, with argv[3] "quota",
// {"quota": GETQUOTAROOT INBOX's untagged replies}, with "folders" {"folders": LIST's replies})
// or {"refused": reply} (exit 2) or
// {"error": ...} (exit 1).
const INBOX_SUBJECTS_PY = String.raw`
import email.parser, email.policy, imaplib, json, socket, sys

port, source = int(sys.argv[1]), sys.argv[2]
creds = json.loads(sys.stdin.buffer.read())

def text(x):
    if isinstance(x, (list, tuple)):
        return " ".join(text(i) for i in x)
    return x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)

def finish(code, **out):
    print(json.dumps(out))
    sys.exit(code)

class Client(imaplib.IMAP4):
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(source, 0))

try:
    imap = Client("127.0.0.1", port, timeout=30)
except Exception as e:
    finish(1, error="connect: %s" % e)
try:
    imap.authenticate("PLAIN", lambda _: b"\0" + creds["user"].encode() + b"\0" + creds["password"].encode())
except imaplib.IMAP4.error as e:
    finish(2, refused=text(e.args))
if len(sys.argv) > 3 and sys.argv[3] == "folders":
    try:
        typ, data = imap.list()
        imap.logout()
    except Exception as e:
        finish(1, error="%s: %s" % (type(e).__name__, e))
    finish(0, folders=[text(d) for d in data if d])
if len(sys.argv) > 3 and sys.argv[3] == "quota":
    try:
        typ, data = imap.getquotaroot("INBOX")
        imap.logout()
    except Exception as e:
        finish(1, error="%s: %s" % (type(e).__name__, e))
    finish(0, quota=text(data))
try:
    typ, data = imap.select("INBOX", readonly=True)
    if typ != "OK":
        finish(1, error="EXAMINE INBOX: %s %s" % (typ, text(data)))
    subjects = []
    if int(data[0]) > 0:
        typ, data = imap.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        if typ != "OK":
            finish(1, error="FETCH: %s %s" % (typ, text(data)))
        parser = email.parser.BytesHeaderParser(policy=email.policy.default)
        for item in data:
            if isinstance(item, tuple):
                subjects.append(str(parser.parsebytes(item[1])["subject"] or ""))
    imap.logout()
except Exception as e:
    finish(1, error="%s: %s" % (type(e).__name__, e))
finish(0, subjects=subjects)
`;

export async function makeDovecotInstance(): Promise<DovecotInstance> {
  ensureBinaries();
  const { base, configDir, baseDir, stateDir, logDir } = await daemon.makeInstanceDir(
    "vmail-dovecot-",
    {
      configDir: "config",
      baseDir: "run",
      stateDir: "state",
      logDir: "log",
    },
  );
  const configFile = path.join(configDir, "dovecot.conf");
  const logFile = path.join(logDir, "dovecot.log");
  const authClient = path.join(baseDir, "auth-client");
  const startErr = path.join(logDir, "start.stderr");
  const instanceName = `vmail-test-${randomBytes(4).toString("hex")}`;
  let port = await freePort();
  const writeConf = () =>
    fs.writeFile(configFile, dovecotConf({ instanceName, baseDir, stateDir, logFile, port }), {
      mode: 0o644,
    });
  const withLog = (message: string) => `${message}\n${daemon.tail(logFile)}`;
  /** One IMAP session as `user` (see INBOX_SUBJECTS_PY): what the script printed. */
  const imapAs = async (user: string, password: string, mode: "subjects" | "quota" | "folders") => {
    // A fresh loopback source address: no auth penalty from an earlier failed login.
    const source = `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
    const r = await run(
      "/usr/bin/python3",
      ["-c", INBOX_SUBJECTS_PY, String(port), source, mode],
      JSON.stringify({ user, password }),
    );
    let out: {
      subjects?: string[];
      folders?: string[];
      quota?: string;
      refused?: string;
      error?: string;
    } = {};
    try {
      out = JSON.parse(r.stdout) as typeof out;
    } catch {
      // reported below
    }
    if (r.code === 0) return out;
    if (r.code === 2 && out.refused !== undefined) {
      throw new Error(`IMAP login as ${user} refused: ${out.refused}`);
    }
    throw new Error(
      withLog(`IMAP session as ${user} failed (${r.code}): ${out.error ?? r.stdout + r.stderr}`),
    );
  };

  try {
    // 0755 like base: the imap process (the mail owner's uid) reaches base_dir, the auth
    // process (user dovecot) the passdb files in the config dir.
    for (const dir of [configDir, path.join(configDir, "conf.d"), stateDir, logDir]) {
      await fs.mkdir(dir, { mode: 0o755 });
    }
    for (const name of await fs.readdir(STOCK_CONF_D)) {
      if (name === "10-auth.conf" || /^auth-.*\.conf\.ext$/.test(name)) {
        await fs.copyFile(path.join(STOCK_CONF_D, name), path.join(configDir, "conf.d", name));
        await fs.chmod(path.join(configDir, "conf.d", name), 0o644);
      }
    }
    await writeConf();
    const check = await run("doveconf", ["-c", configFile, "-n"]);
    if (check.code !== 0) throw new Error(`doveconf -n failed (${check.code}): ${check.stderr}`);
  } catch (e) {
    await fs.rm(base, { recursive: true, force: true });
    throw e;
  }

  daemon.killAtExit(base, () => runningMaster(baseDir));
  const isRunning = () => runningMaster(baseDir) !== undefined;
  const doveadm = (args: string[], input?: string) =>
    run("doveadm", ["-c", configFile, ...args], input);
  let stopped: Promise<void> | undefined;

  async function reloadedBy<T>(action: () => Promise<T>): Promise<T> {
    const master = masterPid(baseDir);
    if (master === undefined || !isRunning()) throw new Error("dovecotInstance: not running");
    const reloadLine = "master: Warning: SIGHUP received - reloading configuration";
    const reloads = () => daemon.tail(logFile, Number.MAX_SAFE_INTEGER).split(reloadLine);
    const before = reloads().length;
    const old = children(master)
      .filter((c) => /\/(auth|config)( |$)/.test(c.title))
      .map((c) => c.pid);
    const result = await action();
    const deadline = Date.now() + 30_000;
    for (;;) {
      const parts = reloads();
      if (parts.length > before) {
        const after = parts[parts.length - 1];
        if (/master: (Error|Fatal): /.test(after)) throw new Error(withLog("reload failed"));
        if (!old.some(daemon.alive) && existsSync(authClient)) return result;
      }
      if (Date.now() > deadline) {
        throw new Error(withLog(`reload did not take effect in 30s (old: ${old.join(" ")})`));
      }
      await sleep(10);
    }
  }
  const instance: DovecotInstance = {
    configDir,
    get imapPort() {
      return port;
    },
    running: () => Promise.resolve(existsSync(base) && isRunning()),
    start: async () => {
      if (stopped) throw new Error("dovecotInstance: start() after stop()");
      for (let attempt = 1; !isRunning(); attempt++) {
        if (await daemon.portTaken(port)) {
          port = await freePort();
          await writeConf();
        }
        const r = await launch(DOVECOT, ["-c", configFile], startErr);
        if (r.code === 0) break;
        // Taken between the look and the bind: another port.
        if (attempt < 3 && /Address already in use/.test(r.stderr)) continue;
        throw new Error(withLog(`dovecot -c ${configFile} failed (${r.code}): ${r.stderr}`));
      }
      const deadline = Date.now() + 30_000;
      for (;;) {
        const line = await greeting(port);
        if (line.startsWith("* OK")) return;
        if (!isRunning()) throw new Error(withLog(`dovecot exited during start (${line})`));
        if (Date.now() > deadline) {
          throw new Error(withLog(`IMAP on 127.0.0.1:${port} not ready after 30s (${line})`));
        }
        await sleep(50);
      }
    },
    reload: async () => {
      const check = await run("doveconf", ["-c", configFile, "-n"]);
      if (check.code !== 0) {
        throw new Error(
          `reload: the config is broken (doveconf -n: ${check.code}): ${check.stderr}`,
        );
      }
      await reloadedBy(async () => {
        const r = await doveadm(["reload"]);
        if (r.code !== 0) {
          throw new Error(withLog(`doveadm reload failed (${r.code}): ${r.stderr}`));
        }
      });
    },
    reloadedBy,
    stop: () => {
      stopped ??= (async () => {
        const pid = runningMaster(baseDir);
        if (pid !== undefined) {
          // The whole process group at once (see the top): nothing of it is kept.
          daemon.signal(-pid, "SIGKILL");
          const deadline = Date.now() + 10_000;
          while (daemon.alive(pid) && Date.now() < deadline) await sleep(10);
        }
        daemon.forgetAtExit(base);
        await fs.rm(base, { recursive: true, force: true });
      })();
      return stopped;
    },
    authTest: async (user, password) => {
      if (/[\r\n]/.test(password)) throw new Error("authTest: a password is one line");
      const r = await doveadm(
        ["auth", "test", "-a", authClient, "-x", "no-penalty=yes", "--", user],
        `${password}\n`,
      );
      const output = r.stdout + r.stderr;
      return { ok: r.code === 0 && /auth succeeded/.test(output), output };
    },
    inboxSubjects: async (user, password) => {
      const out = await imapAs(user, password, "subjects");
      if (Array.isArray(out.subjects)) return out.subjects;
      throw new Error(withLog(`IMAP session as ${user} printed no subjects`));
    },
    folders: async (user, password) => {
      const out = await imapAs(user, password, "folders");
      if (Array.isArray(out.folders)) return out.folders;
      throw new Error(withLog(`IMAP session as ${user} printed no folders`));
    },
    inboxQuota: async (user, password) => {
      const out = await imapAs(user, password, "quota");
      if (typeof out.quota === "string") return out.quota;
      throw new Error(withLog(`IMAP session as ${user} printed no quota`));
    },
    quotaGet: async (user) => {
      const r = await run("doveadm", ["-c", configFile, "quota", "get", "-u", user]);
      if (r.code !== 0)
        throw new Error(withLog(`doveadm quota get failed (${r.code}): ${r.stderr}`));
      return r.stdout;
    },
    userField: async (user, field) => {
      const r = await run("doveadm", ["-c", configFile, "user", "-f", field, user]);
      if (r.code !== 0)
        throw new Error(withLog(`doveadm user ${user} failed (${r.code}): ${r.stderr}`));
      return r.stdout.trim();
    },
    log: () => daemon.tail(logFile),
  };
  return instance;
}
