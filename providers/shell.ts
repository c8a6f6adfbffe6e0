// Runs a shell script on the mail server for the dynamic providers: `sh` here, or `ssh` to the
// server with the pinned host key. Secrets travel on stdin only, never in argv or the script.
//
// The SSH private key is never written to disk: the first ssh call of a provider process starts
// a private `ssh-agent` and hands it the key through `ssh-add -` on stdin; every later call with
// the same key reuses that agent. The agent holds the key in memory only and does not outlive
// this process, however it ends: see KEEPER.

import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServerAccess } from "../core/config";
import { shellQuote } from "../core/scripts";
import { retireHint } from "../core/retiredTargets";

export interface ShellTarget {
  access: ServerAccess;
  /** The SSH private key (ssh access only). */
  privateKey?: string;
}

export interface ShellResult {
  stdout: string;
  /** stdout as the script wrote it: a file that is not UTF-8 read back byte for byte. */
  stdoutBytes: Buffer;
  stderr: string;
  code: number;
}

function run(
  argv: string[],
  stdin: string | Buffer,
  env?: NodeJS.ProcessEnv,
): Promise<ShellResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"], env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({
        stdout: stdoutBytes.toString("utf8"),
        stdoutBytes,
        stderr: Buffer.concat(err).toString("utf8"),
        code: code ?? 1,
      });
    });
    child.stdin.on("error", () => undefined); // the script may exit before reading all of stdin
    child.stdin.end(stdin);
  });
}

/**
 * The agent's keeper, run as `sh -c KEEPER vmail-ssh-agent SOCKET DIR`. It starts
 * `ssh-agent -D` (in the foreground, as its own child) listening on SOCKET inside the private
 * DIR. Its stdin is a pipe from this process that is never written to: when this process is
 * gone, however it died (SIGKILL included), the kernel closes the pipe, the watcher reads EOF
 * and kills the agent. A TERM, HUP or INT to the keeper stops the agent too. Once the agent is
 * gone, for whatever reason, the keeper removes DIR (socket, public key, known_hosts) and exits.
 * The agent's first stdout lines, printed once it listens, tell this process its pid.
 */
const KEEPER = [
  'ssh-agent -D -a "$1" </dev/null &',
  "agent=$!",
  "exec 3<&0 0</dev/null",
  '(read -r _ <&3 || :; kill "$agent" 2>/dev/null) &',
  "watcher=$!",
  "exec 3<&-",
  `trap 'kill "$agent" 2>/dev/null' HUP INT TERM`,
  'while kill -0 "$agent" 2>/dev/null; do wait "$agent"; done',
  'kill "$watcher" 2>/dev/null',
  'rm -rf "$2"',
].join("\n");

interface Agent {
  keeper: ChildProcess;
  /** The ssh-agent's pid, once it listens. */
  pid?: number;
  /** Private (0700) directory: the agent's socket, the key's public half, known_hosts files. */
  dir: string;
  socket: string;
  /** The key's public half, for `IdentityFile` (with `IdentitiesOnly`, ssh offers only it). */
  identity: string;
  knownHosts: Map<string, Promise<string>>;
}

/** One agent per private key (by sha256) in this process, started on the first ssh call. */
const agents = new Map<string, Promise<Agent>>();
/** Agents whose keeper still runs: stopped when this process exits. */
const running = new Set<Agent>();
let exitHookInstalled = false;

function alive(agent: Agent): boolean {
  return agent.keeper.exitCode === null && agent.keeper.signalCode === null;
}

/** Stops an agent now (synchronously, so it also works in an 'exit' handler). */
function stopAgent(agent: Agent): void {
  if (alive(agent)) {
    try {
      if (agent.pid !== undefined) process.kill(agent.pid, "SIGTERM");
    } catch {
      // already gone
    }
    agent.keeper.kill("SIGTERM");
  }
  try {
    rmSync(agent.dir, { recursive: true, force: true });
  } catch {
    // the keeper is removing it too
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const agent of running) stopAgent(agent);
  });
}

