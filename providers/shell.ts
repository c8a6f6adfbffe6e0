// Runs a shell script on the mail server for the dynamic providers: `sh` here, or `ssh` to the
// server with the pinned host key. Secrets travel on stdin only, never in argv or the script.

import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServerAccess } from "../spec/config";
import { shellQuote } from "../spec/scripts";

export interface ShellTarget {
  access: ServerAccess;
  /** The SSH private key (ssh access only). */
  privateKey?: string;
}

export interface ShellResult {
  stdout: string;
  stderr: string;
  code: number;
}

function run(argv: string[], stdin: string): Promise<ShellResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        code: code ?? 1,
      }),
    );
    child.stdin.on("error", () => undefined); // the script may exit before reading all of stdin
    child.stdin.end(stdin);
  });
}

/** Runs `script` with `sh -eu` on the server; `stdin` is handed to the script's standard input. */
export async function runOnServer(
  target: ShellTarget,
  script: string,
  stdin = "",
): Promise<ShellResult> {
  const access = target.access;
  if (access.kind === "local") return run(["sh", "-euc", script], stdin);
  if (!target.privateKey) throw new Error("vmail: ssh access needs vmail:sshPrivateKey");
  // The key and the pinned host key live in a private temp dir for the length of one call.
  const dir = await mkdtemp(join(tmpdir(), "vmail-ssh-"));
  try {
    const keyFile = join(dir, "key");
    const knownHosts = join(dir, "known_hosts");
    await writeFile(
      keyFile,
      target.privateKey.endsWith("\n") ? target.privateKey : `${target.privateKey}\n`,
      {
        mode: 0o600,
      },
    );
    const hostPattern = access.port === 22 ? access.host : `[${access.host}]:${access.port}`;
    await writeFile(knownHosts, `${hostPattern} ${access.hostKey}\n`, { mode: 0o600 });
    return await run(
      [
        "ssh",
        "-F",
        "/dev/null",
        "-i",
        keyFile,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${knownHosts}`,
        "-o",
        "ConnectTimeout=15",
        "-p",
        String(access.port),
        "-l",
        access.user,
        "--",
        access.host,
        `sh -euc ${shellQuote(script)}`,
      ],
      stdin,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Like runOnServer, but a non-zero exit becomes an error carrying the script's stderr. */
export async function mustRunOnServer(
  target: ShellTarget,
  what: string,
  script: string,
  stdin = "",
): Promise<string> {
  const result = await runOnServer(target, script, stdin);
  if (result.code !== 0) {
    throw new Error(`vmail: ${what} failed (exit ${result.code}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}
