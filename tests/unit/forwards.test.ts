// Forwarding as a user's entry gives it: an alias of the user's own address, to itself (the copy
// kept) and to the forward targets, refused where it would clash, point nowhere, or loop.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig, type AliasSpec } from "../../core/config";
import { rawConfigFor, refusalOf } from "../support/stackFiles";

const dave = { address: "dave@example.com", maildir: "dave/" };
const erin = { address: "erin@example.com", maildir: "erin/" };

const aliasesOf = (overrides: Record<string, unknown>): AliasSpec[] =>
  parseConfig(rawConfigFor("dev", { aliases: [], ...overrides })).aliases;

/** The dev stack's problems with `overrides` (and no aliases). */
const refusal = (overrides: Record<string, unknown>) => refusalOf({ aliases: [], ...overrides });

describe("forwarding", () => {
  it("forwards a copy by an alias of the user's own address, to itself first", () => {
    const aliases = aliasesOf({
      users: [{ ...dave, forwardTo: ["Dave@Elsewhere.org", "erin@example.com"] }, erin],
    });
    assert.deepEqual(
      aliases.map((a) => [a.address, a.targets]),
      [["dave@example.com", ["dave@example.com", "dave@elsewhere.org", "erin@example.com"]]],
    );
  });

  it("keeps no copy with keepCopy: false", () => {
    const aliases = aliasesOf({
      users: [{ ...dave, forwardTo: "dave@elsewhere.org", keepCopy: false }],
    });
    assert.deepEqual(aliases[0].targets, ["dave@elsewhere.org"]);
  });

  it("stands in for the catch-all shield of a mailbox it forwards", () => {
    const aliases = aliasesOf({
      users: [{ ...dave, forwardTo: "dave@elsewhere.org" }, erin],
      aliases: [{ address: "@example.com", to: "erin@example.com" }],
    });
    const dave_ = aliases.filter((a) => a.address === "dave@example.com");
    assert.equal(dave_.length, 1);
    assert.deepEqual(dave_[0].targets, ["dave@example.com", "dave@elsewhere.org"]);
  });

  it("refuses a clash with an alias entry, a hosted target that does not exist, itself, and a loop", () => {
    assert.match(
      refusal({
        users: [{ ...dave, forwardTo: "x@elsewhere.org" }],
        aliases: [{ address: "dave@example.com", to: "dave@example.com" }],
      }),
      /dave@example\.com: forwardTo: vmail:aliases has an entry for this address too/,
    );
    assert.match(
      refusal({ users: [{ ...dave, forwardTo: "nobody@example.com" }] }),
      /forwardTo: nobody@example\.com is in a hosted domain but is neither a user nor an alias/,
    );
    assert.match(
      refusal({ users: [{ ...dave, forwardTo: "DAVE@example.com" }] }),
      /vmail:users\[0\] \(dave@example\.com\): forwardTo names the user's own address/,
    );
    assert.match(
      refusal({ users: [{ ...dave, keepCopy: false }] }),
      /keepCopy is about forwarded mail, and the user has no forwardTo/,
    );
    assert.match(
      refusal({ users: [{ ...dave, forwardTo: "not an address" }] }),
      /vmail:users\[0\] \(dave@example\.com\): forwardTo "not an address"/,
    );
    assert.match(
      refusal({
        users: [
          { ...dave, forwardTo: "erin@example.com" },
          { ...erin, forwardTo: "dave@example.com" },
        ],
      }),
      /forwardTo makes a loop: (dave|erin)@example\.com -> /,
    );
  });
});