function agentFor(privateKey: string): Promise<Agent> {
  const key = privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`;
  const id = createHash("sha256").update(key).digest("hex");
  const cached = agents.get(id);
  if (cached) return cached;
  const started: Promise<Agent> = startAgent(key, () => {
    if (agents.get(id) === started) agents.delete(id);
  });
  agents.set(id, started);
  // A failed start is not cached: the next call tries again.
  started.catch(() => {
    if (agents.get(id) === started) agents.delete(id);
  });
  return started;
}

async function startAgent(privateKey: string, onGone: () => void): Promise<Agent> {
  const dir = await mkdtemp(join(tmpdir(), "vmail-ssh-agent-")); // mode 0700
  const socket = join(dir, "agent.sock");
  // Its own session: a Ctrl-C meant for the Pulumi CLI's process group does not reach it.
  const keeper = spawn("sh", ["-c", KEEPER, "vmail-ssh-agent", socket, dir], {
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  const agent: Agent = {
    keeper,
    dir,
    socket,
    identity: join(dir, "id.pub"),
    knownHosts: new Map(),
  };
  running.add(agent);
  installExitHook();
  keeper.once("exit", () => {
    running.delete(agent);
    onGone();
  });
  try {
    agent.pid = await agentListening(keeper);
    const env = { ...process.env, SSH_AUTH_SOCK: socket, SSH_ASKPASS_REQUIRE: "never" };
    // The key travels on ssh-add's stdin ("-"), never in argv or a file.
    const added = await run(["ssh-add", "-q", "-"], privateKey, env);
    if (added.code !== 0) {
      throw new Error(
        `vmail: ssh-add refused vmail:sshPrivateKey (it must be an unencrypted OpenSSH or PEM ` +
          `private key): ${added.stderr.trim()}`,
      );
    }
    const listed = await run(["ssh-add", "-L"], "", env);
    if (listed.code !== 0) throw new Error(`vmail: ssh-add -L failed: ${listed.stderr.trim()}`);
    await writeFile(agent.identity, listed.stdout, { mode: 0o600 });
  } catch (e) {
    stopAgent(agent);
    throw e;
  }
  // From now on the keeper must not keep this process alive.
  keeper.unref();
  for (const stream of [keeper.stdin, keeper.stdout, keeper.stderr]) (stream as Socket).unref();
  return agent;
}

/** Resolves with the agent's pid once it listens on its socket. */
function agentListening(keeper: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(`vmail: ssh-agent did not start (${why}): ${err.trim()}`));
    };
    const timer = setTimeout(() => fail("timed out"), 15_000);
    keeper.stderr?.on("data", (b: Buffer) => {
      err = (err + b.toString("utf8")).slice(-2000);
    });
    keeper.stdout?.on("data", (b: Buffer) => {
      out += b.toString("utf8");
      const m = /Agent pid (\d+);/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    keeper.on("error", (e) => fail(e.message));
    keeper.once("exit", (code, signal) => fail(`exit ${code ?? signal}`));
  });
}

/** The agent's known_hosts file holding just `line` (public data), written once. */
function knownHostsFile(agent: Agent, line: string): Promise<string> {
  let file = agent.knownHosts.get(line);
  if (!file) {
    const path = join(
      agent.dir,
      `known_hosts-${createHash("sha256").update(line).digest("hex").slice(0, 16)}`,
    );
    file = writeFile(path, line, { mode: 0o600 }).then(() => path);
    agent.knownHosts.set(line, file);
    file.catch(() => agent.knownHosts.delete(line));
  }
  return file;
}

/** A path as an ssh_config value: quoted (spaces), with `%` escaped from token expansion. */
function configPath(path: string): string {
  if (/["\\\n\r]|\$\{/.test(path)) {
    throw new Error(`vmail: ssh cannot be given the path ${path}; point TMPDIR at a plainer one`);
  }
  return `"${path.replace(/%/g, "%%")}"`;
}

/** Runs `script` with `sh -eu` on the server; `stdin` is handed to the script's standard input. */
export async function runOnServer(
  target: ShellTarget,
  script: string,
  stdin: string | Buffer = "",
): Promise<ShellResult> {
  const access = target.access;
  if (access.kind === "local") return run(["sh", "-euc", script], stdin);
  if (!target.privateKey) throw new Error("vmail: ssh access needs vmail:sshPrivateKey");
  let agent = await agentFor(target.privateKey);
  if (!alive(agent)) agent = await agentFor(target.privateKey); // died since: a fresh one
  const hostPattern = access.port === 22 ? access.host : `[${access.host}]:${access.port}`;
  const knownHosts = await knownHostsFile(agent, `${hostPattern} ${access.hostKey}\n`);
  return run(
    [
      "ssh",
      "-F",
      "/dev/null",
      "-o",
      `IdentityAgent=${configPath(agent.socket)}`,
      "-o",
      `IdentityFile=${configPath(agent.identity)}`,
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "ForwardAgent=no",
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      `UserKnownHostsFile=${configPath(knownHosts)}`,
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
}

/** Like runOnServer, but a non-zero exit becomes an error carrying the script's stderr. */
export async function mustRunOnServer(
  target: ShellTarget,
  what: string,
  script: string,
  stdin: string | Buffer = "",
): Promise<string> {
  return (await mustSucceed(target, what, script, stdin)).stdout;
}

/** mustRunOnServer for a script whose output is bytes, not necessarily UTF-8 text. */
export async function mustRunOnServerForBytes(
  target: ShellTarget,
  what: string,
  script: string,
): Promise<Buffer> {
  return (await mustSucceed(target, what, script, "")).stdoutBytes;
}

async function mustSucceed(
  target: ShellTarget,
  what: string,
  script: string,
  stdin: string | Buffer,
): Promise<ShellResult> {
  const result = await runOnServer(target, script, stdin);
  if (result.code !== 0) {
    // ssh's own failures (the server did not answer, refused the key) exit 255.
    const hint =
      target.access.kind === "ssh" && result.code === 255 ? ` ${retireHint(target.access)}` : "";
    throw new Error(`vmail: ${what} failed (exit ${result.code}): ${result.stderr.trim()}${hint}`);
  }
  return result;
}
