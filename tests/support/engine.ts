// The real Pulumi engine for tests: the toolchain built from Go modules (scripts/pulumi-toolchain),
// a local file backend in a temp dir and a passphrase secrets provider, driven through the
// Automation API with an inline program.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { constants as zlibConstants, gunzipSync } from "node:zlib";
import * as auto from "@pulumi/pulumi/automation";
import { dump } from "js-yaml";
import { REPO } from "./stackFiles";

let toolchainBin: string | undefined;

/** Builds (or finds) the engine and puts it, and Node 22, first on PATH. */
export function ensureEngine(): string {
  if (toolchainBin) return toolchainBin;
  const out = execFileSync("bash", [join(REPO, "scripts/pulumi-toolchain")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  toolchainBin = out.trim().split("\n").pop() ?? "";
  process.env.PATH = `${toolchainBin}:${join(REPO, "node_modules/.bin")}:${process.env.PATH ?? ""}`;
  process.env.PULUMI_SKIP_UPDATE_CHECK = "1";
  return toolchainBin;
}

export interface TestStack {
  stack: auto.Stack;
  /** The workspace (project) directory. */
  workDir: string;
  /** What the CLI needs to find this stack: backend, passphrase, Pulumi's home. */
  env: Record<string, string>;
  /** Sets config through `pulumi config set`'s stdin: no value, secret or not, on a command line. */
  setConfig(config: Record<string, auto.ConfigValue>): void;
  /** The same with --path, as an operator edits a list entry: `vmail:users[2].realname`. */
  setPaths(config: Record<string, auto.ConfigValue>): void;
  /** `pulumi config rm --path`, e.g. `vmail:aliases[2]`. */
  removePath(path: string): void;
  /** Every file the backend wrote (state, backups, history), as stored on disk. */
  storedState(): string;
  /** Everything the engine printed so far, for searching for secrets. */
  output: string[];
  /** The CLI's automatic logs written since the stack was made (see engineLogsSince). */
  engineLogs(): { files: number; text: string };
  /** Runs with onOutput collecting into `output`. */
  opts<T extends object>(extra?: T): T & { onOutput: (s: string) => void };
  remove(): Promise<void>;
}

export const PASSPHRASE = "e2e-passphrase-not-secret";

/** What an operator's checkout of vmail has: the program, its components and project settings. */
export const PROJECT_FILES = [
  "Pulumi.yaml",
  "index.ts",
  "components",
  "resources",
  "core",
  "providers",
  "program",
  "plugin",
  "package.json",
  "tsconfig.json",
  "tsconfig.run.json",
];

/**
 * A Pulumi project on disk: the files (or folders) of `projectDir` named in `files`, or all of
 * it, copied as they are into the workspace and run by the engine's language host as a separate
 * process, as `pulumi up` runs vmail.
 */
export interface ProjectOnDisk {
  projectDir: string;
  files?: string[];
  /** Plain (non-secret) config written as the stack file `Pulumi.<stack>.yaml`, as an operator would. */
  stackFile?: Record<string, unknown>;
  /** The passphrase the stack's secrets are encrypted with (a stack file copied in has its own). */
  passphrase?: string;
}

/** Where a test stack's state goes: a file backend in a temp dir unless a URL is given. */
export interface StateBackend {
  url: string;
  /** What the CLI needs besides (PGPASSWORD for a PostgreSQL backend: never in the URL). */
  env?: Record<string, string>;
}

/**
 * A stack with a file backend in a temp dir. `program` is an inline program (run in this process)
 * or a project on disk.
 */
export async function createTestStack(
  name: string,
  program: auto.PulumiFn | ProjectOnDisk,
  config: Record<string, auto.ConfigValue>,
  state?: StateBackend,
): Promise<TestStack> {
  ensureEngine();
  const createdAt = Date.now();
  const base = mkdtempSync(join(tmpdir(), `vmail-e2e-${name}-`));
  // The workspace lives inside the repo (git-ignored, two levels down like bench/program) so the
  // program and the dynamic-provider process resolve the repo's node_modules and vmail's modules.
  const workDir = join(REPO, ".vmail-test", name);
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  mkdirSync(join(base, "state"));
  const backend = state?.url ?? `file://${join(base, "state")}`;
  const envVars = {
    ...state?.env,
    PULUMI_BACKEND_URL: backend,
    PULUMI_CONFIG_PASSPHRASE:
      (typeof program === "function" ? undefined : program.passphrase) ?? PASSPHRASE,
    PULUMI_SKIP_UPDATE_CHECK: "1",
    PULUMI_HOME: process.env.PULUMI_HOME ?? join(process.env.HOME ?? "/root", ".pulumi"),
  };
  let stack: auto.Stack;
  if (typeof program === "function") {
    stack = await auto.LocalWorkspace.createOrSelectStack(
      { stackName: name, projectName: "vmail", program },
      {
        workDir,
        projectSettings: {
          name: "vmail",
          runtime: "nodejs",
          backend: { url: backend },
          // vmail's provider plugin, as the repo's Pulumi.yaml names it (the type has no field).
          plugins: { providers: [{ name: "vmail", path: join(REPO, "plugin") }] },
        } as auto.ProjectSettings,
        envVars,
      },
    );
  } else {
    for (const file of program.files ?? ["."]) {
      cpSync(join(program.projectDir, file), join(workDir, file), { recursive: true });
    }
    if (program.stackFile) {
      writeFileSync(join(workDir, `Pulumi.${name}.yaml`), dump({ config: program.stackFile }));
    }
    stack = await auto.LocalWorkspace.createOrSelectStack(
      { stackName: name, workDir },
      { envVars },
    );
  }
  const pulumiConfig = (args: string[], input = "") =>
    execFileSync("pulumi", ["config", ...args, "--stack", name], {
      cwd: workDir,
      input,
      env: { ...process.env, ...envVars },
      stdio: ["pipe", "ignore", "inherit"],
    });
  const setConfig = (values: Record<string, auto.ConfigValue>, path = false) => {
    for (const [key, { value, secret }] of Object.entries(values)) {
      pulumiConfig(
        ["set", ...(path ? ["--path"] : []), ...(secret ? ["--secret"] : []), key],
        value,
      );
    }
  };
  setConfig(config);
  const output: string[] = [];
  return {
    stack,
    workDir,
    env: envVars,
    setConfig,
    setPaths: (values: Record<string, auto.ConfigValue>) => setConfig(values, true),
    removePath: (path: string) => pulumiConfig(["rm", "--path", path]),
    storedState: () => readTree(join(base, "state")),
    output,
    engineLogs: () => engineLogsSince(join(envVars.PULUMI_HOME, "logs"), createdAt),
    opts: <T extends object>(extra?: T) =>
      ({ ...(extra ?? {}), onOutput: (s: string) => output.push(s) }) as T & {
        onOutput: (s: string) => void;
      },
    remove: async () => {
      await stack.workspace.removeStack(name, { force: true }).catch(() => undefined);
      rmSync(base, { recursive: true, force: true });
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/**
 * The CLI (3.25x) writes a debug log of every command to PULUMI_HOME/logs: gzip-compressed, or
 * encrypted with the stack's secrets provider once a stack operation has one. The gzip ones are
 * unpacked (one being written may end mid-stream); encrypted ones are read as stored.
 */
function engineLogsSince(dir: string, since: number): { files: number; text: string } {
  const names = readdirSync(dir).filter((f) => statSync(join(dir, f)).mtimeMs >= since - 1_000);
  const text = names.map((f) => {
    const stored = readFileSync(join(dir, f));
    if (stored[0] !== 0x1f || stored[1] !== 0x8b) return stored.toString("latin1");
    return gunzipSync(stored, { finishFlush: zlibConstants.Z_SYNC_FLUSH }).toString("utf8");
  });
  return { files: names.length, text: text.join("\n") };
}

function readTree(dir: string): string {
  return readdirSync(dir, { withFileTypes: true })
    .map((e) =>
      e.isDirectory() ? readTree(join(dir, e.name)) : readFileSync(join(dir, e.name), "utf8"),
    )
    .join("\n");
}

/**
 * Asserts that no secret (by what it is) appears in clear in the backend's own files, in the
 * engine's output or in the CLI's automatic logs, escaped or not, and that the state does hold
 * encrypted values. The Automation API's exportStack would show secrets decrypted, so the files
 * are read as stored.
 */
export function assertNoClearSecrets(t: TestStack, secrets: Record<string, string>): void {
  const state = t.storedState();
  const output = t.output.join("");
  const logs = t.engineLogs();
  assert.ok(logs.files > 0, "the CLI's automatic logs of this stack's commands were read");
  for (const [what, secret] of Object.entries(secrets)) {
    assert.ok(secret.length >= 8, `${what} is known to the test`);
    const escaped = JSON.stringify(secret).slice(1, -1);
    assert.ok(!state.includes(secret), `${what} is in the state`);
    assert.ok(!state.includes(escaped), `${what} (escaped)`);
    assert.ok(!output.includes(secret), `${what} is in the engine's output`);
    assert.ok(!logs.text.includes(secret), `${what} is in the CLI's automatic logs`);
    assert.ok(!logs.text.includes(escaped), `${what} is in the CLI's automatic logs (escaped)`);
  }
  assert.ok(state.includes("ciphertext"), "secrets are there, encrypted");
}

/** A preview that finds nothing to do, then an `up` that must change nothing. */
export async function assertNoChanges(t: TestStack, label: string): Promise<void> {
  const preview = await timed(`${label}no-op preview`, () => t.stack.preview(t.opts()));
  assert.deepEqual(Object.keys(preview.changeSummary), ["same"]);
  await timed(`${label}no-op up`, () => t.stack.up(t.opts({ expectNoChanges: true })));
}

/** Times a step and prints its duration, as the end-to-end suite reports each step. */
export async function timed<T>(step: string, work: () => Promise<T>): Promise<T> {
  const start = process.hrtime.bigint();
  try {
    return await work();
  } finally {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    console.log(`step ${step}: ${seconds.toFixed(1)} s`);
  }
}

/** The (operation, resource name) pairs a preview or update reports, without the stack itself. */
export function changedResources(events: auto.EngineEvent[]): string[] {
  const changes: string[] = [];
  for (const e of events) {
    const meta = e.resourcePreEvent?.metadata;
    if (!meta || meta.op === "same" || meta.type === "pulumi:pulumi:Stack") continue;
    // The dynamic providers' default provider holds the stack config: any config edit updates it.
    if (meta.type.startsWith("pulumi:providers:")) continue;
    if (meta.op === "read" || meta.op === "refresh") continue;
    changes.push(`${meta.op} ${meta.urn.split("::").pop() ?? ""}`);
  }
  return changes.sort();
}

/** The resources a refresh found gone from the server (it reports them as deleted outputs). */
export function goneOnRefresh(events: auto.EngineEvent[]): string[] {
  return events
    .flatMap((e) =>
      e.resOutputsEvent?.metadata.op === "delete" ? [e.resOutputsEvent.metadata.urn] : [],
    )
    .map((urn) => urn.split("::").pop() ?? "")
    .sort();
}
