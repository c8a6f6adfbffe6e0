// The project's own stack files under the real CLI: it validates them against Pulumi.yaml's config
// schema before the program runs, so a schema the CLI refuses fails here. With the plugins in
// Pulumi's cache, the whole preview runs too; without them, only the CLI's validation is judged.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createTestStack, PROJECT_FILES } from "../support/engine";
import { missingPlugins } from "../support/plugins";
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
    const missing = missingPlugins();
    const preview = t.stack.preview(t.opts());
    if (missing.length === 0) {
      const result = await preview;
      assert.ok((result.changeSummary.create ?? 0) > 20, JSON.stringify(result.changeSummary));
    } else {
      // The plugins are loaded after the config is validated: the failure must be theirs.
      console.error(
        `stack ${stack}: full preview not judged, plugins missing: ${missing.join("; ")}`,
      );
      const error = await preview.then(
        () => undefined,
        (e: Error) => e,
      );
      assert.doesNotMatch(String(error?.message), /validating stack config/);
    }
  } finally {
    await t.remove();
  }
}

describe("the shipped stack files under the CLI", () => {
  it("Pulumi.dev.yaml previews with its documented dev passphrase", async () => {
    await previewShippedStack("dev", "vmail-dev", {});
  });

  it("Pulumi.prod.yaml previews once its two secrets are set as the README says", async () => {
    await previewShippedStack("prod", undefined, {
      "vmail:pgAdminPassword": "a-prod-admin-password",
      "vmail:sshPrivateKey": "stand-in for the deploy key (a preview never connects)",
    });
  });
});
