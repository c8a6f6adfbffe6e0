// The common ground of the throwaway daemon instances for tests (dovecotInstance.ts,
// postfixInstance.ts) and of their smoke tests: what running a private copy of a system daemon
// beside the system's own takes, whichever daemon it is. Its commands run with a clean
// environment, its master is found through its pid file and /proc, and an instance a test
// process leaves behind dies with that process. The smoke tests prove with the same helpers that
// the system's own files stay as they were and that stop() is final.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

/**
 * The environment of every daemon command: the sbin directories (where the daemons' tools
 * are), the C locale (its messages, e.g. "Address already in use", are matched), and nothing
 * else of the test process's environment.
 */
export const CLEAN_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C" };

/** A finished command: its exit code (null when a signal ended it) and its output. */
export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command with CLEAN_ENV, `input` on its stdin, and resolves with its output when it
 * exits (SIGKILLed after `timeoutMs`). `detached` starts it in a session of its own, so it has
 * no controlling tty (doveadm then reads a password from stdin, not from the terminal).
 */
export function run(
  cmd: string,
  args: string[],
  input = "",
  opts: { detached?: boolean; timeoutMs?: number } = {},
): Promise<Ran> {
  const { detached = false, timeoutMs = 60_000 } = opts;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: CLEAN_ENV, stdio: ["pipe", "pipe", "pipe"], detached });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on("error", () => undefined); // a command that exits early: see its code
    child.stdin.end(input);
  });
}

/**
 * A new temp dir for one instance (`prefix` and random letters, under os.tmpdir()), mode 0755:
 * the daemon's unprivileged processes reach through it. Returns it as `base` with the path of
 * each of `parts` (name -> path relative to it), none of which it creates: each daemon wants
 * its own modes and owners.
 */
export async function makeInstanceDir<Part extends string>(
  prefix: string,
  parts: Record<Part, string>,
): Promise<{ base: string } & Record<Part, string>> {
  const base = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  try {
    await fs.chmod(base, 0o755);
  } catch (e) {
    await fs.rm(base, { recursive: true, force: true });
    throw e;
  }
  const paths = Object.fromEntries(
    Object.entries<string>(parts).map(([name, rel]) => [name, path.join(base, rel)]),
  ) as Record<Part, string>;
  return { ...paths, base };
}

/**
 * Whether something listens on 127.0.0.1:port (we cannot bind it): an instance looks before it
 * starts its daemon, and moves it to another free port when its own was taken meanwhile.
 */
export function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(true));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(false)));
  });
}

/** The pid in a pid file; undefined when there is none (or no sane one) yet. */
export function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** /proc/PID/stat's state and ppid (undefined when the process is gone). */
export function procStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // After the last ")": a process title may contain ") " itself.
    const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

/**
 * Alive and not a zombie: without a reaping init a killed master lingers as a zombie, which
 * process.kill(pid, 0) would still count.
 */
export function alive(pid: number): boolean {
  const st = procStat(pid);
  return st !== undefined && st.state !== "Z";
}

/** process.kill that shrugs at a process (a negative pid: a process group) already gone. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

// Instances still up when the test process exits are killed with it and their files removed:
// base dir -> the pid of its master while that runs.
const leftBehind = new Map<string, () => number | undefined>();
process.on("exit", () => {
  for (const [base, runningMaster] of leftBehind) {
    const pid = runningMaster();
    if (pid !== undefined) signal(-pid, "SIGKILL");
    rmSync(base, { recursive: true, force: true });
  }
});

/**
 * Until forgetAtExit(base): should the test process exit meanwhile, SIGKILLs the process group
 * of the instance's master (`runningMaster` gives its pid while it runs, the master leads its
 * group) and removes `base`, the instance's temp dir.
 */
export function killAtExit(base: string, runningMaster: () => number | undefined): void {
  leftBehind.set(base, runningMaster);
}

/** The instance in `base` is stopped and removed: nothing to do for it at exit. */
export function forgetAtExit(base: string): void {
  leftBehind.delete(base);
}

/** The last `lines` lines of a log file ("" before anything was logged). */
export function tail(logFile: string, lines = 200): string {
  try {
    return readFileSync(logFile, "utf8")
      .split("\n")
      .slice(-lines - 1)
      .join("\n");
  } catch {
    return "";
  }
}

/**
 * For smoke tests: every file and directory under `dir`, path -> mode, owner and sha256 of the
 * content (a link: its target's). Equal before and after, the system's files were left alone.
 */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    const p = path.join(dir, entry);
    const st = statSync(p, { throwIfNoEntry: false });
    const hash = createHash("sha256");
    if (st?.isFile()) hash.update(readFileSync(p));
    out.set(p, `${st?.mode ?? "gone"}:${st?.uid}:${hash.digest("hex")}`);
  }
  return out;
}

/**
 * For smoke tests: stops a started instance and asserts what every throwaway instance promises
 * of stop(): its master is gone (a zombie at most, until init reaps it), `base` (its
 * temp dir) is removed, running() says false, a second stop() is fine and start() then throws.
 */
export async function assertStopsForGood(
  instance: { start(): Promise<void>; stop(): Promise<void>; running(): Promise<boolean> },
  base: string,
  masterPid: number,
): Promise<void> {
  await instance.stop();
  assert.equal(existsSync(base), false);
  assert.equal(await instance.running(), false);
  const state = procStat(masterPid)?.state ?? "gone";
  assert.ok(state === "gone" || state === "Z", `master state ${state}`);
  await instance.stop();
  await assert.rejects(instance.start(), /after stop/);
}
