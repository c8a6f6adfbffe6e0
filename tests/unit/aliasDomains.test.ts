// Alias domains as the stack config gives them: each a new domain whose target is hosted, turned
// into a transports row that names the target, suspended with it; every bad entry refused by name.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../../core/config";
import { rawConfigFor, refusalOf } from "../support/stackFiles";

/** The dev stack's problems with `overrides`. */
const refusal = (overrides: Record<string, unknown>) => refusalOf(overrides);

describe("alias domains", () => {
  it("reads each as a domain and a hosted target, folded to lower case", () => {
    const spec = parseConfig(
      rawConfigFor("dev", { aliasDomains: [{ domain: "Example.ORG.", target: "example.com" }] }),
    );
    assert.deepEqual(spec.aliasDomains, [{ domain: "example.org", target: "example.com" }]);
  });

  it("refuses a hosted domain, a target not hosted, a domain twice, a bad name and a bad shape", () => {
    assert.match(
      refusal({ aliasDomains: [{ domain: "example.com", target: "example.com" }] }),
      /vmail:aliasDomains\[0\] \(example\.com\): example\.com is in vmail:domains/,
    );
    assert.match(
      refusal({ aliasDomains: [{ domain: "example.org", target: "example.net" }] }),
      /vmail:aliasDomains\[0\] \(example\.org\): its target example\.net is not in vmail:domains/,
    );
    assert.match(
      refusal({
        aliasDomains: [
          { domain: "example.org", target: "example.com" },
          { domain: "EXAMPLE.org", target: "example.com" },
        ],
      }),
      /vmail:aliasDomains\[1\] \(example\.org\): example\.org is there twice/,
    );
    assert.match(
      refusal({ aliasDomains: [{ domain: "localhost", target: "example.com" }] }),
      /vmail:aliasDomains\[0\] \(localhost\): "localhost": a domain needs at least two labels/,
    );
    assert.match(
      refusal({ aliasDomains: [{ domain: "example.org", to: "example.com" }] }),
      /vmail:aliasDomains\[0\]: an object \{domain, target\}/,
    );
  });

  it("takes no user or alias of its own: those belong to the target", () => {
    assert.match(
      refusal({
        aliasDomains: [{ domain: "example.org", target: "example.com" }],
        users: [{ address: "zed@example.org" }],
      }),
      /zed@example\.org.*its domain example\.org is not in vmail:domains/,
    );
  });
});
