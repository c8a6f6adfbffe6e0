// program/quietSdkDebug.ts: the SDK's per-resource debug messages are dropped in the program, and
// VMAIL_SDK_DEBUG=1 keeps them. Each case runs in a fresh node process, as the program does: the
// module patches the SDK's shared log module once, when it is loaded.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { REPO } from "../support/stackFiles";

/** Whether, after loading the module, the SDK's own modules still reach the original debug. */
function debugKept(env: NodeJS.ProcessEnv): boolean {
  const script = [
    'const log = require("@pulumi/pulumi/log");',
    "const original = log.debug;",
    `require(${JSON.stringify(join(REPO, "program/quietSdkDebug.ts"))});`,
    // The SDK's resource registration reads it from the same module object.
    'const seen = require("@pulumi/pulumi/log").debug;',
    "process.stdout.write(String(seen === original));",
  ].join("\n");
  const out = execFileSync(process.execPath, ["--import", "tsx", "-e", script], {
    cwd: REPO,
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  return out.trim() === "true";
}

describe("the SDK's debug messages", () => {
  it("are dropped by default: the SDK's modules see vmail's no-op", () => {
    assert.equal(debugKept({ VMAIL_SDK_DEBUG: "" }), false);
  });

  it("are kept with VMAIL_SDK_DEBUG=1", () => {
    assert.equal(debugKept({ VMAIL_SDK_DEBUG: "1" }), true);
  });
});
