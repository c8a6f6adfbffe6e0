// A throwaway OpenSSH server for tests: Debian's sshd in the foreground on 127.0.0.1 at a
// free port, with its own sshd_config, a fresh ed25519 host key and an ed25519 client key
// (made by ssh-keygen in a temp dir at test time, never committed) authorized for root.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "./ports";
import { ensureInstalled } from "./systemDeps";

const SSHD = "/usr/sbin/sshd";

export interface SshServer {
  host: "127.0.0.1";
  port: number;
  user: "root";
  /** OpenSSH private key of the authorized client key (secret: never log it). */
  privateKey: string;
  /** The same key as a 0600 file, for `ssh -i`. */
  privateKeyPath: string;
  /** The host key's public line, `ssh-ed25519 AAAA...`, for pinning. */
  hostPublicKey: string;
  /** `[127.0.0.1]:PORT ssh-ed25519 AAAA...`, a known_hosts line that pins the host key. */
  knownHostsLine: string;
  /** The last few kB of sshd's log (connections, auth results; no secrets), for failing tests. */
  log(): string;
  /** Stops sshd and removes its keys and config. Safe to call twice. */
  stop(): Promise<void>;
}

// Servers still running when the test process exits are killed with it.
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

function ensureBinaries(): void {
  ensureInstalled([SSHD, "/usr/bin/ssh-keygen"]);
}

function keygen(file: string, comment: string): void {
  const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

function sshdConfig(dir: string, port: number): string {
  return [
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${dir}/ssh_host_ed25519_key`,
    `PidFile ${dir}/sshd.pid`,
    `AuthorizedKeysFile ${dir}/authorized_keys`,
    "AllowUsers root",
    "PermitRootLogin prohibit-password",
    "AuthenticationMethods publickey",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    // No PAM: no login sessions or motd, nothing outside this config decides.
    "UsePAM no",
    // StrictModes would refuse the key file because /tmp above it is world-writable;
    // the temp dir itself is root's and 0700.
    "StrictModes no",
    "PermitUserEnvironment no",
    "X11Forwarding no",
    "AllowAgentForwarding no",
    "PrintMotd no",
    // @pulumi/command's CopyToRemote speaks SFTP.
    "Subsystem sftp internal-sftp",
    "LogLevel VERBOSE",
    "",
  ].join("\n");
}

export async function startSshServer(): Promise<SshServer> {
  ensureBinaries();
  // sshd's compiled-in privilege separation directory; the service would make it.
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "vmail-ssh-"));
  try {
    await fs.chmod(dir, 0o700);
    keygen(path.join(dir, "ssh_host_ed25519_key"), "vmail-test-host");
    keygen(path.join(dir, "client_ed25519"), "vmail-test-client");
    const clientPub = await fs.readFile(path.join(dir, "client_ed25519.pub"), "utf8");
    await fs.writeFile(path.join(dir, "authorized_keys"), clientPub, { mode: 0o600 });
    const privateKeyPath = path.join(dir, "client_ed25519");
    const privateKey = await fs.readFile(privateKeyPath, "utf8");
    const hostPub = await fs.readFile(path.join(dir, "ssh_host_ed25519_key.pub"), "utf8");
    const hostPublicKey = hostPub.trim().split(/\s+/).slice(0, 2).join(" ");

    // A free port can be taken between the probe and sshd's bind: try a few.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const config = path.join(dir, "sshd_config");
      await fs.writeFile(config, sshdConfig(dir, port), { mode: 0o600 });
      const started = await startSshd(config, port);
      if ("server" in started) {
        let stopped: Promise<void> | undefined;
        return {
          host: "127.0.0.1",
          port,
          user: "root",
          privateKey,
          privateKeyPath,
          hostPublicKey,
          knownHostsLine: `[127.0.0.1]:${port} ${hostPublicKey}`,
          log: started.log,
          stop: () => {
            stopped ??= (async () => {
              await stopServer(started.server);
              await fs.rm(dir, { recursive: true, force: true });
            })();
            return stopped;
          },
        };
      }
      if (attempt >= 3) throw new Error(`sshd did not start: ${started.log}`);
    }
  } catch (e) {
    await fs.rm(dir, { recursive: true, force: true });
    throw e;
  }
}

async function startSshd(
  config: string,
  port: number,
): Promise<{ server: ChildProcess; log: () => string } | { log: string }> {
  // -D: stay in the foreground as our child; -e: log to stderr.
  const server = spawn(SSHD, ["-D", "-e", "-f", config], { stdio: ["ignore", "pipe", "pipe"] });
  running.add(server);
  let log = "";
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      void stopServer(server).then(() => resolve({ log: `timed out; ${log}` }));
    }, 15_000);
    const onData = (chunk: Buffer) => {
      log = (log + chunk.toString("utf8")).slice(-8000);
      if (log.includes(`Server listening on 127.0.0.1 port ${port}.`)) {
        clearTimeout(timer);
        resolve({ server, log: () => log });
      }
    };
    server.stderr?.on("data", onData);
    server.stdout?.resume();
    server.once("exit", (code, signal) => {
      running.delete(server);
      clearTimeout(timer);
      resolve({ log: `exited (${code ?? signal}); ${log}` });
    });
  });
}

async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => server.once("exit", () => resolve()));
  server.kill("SIGTERM");
  const timer = setTimeout(() => server.kill("SIGKILL"), 5_000);
  await gone;
  clearTimeout(timer);
}
