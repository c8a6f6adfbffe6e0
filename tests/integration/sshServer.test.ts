// Smoke test of tests/support/sshServer.ts: the real OpenSSH client against our sshd,
// with the host key pinned (StrictHostKeyChecking=yes).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { startSshServer, type SshServer } from "../support/sshServer";

void describe("throwaway sshd", () => {
  let server: SshServer;
  let work: string;

  before(async () => {
    server = await startSshServer();
    work = await fs.mkdtemp(path.join(os.tmpdir(), "vmail-ssh-client-"));
  });
  after(async () => {
    await server?.stop();
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  /** Runs `ssh ... root@127.0.0.1 <command>` with only the options given here. */
  async function ssh(opts: { knownHosts: string; keyPath?: string; command?: string }) {
    const knownHostsFile = path.join(work, `known_hosts_${Math.random().toString(36).slice(2)}`);
    await fs.writeFile(knownHostsFile, `${opts.knownHosts}\n`);
    const args = [
      "-F",
      "/dev/null", // no user or system ssh_config
      "-i",
      opts.keyPath ?? server.privateKeyPath,
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "IdentityAgent=none",
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      `UserKnownHostsFile=${knownHostsFile}`,
      "-o",
      "GlobalKnownHostsFile=/dev/null",
      "-o",
      "ConnectTimeout=10",
      "-p",
      String(server.port),
      `${server.user}@${server.host}`,
      opts.command ?? "true",
    ];
    return spawnSync("ssh", args, {
      encoding: "utf8",
      timeout: 30_000,
      stdio: ["ignore", "pipe", "pipe"],
    });
  }

  void it("lets root in with the client key when the pinned host key matches", async () => {
    const r = await ssh({ knownHosts: server.knownHostsLine });
    assert.equal(r.status, 0, `ssh failed: ${r.stderr}\n${server.log()}`);
    const who = await ssh({ knownHosts: server.knownHostsLine, command: "id -un" });
    assert.equal(who.stdout.trim(), "root");
  });

  void it("accepts the private key given as a string (written to a 0600 file)", async () => {
    const keyPath = path.join(work, "key_from_string");
    await fs.writeFile(keyPath, server.privateKey, { mode: 0o600 });
    const r = await ssh({ knownHosts: server.knownHostsLine, keyPath });
    assert.equal(r.status, 0, r.stderr);
    assert.match(server.privateKey, /^-{5}BEGIN OPENSSH PRIVATE KEY-{5}\n/);
    assert.match(server.hostPublicKey, /^ssh-ed25519 [A-Za-z0-9+/]+=*$/);
  });

  void it("fails host key verification against a wrongly pinned key", async () => {
    const other = path.join(work, "other_host_key");
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    const otherPub = (await fs.readFile(`${other}.pub`, "utf8")).trim().split(" ").slice(0, 2);
    const r = await ssh({ knownHosts: `[127.0.0.1]:${server.port} ${otherPub.join(" ")}` });
    assert.equal(r.status, 255);
    assert.match(r.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  void it("fails with no pinned key at all (nothing is trusted on first use)", async () => {
    const r = await ssh({ knownHosts: "" });
    assert.equal(r.status, 255);
    assert.match(r.stderr, /Host key verification failed/);
  });

  void it("refuses a client key that is not authorized", async () => {
    const stranger = path.join(work, "stranger");
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", stranger]);
    const r = await ssh({ knownHosts: server.knownHostsLine, keyPath: stranger });
    assert.equal(r.status, 255);
    assert.match(r.stderr, /Permission denied \(publickey\)/);
  });

  void it("stop() ends sshd and removes its keys", async () => {
    const own = await startSshServer();
    const keyDir = path.dirname(own.privateKeyPath);
    assert.ok(existsSync(keyDir));
    await own.stop();
    assert.equal(existsSync(keyDir), false);
    await own.stop();
    const r = spawnSync(
      "ssh",
      ["-F", "/dev/null", "-o", "BatchMode=yes", "-p", String(own.port), "root@127.0.0.1", "true"],
      {
        encoding: "utf8",
      },
    );
    assert.equal(r.status, 255);
    assert.match(r.stderr, /Connection refused/);
  });
});
