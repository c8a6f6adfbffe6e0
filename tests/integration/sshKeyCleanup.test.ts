// The SSH private key never touches the disk, and nothing holding it outlives the provider
// process: against a real sshd on loopback, the key is looked for in every file under the temp
// directory and in every process's argv and environment, while a call runs and after it; a
// provider process that is SIGKILLed mid-call, or exits normally, leaves no ssh-agent behind.

import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  stat,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ServerAccess } from "../../core/config";
import { runOnServer, type ShellTarget } from "../../providers/shell";
import { startSshServer, type SshServer } from "../support/sshServer";

const ROOT = join(__dirname, "..", "..");
const SHELL_MODULE = join(ROOT, "providers", "shell.ts");

let sshd: SshServer;
let work: string;
let startMarker: string;
/** Lines of the key's base64 body that carry private material (none is in the public key). */
let secretLines: string[];

function target(): ShellTarget {
  const access: ServerAccess = {
    kind: "ssh",
    host: sshd.host,
    port: sshd.port,
    user: "root",
    hostKey: sshd.hostPublicKey,
  };
  return { access, privateKey: sshd.privateKey };
}

before(async () => {
  sshd = await startSshServer();
  work = await mkdtemp(join(tmpdir(), "vmail-keytest-"));
  startMarker = join(work, "started");
  await writeFile(startMarker, "");
  // Dated a little back, so a file written in the same clock tick still counts as newer.
  await utimes(startMarker, new Date(Date.now() - 2000), new Date(Date.now() - 2000));
  const body = sshd.privateKey
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("-----"))
    .slice(2); // the first lines hold the format header and the public key
  const publicKey = await readFile(`${sshd.privateKeyPath}.pub`, "utf8");
  secretLines = body.filter((l) => l.length >= 40 && !publicKey.includes(l));
  assert.ok(secretLines.length >= 2, "the key has distinctive private lines");
  // The test sshd keeps the client key as a file for `ssh -i`; this suite never uses it, so it
  // goes: any copy found under the temp directory from now on was written by the code under test.
  await rm(sshd.privateKeyPath);
});

after(async () => {
  await sshd?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/**
 * Regular files under `dir` (not following symlinks) that contain the key. Only files written
 * since the suite started can be copies made by the code under test, so `find -newer` picks
 * them: the temp directory of a long-lived machine holds far more than this suite could read.
 */
async function keyCopiesUnder(dir: string): Promise<string[]> {
  const listed = spawnSync("find", [dir, "-xdev", "-type", "f", "-newer", startMarker, "-print0"], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  }).stdout;
  const files = listed.split("\0").filter((f) => f !== "" && f !== startMarker);
  const found: string[] = [];
  for (const path of files) {
    const data = await readFile(path).catch(() => Buffer.alloc(0)); // removed meanwhile
    if (secretLines.some((l) => data.includes(l))) found.push(path);
  }
  return found;
}

/** Processes whose argv or environment contain the key. */
async function processesWithKey(): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir("/proc")).filter((n) => /^\d+$/.test(n))) {
    for (const what of ["cmdline", "environ"]) {
      try {
        const data = await readFile(`/proc/${pid}/${what}`);
        if (secretLines.some((l) => data.includes(l))) found.push(`${pid} (${what})`);
      } catch {
        // exited meanwhile
      }
    }
  }
  return found;
}

interface Proc {
  pid: number;
  ppid: number;
  argv: string[];
}

