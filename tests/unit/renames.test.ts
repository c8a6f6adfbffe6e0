// A rename as the stack config gives it: the user's entry names its old address in `formerly`,
// and the program registers the user under its new name with the old one as an alias, so the
// engine shows an update of the same resource. Clashing renames are refused by name.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../../core/config";
import { MockEngine } from "../support/mocks";
import { rawConfigFor, refusalOf } from "../support/stackFiles";

const VMAIL_TYPE = "vmail:index:";

/** The dev stack's problems with `overrides` (and no aliases). */
const refusal = (overrides: Record<string, unknown>) => refusalOf({ aliases: [], ...overrides });

describe("renames", () => {
  it("registers the renamed user under its new name, aliased to the old one", async () => {
    const engine = new MockEngine();
    await engine.install();
    const spec = parseConfig(
      rawConfigFor("dev", {
        aliases: [],
        users: [{ address: "franklin@example.com", formerly: "Frank@example.com" }],
      }),
    );
    assert.equal(spec.users[0].formerly, "frank@example.com");
    await engine.registerMailServer(spec);
    const user = engine.find(`${VMAIL_TYPE}MailUser`, "franklin@example.com");
    // Also under the type it had as a dynamic resource, so a stack written before vmail's
    // provider plugin takes the rename and the move to the plugin in one run.
    const before = "pulumi-nodejs:dynamic/vmail:MailUser";
    assert.deepEqual(user.aliases, [
      { name: "frank@example.com" },
      { name: "frank@example.com", type: before },
      { type: before },
    ]);
  });

  it("refuses a rename from itself, from a current user's address, twice from one, or from no address", () => {
    assert.match(
      refusal({ users: [{ address: "dave@example.com", formerly: "DAVE@example.com" }] }),
      /vmail:users\[0\] \(dave@example\.com\): formerly is the user's address itself/,
    );
    assert.match(
      refusal({
        users: [
          { address: "dave@example.com" },
          { address: "erin@example.com", formerly: "dave@example.com" },
        ],
      }),
      /erin@example\.com: formerly dave@example\.com: that address is another user's now/,
    );
    assert.match(
      refusal({
        users: [
          { address: "a@example.com", formerly: "old@example.com" },
          { address: "b@example.com", formerly: "old@example.com" },
        ],
      }),
      /b@example\.com: formerly old@example\.com: a@example\.com is renamed from it too/,
    );
    assert.match(
      refusal({ users: [{ address: "a@example.com", formerly: "nobody" }] }),
      /vmail:users\[0\] \(a@example\.com\): formerly "nobody"/,
    );
  });
});
