// A throwaway, private Postfix instance for end-to-end tests. Its config directory is a copy of
// /etc/postfix adjusted (`postconf -c DIR`), its queue, data, log and mail spool are in a temp
// dir, and its smtpd listens on 127.0.0.1 at a free port. Nothing of the system's Postfix is
// changed: not /etc/postfix (only read), not /var/spool/postfix, not /var/mail.
//
// Facts this relies on (checked with Postfix 3.7 on Debian 12, as root):
// - `postfix -c DIR`, `sendmail -C DIR` and `postqueue -c DIR` run by root need no
//   `alternate_config_directories` in /etc/postfix/main.cf: Postfix trusts a non-default
//   config directory when the euid is 0, so the system main.cf is not touched. Run by any
//   other user, sendmail and postqueue refuse it ("unauthorized configuration directory name"):
//   a test that submits mail as an unprivileged user would need that entry.
// - The copy's master.cf keeps no inet service of the system's (port 25's smtpd, a dev stack's
//   submission service): the system Postfix may hold those ports.
// - Debian's master.cf chroots most services into the queue directory, which would then need
//   copies of /etc files; every service here runs unchrooted (`-F '*/*/chroot = n'`).
// - Logging goes to `maillog_file` through postlogd (master.cf's `postlog` service). Postfix
//   refuses a maillog_file outside `maillog_file_prefixes` (default /var, /dev/stdout), and then
//   fails silently: its fatal goes to syslog and stderr is no tty. So the prefix is our dir.
// - `postfix start` needs the queue directory itself to exist; `postfix check` (and start)
//   then create its subdirectories with the right owners (post-install create-missing),
//   maildrop and public group postdrop, data_directory owned by postfix.
// - If smtpd's port is taken, master dies before postlogd runs: the "bind ... Address already
//   in use" line is lost and `postfix start` just fails (after ~3 s). So start() probes the
//   port first and after a failed start, and moves smtpd to another free port if it is taken.
// - Postfix programs wait ~2 s for a just-written main.cf to "cool down" (see coolDown()).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as net from "node:net";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { mainCfBackupFile } from "../../core/postfixConfig";
import { freePort } from "./ports";
import * as daemon from "./throwawayDaemon";
import { ensureInstalled } from "./systemDeps";

export interface PostfixInstance {
  /** Its own config directory (main.cf, master.cf): give this to vmail / `postconf -c`. */
  configDir: string;
  queueDir: string;
  /** Local mailboxes (mail_spool_directory): `${mailSpoolDir}/root` after mail to root@localhost. */
  mailSpoolDir: string;
  /** smtpd listens on 127.0.0.1:smtpPort only. Read it after start(): a bind race moves it. */
  readonly smtpPort: number;
  /** Whether its master daemon runs (`master -t`, which logs nothing). */
  running(): Promise<boolean>;
  /** `postfix -c configDir start`, then waits until smtpd answers with its 220 banner. */
  start(): Promise<void>;
  /** Stops it and removes every file of it. Safe to call twice. */
  stop(): Promise<void>;
  /** Hands a message (headers, blank line, body) to this instance's sendmail (-C configDir). */
  sendmail(to: string, message: string): Promise<void>;
  /**
   * Opens an SMTP session to 127.0.0.1:smtpPort, EHLO, MAIL FROM:<from>, RCPT TO:<to>, and
   * returns the server's reply to RCPT (e.g. "550 5.1.1 <x@example.com>: Recipient address
   * rejected: User unknown in virtual mailbox table"), then QUIT. With `size`, MAIL FROM
   * declares it (SIZE=, RFC 1870), as a client does for the message it is about to send. With
   * `source`, the session comes from that loopback address (127.0.0.2, say).
   */
  rcptReply(to: string, from?: string, size?: number, source?: string): Promise<string>;
  /** `postqueue -f` for this instance: retries deferred mail now. */
  flush(): Promise<void>;
  /** The last lines of this instance's maillog_file, for failing tests. */
  log(): string;
  /**
   * Whether a line of its maillog_file matches `pattern` within 30 s: a delivery's file can be in
   * the maildir a moment before Postfix logs it.
   */
  logged(pattern: RegExp): Promise<boolean>;
  /** How many times its master daemon has reloaded its configuration ("reload --" in the log). */
  reloads(): number;
  /**
   * Whether its master logs more reloads than `before` (a count from reloads()) within 30 s:
   * `postfix reload` only signals master, which logs the reload when it has taken it.
   */
  reloadedSince(before: number): Promise<boolean>;
}

const POSTFIX = "/usr/sbin/postfix";
const SYSTEM_CONFIG = "/etc/postfix";
const HOSTNAME = "mx.test.invalid";

