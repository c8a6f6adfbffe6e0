// Quotas as the stack config gives them: sizes in Dovecot's 1024-based units, a domain's default
// that a user's own quota (or "none") overrides, and every bad value refused by name.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../../core/config";
import { parseSize } from "../../core/quotas";
import { rawConfigFor, refusalOf } from "../support/stackFiles";

const dave = { address: "dave@example.com", maildir: "dave/" };
const erin = { address: "erin@example.com", maildir: "erin/" };

function quotasOf(overrides: Record<string, unknown>): Record<string, number | null> {
  const spec = parseConfig(rawConfigFor("dev", overrides));
  return Object.fromEntries(spec.users.map((u) => [u.address, u.quota]));
}

/** The dev stack's problems with `overrides`. */
const refusal = (overrides: Record<string, unknown>) => refusalOf(overrides);

describe("quotas", () => {
  it("reads sizes in 1024-based units, from 1K, and nothing else", () => {
    assert.equal(parseSize("1K"), 1024);
    assert.equal(parseSize("500M"), 500 * 1024 ** 2);
    assert.equal(parseSize("2g"), 2 * 1024 ** 3);
    assert.equal(parseSize("1T"), 1024 ** 4);
    assert.equal(parseSize("4096"), 4096);
    for (const bad of ["", "0", "1023", "1.5G", "-1G", "2 GB", "2GB", "G", "012M", "none"]) {
      assert.equal(parseSize(bad), undefined, bad);
    }
  });

  it("gives each user their own quota, else their domain's default, else none; 'none' lifts the default", () => {
    const quotas = quotasOf({
      users: [
        { ...dave, quota: "2G" },
        { ...erin, quota: "none" },
        { address: "fay@example.com", maildir: "fay/" },
      ],
      domainQuotas: [{ domain: "example.com", quota: "1G" }],
    });
    assert.deepEqual(quotas, {
      "dave@example.com": 2 * 1024 ** 3,
      "erin@example.com": null,
      "fay@example.com": 1024 ** 3,
    });
    assert.deepEqual(quotasOf({ users: [dave] }), { "dave@example.com": null });
  });

  it("refuses a bad size, a domain not hosted, a domain twice, and quotas without Dovecot, by name", () => {
    assert.match(
      refusal({ users: [{ ...dave, quota: "2GB" }] }),
      /vmail:users\[0\] \(dave@example\.com\): quota "2GB": a quota is a whole number/,
    );
    assert.match(
      refusal({ users: [dave], domainQuotas: [{ domain: "example.org", quota: "1G" }] }),
      /vmail:domainQuotas\[0\] \(example\.org\): example\.org is not in vmail:domains/,
    );
    assert.match(
      refusal({
        users: [dave],
        domainQuotas: [
          { domain: "example.com", quota: "1G" },
          { domain: "EXAMPLE.com", quota: "2G" },
        ],
      }),
      /vmail:domainQuotas\[1\] \(example\.com\): example\.com has a quota already/,
    );
    assert.match(
      refusal({ users: [dave], domainQuotas: [{ domain: "example.com", quota: "lots" }] }),
      /vmail:domainQuotas\[0\] \(example\.com\): quota "lots"/,
    );
    assert.match(
      refusal({ users: [dave], domainQuotas: [{ domain: "example.com", size: "1G" }] }),
      /vmail:domainQuotas\[0\]: an object \{domain, quota\}/,
    );
    assert.match(
      refusal({ dovecot: false, users: [{ ...dave, quota: "1G" }] }),
      /quota: quotas are enforced by Dovecot, and vmail:dovecot is false/,
    );
    assert.match(
      refusal({
        dovecot: false,
        users: [dave],
        domainQuotas: [{ domain: "example.com", quota: "1G" }],
      }),
      /vmail:domainQuotas: quotas are enforced by Dovecot/,
    );
  });
});
