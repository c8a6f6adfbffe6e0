// index.ts end to end under Pulumi's mocks: bad config stops the program before a single
// resource is registered; the dev stack's config runs and exports the expected outputs.

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { isSecretInput, mockOutputs, MOCK_UID, valueOf } from "../support/mocks";
import { rawConfigFor } from "../support/stackFiles";

const registered: string[] = [];

/**
 * Waits until every RPC the program started has finished. The mocks record a resource only once
 * its registration RPC runs, after the constructor returned: read before that, `registered` would
 * be empty whatever the program did.
 */
async function registrationsSettled(): Promise<void> {
  // Exported by the SDK's runtime (what its own disconnect waits for), not in its typings.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const settings = require("@pulumi/pulumi/runtime/settings") as {
    waitForRPCs: () => Promise<void>;
  };
  await settings.waitForRPCs();
}

/** CommonJS require: unlike import(), it forgets a module whose loading threw. */
function loadProgram(): typeof import("../../index") {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("../../index") as typeof import("../../index");
}

function useConfig(overrides: Record<string, unknown>, secretKeys: string[]): void {
  const { values } = rawConfigFor("dev", { pgAdminPassword: "admin-pw", ...overrides });
  const namespaced = Object.fromEntries(Object.entries(values).map(([k, v]) => [`vmail:${k}`, v]));
  pulumi.runtime.setAllConfig(
    namespaced,
    secretKeys.map((k) => `vmail:${k}`),
  );
}

before(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push(`${args.type}::${args.name}`);
        const inputs = args.inputs as Record<string, unknown>;
        return {
          id: `${args.name}-id`,
          state: { ...inputs, ...mockOutputs(args.type, args.name) },
        };
      },
      call: () => ({}),
    },
    "vmail",
    "dev",
    false,
  );
});

describe("index.ts", () => {
  it("refuses bad config before registering any resource", async () => {
    useConfig({ domains: ["example.com"], users: [{ address: "dave@example.org" }] }, [
      "pgAdminPassword",
    ]);
    assert.throws(
      loadProgram,
      /vmail:users\[0\] \(dave@example\.org\): its domain example\.org is not in vmail:domains/,
    );
    await registrationsSettled();
    assert.deepEqual(registered, []);
  });

  it("runs the dev stack and exports the uid and the generated passwords as a secret", async () => {
    useConfig({}, ["pgAdminPassword"]);
    const program = loadProgram();
    assert.equal(await valueOf(program.mailUid), MOCK_UID);
    assert.deepEqual(await valueOf(program.domains), ["example.com"]);
    assert.equal(await isSecretInput(program.generatedPasswords), true);
    assert.ok(registered.includes("vmail:index:MailUser::dave@example.com"));
    assert.ok(registered.includes("vmail:index:ServerFile::mail-root-forward-file"));
    // Only roles that log in export a password: no undefined output to warn about.
    assert.deepEqual(Object.keys(program).sort(), [
      "domains",
      "dovecotPassword",
      "generatedPasswords",
      "mailGid",
      "mailUid",
      "readerPassword",
    ]);
    assert.equal(await isSecretInput(program.dovecotPassword), true);
  });
});