// Settings a dev stack may have put into the system main.cf (vmail's own, among others): the
// copy starts without them, as a server that vmail has not touched yet.
export const INHERITED_VIRTUAL_SETTINGS = [
  "local_recipient_maps",
  "virtual_mailbox_domains",
  "virtual_mailbox_maps",
  "virtual_alias_maps",
  "virtual_alias_domains",
  "virtual_mailbox_base",
  "virtual_uid_maps",
  "virtual_gid_maps",
  "virtual_transport",
  "transport_maps",
  "proxy_read_maps",
  "smtpd_recipient_restrictions",
];

/**
 * Whether a path under /etc/postfix belongs to the system's own config, not to what a dev stack
 * left there: its maps (pgsql/) and its record of the operator's values beside main.cf, which a
 * copy must not start with (the copy's vmail would take the system's record for its own).
 */
export function notFromADevStack(src: string): boolean {
  const left = [`${SYSTEM_CONFIG}/pgsql`, mainCfBackupFile(SYSTEM_CONFIG)];
  return !left.some((l) => src === l || src.startsWith(`${l}/`));
}

function ensureBinaries(): void {
  ensureInstalled([POSTFIX, `${SYSTEM_CONFIG}/main.cf`]);
}

const masterPid = (queueDir: string) => daemon.readPid(path.join(queueDir, "pid/master.pid"));

/** `master -t` exits 0 when no master holds the instance's lock. */
function masterRunning(configDir: string): boolean {
  if (!existsSync(path.join(configDir, "main.cf"))) return false;
  const r = spawnSync("/usr/lib/postfix/sbin/master", ["-c", configDir, "-t"], {
    env: daemon.CLEAN_ENV,
  });
  return r.status !== 0;
}

function smtpService(port: number): string {
  return `127.0.0.1:${port}/inet`;
}

