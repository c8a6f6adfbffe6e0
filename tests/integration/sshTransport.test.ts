// The SSH side of vmail's server access, against a real sshd on loopback: scripts and files go
// through with the pinned host key, the file content travels on stdin, a wrong pin is refused.

import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ServerAccess } from "../../core/config";
import { providerContext } from "../../providers/context";
import { serverFileProvider } from "../../providers/serverFile";
import { runOnServer, type ShellTarget } from "../../providers/shell";
import { startSshServer, type SshServer } from "../support/sshServer";

let sshd: SshServer;
let dir: string;

function target(hostKey = sshd.hostPublicKey): ShellTarget {
  const access: ServerAccess = {
    kind: "ssh",
    host: sshd.host,
    port: sshd.port,
    user: "root",
    hostKey,
  };
  return { access, privateKey: sshd.privateKey };
}

before(async () => {
  sshd = await startSshServer();
  dir = await mkdtemp(join(tmpdir(), "vmail-ssh-files-"));
});

after(async () => {
  await sshd?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("server access over SSH", () => {
  it("runs a script with stdin on the server", async () => {
    const result = await runOnServer(
      target(),
      'read -r line; echo "got $line as $(id -un)"',
      "hello\n",
    );
    assert.equal(result.code, 0, result.stderr + sshd.log());
    assert.equal(result.stdout, "got hello as root\n");
  });

  it("refuses a server whose host key is not the pinned one", async () => {
    const other =
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINXzElcUX6xwe3jKo50/fO6h43ELLYiGR/QtpG9kSEmX";
    const result = await runOnServer(target(other), "echo should-not-run");
    assert.notEqual(result.code, 0);
    assert.ok(!result.stdout.includes("should-not-run"));
    assert.match(result.stderr, /host key/i);
  });

  it("writes, reads back and removes a ServerFile through SSH", async () => {
    providerContext.use({
      shell: target(),
      db: { settings: {} as never, adminPassword: "" },
    });
    const files = serverFileProvider as Required<typeof serverFileProvider>;
    const path = join(dir, "pgsql", "aliases.cf");
    const content = "password = s3cr3t'\"$(x)\n";
    const ownership = { mode: "0640", owner: "root", group: "root" };
    const created = await files.create({ path, content, ownership });
    assert.equal(await readFile(path, "utf8"), content);
    assert.equal((await stat(path)).mode & 0o777, 0o640);
    const read = await files.read(path, created.outs as never);
    assert.equal(read.id, path);
    await files.delete(path, created.outs as never);
    await assert.rejects(stat(path));
  });
});
