// The project's own stack files under the real CLI: it validates them against Pulumi.yaml's config
// schema before the program runs, so a schema the CLI refuses fails here, then previews the whole
// program. It needs the plugins in Pulumi's cache and fails without them, unless the machine says
// it cannot have them (support/plugins.ts): then the preview must fail for that reason alone.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { createTestStack, PROJECT_FILES } from "../support/engine";
import { missingPlugins, pluginGate, PLUGIN_PACKAGES } from "../support/plugins";
import { REPO } from "../support/stackFiles";

/** Runs `pulumi preview` on a copy of the project with the named stack file, as shipped. */
async function previewShippedStack(
  stack: "dev" | "prod",
  passphrase: string | undefined,
  secrets: Record<string, string>,
): Promise<void> {
  const t = await createTestStack(
    stack,
    { projectDir: REPO, files: [...PROJECT_FILES, `Pulumi.${stack}.yaml`], passphrase },
    Object.fromEntries(Object.entries(secrets).map(([k, value]) => [k, { value, secret: true }])),
  );
  try {
    const preview = t.stack.preview(t.opts());
    if (missingPlugins().length === 0) {
      const result = await preview;
      assert.ok((result.changeSummary.create ?? 0) > 20, JSON.stringify(result.changeSummary));
    } else {
      // Allowed to lack the plugins: they are loaded after the config is validated, so the
      // preview must get that far and fail on a missing plugin, and on nothing else.
      const error = await preview.then(
        () => assert.fail("a preview without the plugins cannot succeed"),
        (e: Error) => e,
      );
      assert.doesNotMatch(error.message, /validating stack config/);
      const plugin = new RegExp(`pulumi-resource-(${PLUGIN_PACKAGES.join("|")})|plugin`, "i");
      assert.match(error.message, plugin, "the preview failed on a missing plugin");
    }
  } finally {
    await t.remove();
  }
}

const PLUGINS = pluginGate("e2e: the shipped stack files' previews");

describe("the shipped stack files under the CLI", () => {
  before(() => PLUGINS.assertPresent());

  it("Pulumi.dev.yaml previews with its documented dev passphrase", async () => {
    // What npm run dev:up makes first: the submission service's self-signed pair.
    execFileSync("bash", [join(REPO, "scripts/dev-tls")], { stdio: "pipe" });
    await previewShippedStack("dev", "vmail-dev", {});
  });

  it("Pulumi.prod.yaml previews once its two secrets are set as the README says", async () => {
    await previewShippedStack("prod", undefined, {
      "vmail:pgAdminPassword": "a-prod-admin-password",
      "vmail:sshPrivateKey": "stand-in for the deploy key (a preview never connects)",
    });
  });
});

describe("bad config under the CLI", () => {
  it("is refused before anything is registered, its problems printed once and plainly", async () => {
    const t = await createTestStack(
      "bad",
      {
        projectDir: REPO,
        files: PROJECT_FILES,
        stackFile: {
          "vmail:protect": false,
          "vmail:mailboxbase": "/srv/mail",
          "vmail:domains": ["example.com"],
          "vmail:users": [{ address: "dave@example.com", maildir: "../dave/" }],
          "vmail:aliases": [{ address: "d@example.com", to: "dave@example.com" }],
        },
      },
      { "vmail:pgAdminPassword": { value: "not-used", secret: true } },
    );
    try {
      const error = await t.stack.preview(t.opts()).then(
        () => assert.fail("the preview must fail"),
        (e: Error) => e,
      );
      // What the engine printed (the error's message repeats it).
      const output = t.output.join("");
      const count = (re: RegExp) => output.match(re)?.length ?? 0;
      assert.match(error.message, /the stack config has 2 problem\(s\)/);
      assert.equal(count(/- vmail:mailboxbase: unknown key; did you mean vmail:mailboxBase\?/g), 1);
      assert.equal(count(/- vmail:users\[0\] \(dave@example\.com\): maildir "\.\.\/dave\/"/g), 1);
      assert.doesNotMatch(output, /\n\s+at .+:\d+:\d+/, "no stack trace");
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(output, /\u001b\[/, "no raw colour codes");
      assert.doesNotMatch(output, /vmail:aliases\[0\]/, "the alias to the refused user is fine");
    } finally {
      await t.remove();
    }
  });
});