export async function createPostfixInstance(
  opts: { mydestination?: string } = {},
): Promise<PostfixInstance> {
  ensureBinaries();
  const { base, configDir, queueDir, dataDir, logDir, mailSpoolDir } = await daemon.makeInstanceDir(
    "vmail-postfix-",
    {
      configDir: "config",
      queueDir: "queue",
      dataDir: "data",
      logDir: "log",
      mailSpoolDir: "mail",
    },
  );
  const logFile = path.join(logDir, "maillog");
  const postconf = async (...args: string[]) => {
    const r = await daemon.run("postconf", ["-c", configDir, ...args]);
    if (r.code !== 0) throw new Error(`postconf ${args.join(" ")} failed: ${r.stderr}`);
    return r.stdout;
  };
  try {
    // dereference: Debian's makedefs.out is a symlink out of the dir, which `postfix check`
    // warns about in any config directory but /etc/postfix.
    await fs.cp(SYSTEM_CONFIG, configDir, {
      recursive: true,
      dereference: true,
      filter: notFromADevStack,
    });
    // 0755 all the way down (base too) to the queue, log and spool: postfix, local(8)
    // delivering as the recipient and a test's Dovecot must reach them. Config and queue stay
    // root's.
    for (const dir of [queueDir, logDir, mailSpoolDir]) await fs.mkdir(dir, { mode: 0o755 });

    const aliases = path.join(configDir, "aliases");
    await fs.writeFile(aliases, "postmaster: root\n", { mode: 0o644 });
    await postconf("-X", ...INHERITED_VIRTUAL_SETTINGS);
    await postconf(
      "-e",
      `queue_directory=${queueDir}`,
      `data_directory=${dataDir}`,
      "inet_interfaces=127.0.0.1",
      "inet_protocols=ipv4",
      `myhostname=${HOSTNAME}`,
      "mydomain=test.invalid",
      // Bounces to locally submitted mail (root@localhost) land in our spool, not in the void.
      "myorigin=localhost",
      `mydestination=${opts.mydestination ?? "localhost"}`,
      "mynetworks=127.0.0.0/8",
      "relayhost=",
      "smtpd_banner=$myhostname ESMTP",
      `maillog_file=${logFile}`,
      `maillog_file_prefixes=${base}`,
      // Local mailboxes and aliases of our own: /var/mail and /etc/aliases stay untouched.
      `mail_spool_directory=${mailSpoolDir}`,
      // No ~/.forward: root's own (a dev stack forwards it) must not send our test mail elsewhere.
      "forward_path=",
      `alias_maps=hash:${aliases}`,
      `alias_database=hash:${aliases}`,
    );
    await coolDown(path.join(configDir, "main.cf"));
    const postalias = await daemon.run("postalias", ["-c", configDir, aliases]);
    if (postalias.code !== 0) throw new Error(`postalias failed: ${postalias.stderr}`);

    await postconf("-F", "*/*/chroot = n");
    // No listener of the system's: not its smtpd on port 25, nor a submission service a dev
    // stack added (the system Postfix may be running with it). The instance adds its own.
    const inet = (await postconf("-M"))
      .split("\n")
      .map((line) => line.split(/\s+/))
      .filter(([, type]) => type === "inet")
      .map(([service]) => `${service}/inet`);
    if (inet.length > 0) await postconf("-M#", ...inet);
    if ((await postconf("-M", "postlog/unix-dgram")).trim() === "") {
      await postconf("-M", "postlog/unix-dgram=postlog unix-dgram n - n - 1 postlogd");
    }
    let port = await freePort();
    await postconf("-M", `${smtpService(port)}=127.0.0.1:${port} inet n - n - - smtpd`);

    // Creates the queue's subdirectories and data_directory with Postfix's owners and modes.
    const check = await daemon.run(POSTFIX, ["-c", configDir, "check"]);
    if (check.code !== 0) {
      throw new Error(
        `postfix check failed (${check.code}): ${check.stderr}${daemon.tail(logFile)}`,
      );
    }

    daemon.killAtExit(base, () => {
      const pid = masterPid(queueDir);
      return pid !== undefined && masterRunning(configDir) ? pid : undefined;
    });
    let stopped: Promise<void> | undefined;
    const reloads = () =>
      daemon.tail(logFile, Number.MAX_SAFE_INTEGER).match(/master\[\d+\]: reload --/g)?.length ?? 0;
    const instance: PostfixInstance = {
      configDir,
      queueDir,
      mailSpoolDir,
      get smtpPort() {
        return port;
      },
      running: () => Promise.resolve(existsSync(base) && masterRunning(configDir)),
      start: async () => {
        if (stopped) throw new Error("postfixInstance: start() after stop()");
        const moveSmtpd = async () => {
          await postconf("-MX", smtpService(port));
          port = await freePort();
          await postconf("-M", `${smtpService(port)}=127.0.0.1:${port} inet n - n - - smtpd`);
        };
        for (let attempt = 1; !masterRunning(configDir); attempt++) {
          // Taken since create() probed it? A failed start costs seconds, so look first.
          if (await daemon.portTaken(port)) await moveSmtpd();
          const r = await daemon.run(POSTFIX, ["-c", configDir, "start"]);
          if (r.code === 0) break;
          // Taken between the look and master's bind (its fatal is lost, see the top).
          if (attempt < 3 && (await daemon.portTaken(port))) continue;
          throw new Error(`postfix start failed (${r.code}): ${r.stderr}\n${daemon.tail(logFile)}`);
        }
        const deadline = Date.now() + 30_000;
        for (;;) {
          const banner = await smtpBanner(port);
          if (banner.startsWith("220 ")) return;
          if (!masterRunning(configDir)) {
            throw new Error(
              `postfix master exited during start (${banner})\n${daemon.tail(logFile)}`,
            );
          }
          if (Date.now() > deadline) {
            throw new Error(
              `smtpd on 127.0.0.1:${port} not ready after 30s (${banner})\n${daemon.tail(logFile)}`,
            );
          }
          await sleep(50);
        }
      },
      stop: () => {
        stopped ??= (async () => {
          await stopMaster(configDir, queueDir);
          daemon.forgetAtExit(base);
          await fs.rm(base, { recursive: true, force: true });
        })();
        return stopped;
      },
      sendmail: async (to, message) => {
        // -oi: a line with a single dot is text, not the end; `--`: `to` is never an option.
        const r = await daemon.run(
          "/usr/sbin/sendmail",
          ["-C", configDir, "-oi", "--", to],
          message,
        );
        if (r.code !== 0) {
          throw new Error(`sendmail failed (${r.code}): ${r.stderr}\n${daemon.tail(logFile)}`);
        }
      },
      rcptReply: (to, from = "tester@localhost", size?: number, source?: string) =>
        rcptReply(port, to, from, size, source),
      flush: async () => {
        const r = await daemon.run("postqueue", ["-c", configDir, "-f"]);
        if (r.code !== 0) {
          throw new Error(`postqueue -f failed (${r.code}): ${r.stderr}\n${daemon.tail(logFile)}`);
        }
      },
      log: () => daemon.tail(logFile),
      logged: async (pattern) => {
        const deadline = Date.now() + 30_000;
        const seen = () =>
          readFileSync(logFile, "utf8")
            .split("\n")
            .some((l) => pattern.test(l));
        while (!seen() && Date.now() < deadline) await sleep(100);
        return seen();
      },
      reloads,
      reloadedSince: async (before) => {
        const deadline = Date.now() + 30_000;
        while (reloads() <= before && Date.now() < deadline) await sleep(100);
        return reloads() > before;
      },
    };
    return instance;
  } catch (e) {
    await stopMaster(configDir, queueDir).catch(() => undefined);
    daemon.forgetAtExit(base);
    await fs.rm(base, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Postfix programs re-read a main.cf changed in the last second or two until it "cools down"
 * (dict_load_file: 300 ms naps), ~2 s after every `postconf -e`. Dating the fresh file back
 * skips that wait; nothing in Postfix watches main.cf's mtime.
 */
async function coolDown(file: string): Promise<void> {
  const past = new Date(Date.now() - 10_000);
  await fs.utimes(file, past, past);
}

/**
 * What `postfix stop` does, without its one-second sleeps: SIGTERM to master (which takes its
 * children down), wait for its lock to go, then SIGKILL to its process group.
 */
async function stopMaster(configDir: string, queueDir: string): Promise<void> {
  const pid = masterPid(queueDir);
  if (pid === undefined || !masterRunning(configDir)) return;
  daemon.signal(pid, "SIGTERM");
  const deadline = Date.now() + 10_000;
  while (masterRunning(configDir)) {
    if (Date.now() > deadline) {
      daemon.signal(-pid, "SIGKILL"); // master leads its own process group
      break;
    }
    await sleep(20);
  }
}

/** The first reply line of 127.0.0.1:port, or why there was none. */
async function smtpBanner(port: number): Promise<string> {
  const session = smtpSession(port);
  try {
    return (await session.reply()).join("\n");
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    session.close();
  }
}

async function rcptReply(
  port: number,
  to: string,
  from: string,
  size?: number,
  source?: string,
): Promise<string> {
  for (const address of [to, from]) {
    if (/[\r\n<>]/.test(address))
      throw new Error(`not an SMTP address: ${JSON.stringify(address)}`);
  }
  const session = smtpSession(port, 10_000, source);
  try {
    const expect = async (command: string | undefined, code: string) => {
      const reply = command === undefined ? await session.reply() : await session.send(command);
      if (!reply[reply.length - 1].startsWith(code)) {
        throw new Error(`SMTP ${command ?? "banner"}: ${reply.join("\n")}`);
      }
    };
    await expect(undefined, "220");
    await expect("EHLO client.test.invalid", "250");
    await expect(`MAIL FROM:<${from}>${size === undefined ? "" : ` SIZE=${size}`}`, "250");
    const reply = await session.send(`RCPT TO:<${to}>`);
    await session.send("QUIT").catch(() => undefined);
    return reply.join("\n");
  } finally {
    session.close();
  }
}

interface SmtpSession {
  /** The next complete reply (all its lines, multi-line replies included). */
  reply(): Promise<string[]>;
  send(line: string): Promise<string[]>;
  close(): void;
}

function smtpSession(port: number, timeoutMs = 10_000, localAddress?: string): SmtpSession {
  const socket = net.createConnection({ host: "127.0.0.1", port, localAddress });
  socket.setEncoding("utf8");
  socket.setTimeout(timeoutMs);
  let buffer = "";
  const lines: string[] = [];
  let failure: Error | undefined;
  let waiting: { resolve: (r: string[]) => void; reject: (e: Error) => void } | undefined;
  const pump = () => {
    if (!waiting) return;
    const last = lines.findIndex((l) => !/^\d{3}-/.test(l));
    const w = waiting;
    if (last >= 0) {
      waiting = undefined;
      w.resolve(lines.splice(0, last + 1));
    } else if (failure) {
      waiting = undefined;
      w.reject(failure);
    }
  };
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
      lines.push(buffer.slice(0, i).replace(/\r$/, ""));
      buffer = buffer.slice(i + 1);
    }
    pump();
  });
  socket.on("error", (e) => {
    failure ??= e;
    pump();
  });
  socket.on("timeout", () => {
    failure ??= new Error(`no SMTP reply within ${timeoutMs} ms`);
    socket.destroy();
    pump();
  });
  socket.on("close", () => {
    failure ??= new Error("connection closed");
    pump();
  });
  const reply = () =>
    new Promise<string[]>((resolve, reject) => {
      waiting = { resolve, reject };
      pump();
    });
  return {
    reply,
    send: (line) => {
      socket.write(`${line}\r\n`);
      return reply();
    },
    close: () => socket.destroy(),
  };
}