async function processes(): Promise<Proc[]> {
  const out: Proc[] = [];
  for (const name of (await readdir("/proc")).filter((n) => /^\d+$/.test(n))) {
    try {
      const statLine = await readFile(`/proc/${name}/stat`, "utf8");
      const fields = statLine.slice(statLine.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z") continue; // a zombie holds no memory
      const argv = (await readFile(`/proc/${name}/cmdline`, "utf8")).split("\0").slice(0, -1);
      out.push({ pid: Number(name), ppid: Number(fields[1]), argv });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

interface AgentSeen {
  pid: number;
  keeper: number;
  socket: string;
}

/** The ssh-agents `pid` started: children of its children, found without any test hook. */
async function agentsOf(pid: number): Promise<AgentSeen[]> {
  const all = await processes();
  const children = new Set(all.filter((p) => p.ppid === pid).map((p) => p.pid));
  return all
    .filter((p) => children.has(p.ppid) && p.argv[0]?.endsWith("ssh-agent"))
    .map((p) => ({ pid: p.pid, keeper: p.ppid, socket: p.argv[p.argv.indexOf("-a") + 1] }));
}

async function running(pid: number): Promise<boolean> {
  return (await processes()).some((p) => p.pid === pid);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A remote script that marks that it runs, then waits (a minute at most) for `release`. */
function waitingScript(started: string, release: string): string {
  return [
    `echo $$ > ${started}`,
    "i=0",
    `while [ ! -e ${release} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done`,
    'echo "ran as $(id -un)"',
  ].join("\n");
}

/** A provider-like node process that runs one runOnServer call; the key goes in on its stdin. */
function providerProcess(script: string): { child: ChildProcess; output: () => string } {
  const code = [
    `const { runOnServer } = require(${JSON.stringify(SHELL_MODULE)});`,
    'let input = "";',
    'process.stdin.on("data", (d) => (input += d));',
    'process.stdin.on("end", () => {',
    "  const { target, script } = JSON.parse(input);",
    "  runOnServer(target, script).then((r) => console.log(JSON.stringify(r)));",
    "});",
  ].join("\n");
  const child = spawn(process.execPath, ["--import", "tsx", "-e", code], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (b: Buffer) => (output += b.toString("utf8")));
  child.stderr?.on("data", (b: Buffer) => (output += b.toString("utf8")));
  child.stdin?.end(JSON.stringify({ target: target(), script }));
  return { child, output: () => output };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

async function assertAgentGone(agent: AgentSeen): Promise<void> {
  await waitFor("the agent to stop", async () => !(await running(agent.pid)));
  await waitFor("the keeper to stop", async () => !(await running(agent.keeper)));
  await waitFor("the socket dir to go", async () => !(await exists(dirname(agent.socket))));
}

describe("the SSH key stays off the disk", () => {
  it(
    "runs a command with the key held only by this process's agent",
    { timeout: 120_000 },
    async () => {
      const started = join(work, "started-1");
      const release = join(work, "release-1");
      const call = runOnServer(target(), waitingScript(started, release));
      let agents: AgentSeen[];
      try {
        await waitFor("the remote script", () => exists(started));

        // During the call: one agent, in a private directory; no copy of the key anywhere.
        agents = await agentsOf(process.pid);
        assert.equal(agents.length, 1, JSON.stringify(agents));
        const socketDir = dirname(agents[0].socket);
        assert.equal((await stat(socketDir)).mode & 0o777, 0o700);
        assert.equal((await stat(agents[0].socket)).mode & 0o777, 0o600);
        assert.deepEqual(await keyCopiesUnder(tmpdir()), []);
        assert.deepEqual(await processesWithKey(), []);
      } finally {
        await writeFile(release, "");
      }
      const result = await call;
      assert.equal(result.code, 0, result.stderr + sshd.log());
      assert.equal(result.stdout, "ran as root\n");

      // Later calls reuse the same agent.
      for (let i = 0; i < 3; i++) {
        const again = await runOnServer(target(), "echo again");
        assert.equal(again.stdout, "again\n", again.stderr);
      }
      assert.deepEqual(await agentsOf(process.pid), agents);

      assert.deepEqual(await keyCopiesUnder(tmpdir()), []);
      assert.deepEqual(await processesWithKey(), []);
    },
  );

  it(
    "leaves no agent, socket dir or key copy when the provider process is SIGKILLed",
    { timeout: 120_000 },
    async () => {
      const started = join(work, "started-2");
      const { child, output } = providerProcess(`echo $$ > ${started}; exec sleep 30`);
      let remoteSleep: number | undefined;
      try {
        await waitFor("the remote sleep", async () => {
          const pid = Number((await readFile(started, "utf8").catch(() => "")).trim());
          if (!pid || !(await running(pid))) return false;
          remoteSleep = pid;
          return true;
        });
        const agents = await agentsOf(child.pid!);
        assert.equal(agents.length, 1, `${JSON.stringify(agents)} ${output()}`);
        assert.deepEqual(await keyCopiesUnder(tmpdir()), []);

        child.kill("SIGKILL");
        await exited(child);
        assert.equal(child.signalCode, "SIGKILL");

        await assertAgentGone(agents[0]);
        assert.deepEqual(await keyCopiesUnder(tmpdir()), []);
        assert.deepEqual(await processesWithKey(), []);
      } finally {
        child.kill("SIGKILL");
        // The remote sleep (and with it the orphaned ssh client) is this test's to end.
        if (remoteSleep && (await running(remoteSleep))) {
          const exe = await readlink(`/proc/${remoteSleep}/exe`).catch(() => "");
          if (exe.endsWith("/sleep")) process.kill(remoteSleep, "SIGTERM");
        }
      }
    },
  );

  it(
    "stops the agent when the provider process exits on its own",
    { timeout: 120_000 },
    async () => {
      const started = join(work, "started-3");
      const release = join(work, "release-3");
      const { child, output } = providerProcess(waitingScript(started, release));
      try {
        await waitFor("the remote script", () => exists(started));
        const agents = await agentsOf(child.pid!);
        assert.equal(agents.length, 1, `${JSON.stringify(agents)} ${output()}`);

        await writeFile(release, "");
        // Nothing the agent left running keeps the process alive.
        await Promise.race([
          exited(child),
          new Promise((_, reject) =>
            setTimeout(() => reject(new Error(`no exit: ${output()}`)), 20_000),
          ),
        ]);
        assert.equal(child.exitCode, 0, output());
        assert.match(output(), /"stdout":"ran as root\\n"/);

        await assertAgentGone(agents[0]);
        assert.deepEqual(await keyCopiesUnder(tmpdir()), []);
      } finally {
        child.kill("SIGKILL");
        await writeFile(release, "");
      }
    },
  );
});
