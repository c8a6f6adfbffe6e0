// What Pulumi keeps of a provider in the state is a loader: it must load the providers of the
// project it runs in (found from the working directory), and nothing named by a path it carries.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { providerShim } from "../../resources/providerShim";
import { REPO } from "../support/stackFiles";

describe("the provider shim", () => {
  const start = process.cwd();
  const outside = mkdtempSync(join(tmpdir(), "vmail-shim-"));
  after(() => {
    process.chdir(start);
    rmSync(outside, { recursive: true, force: true });
  });

  it("loads the providers of the project it runs in, from any folder below it", async () => {
    process.chdir(join(REPO, "tests", "unit"));
    const diff = await providerShim("pgReload").diff?.("id", { trigger: "a" }, { trigger: "b" });
    assert.deepEqual(diff, { changes: true });
  });

  it("refuses to run outside a project, whatever the state's provider text was made from", async () => {
    process.chdir(outside);
    await assert.rejects(
      Promise.resolve().then(() => providerShim("pgReload").diff?.("id", {}, {})),
      /no providers\/index\.ts at or above/,
    );
  });

  it("carries no path of the machine that wrote it, as Pulumi serializes it", async () => {
    const shim = providerShim("domain");
    // What the SDK stores in each resource's __provider: the closure with what it captures.
    const { text } = await pulumi.runtime.serializeFunction(() => shim);
    assert.ok(text.includes("providers/index.ts") || text.includes('"providers"'), text);
    assert.ok(!text.includes(REPO), "the stored loader names no directory of this machine");
  });
});

describe("the providers the shim serves", () => {
  it("answer every method the shim may call, each of them (a provider without one is refused when the module loads)", async () => {
    const { PROVIDERS } = await import("../../providers/index");
    const methods = ["configure", "check", "create", "diff", "update", "read", "delete"];
    const missing = Object.entries(PROVIDERS).flatMap(([name, provider]) =>
      methods
        .filter((m) => typeof (provider as Record<string, unknown>)[m] !== "function")
        .map((m) => `${name}.${m}`),
    );
    assert.deepEqual(missing, []);
  });
});
