// The submission service as the stack config gives it: the keys and their rules, a user's
// sendAs, and the master.cf entry's settings (TLS first, AUTH through Dovecot, the senders map).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../../core/config";
import { submissionOptions } from "../../core/submission";
import { rawConfigFor, refusalOf } from "../support/stackFiles";

const dave = { address: "dave@example.com", maildir: "dave/" };

/** The dev stack's problems with `overrides` (and no aliases). */
const refusal = (overrides: Record<string, unknown>) => refusalOf({ aliases: [], ...overrides });

describe("submission", () => {
  it("is on in the dev stack, with its self-signed pair, on port 587", () => {
    const spec = parseConfig(rawConfigFor("dev", {}));
    assert.deepEqual(spec.own.submission, {
      enabled: true,
      listen: "submission",
      certFile: "/etc/ssl/vmail-dev/submission.crt",
      keyFile: "/etc/ssl/vmail-dev/submission.key",
    });
  });

  it("refuses it without Dovecot, without a certificate or key, and a listen address that is none", () => {
    assert.match(refusal({ dovecot: false }), /vmail:submission: logins go through Dovecot's SASL/);
    assert.match(refusal({ tlsCertFile: "" }), /vmail:tlsCertFile: required with vmail:submission/);
    assert.match(refusal({ tlsKeyFile: "key.pem" }), /vmail:tlsKeyFile: "key.pem": .*absolute/);
    assert.match(
      refusal({ submissionListen: "0.0.0.0:99999" }),
      /vmail:submissionListen: .*1 to 65535/,
    );
    assert.match(
      refusal({ submissionListen: "587; rm -rf /" }),
      /vmail:submissionListen: .*host:port/,
    );
  });

  it("reads a user's sendAs (addresses and @domains) and refuses it without submission or doubled", () => {
    const spec = parseConfig(
      rawConfigFor("dev", {
        aliases: [],
        users: [{ ...dave, sendAs: ["Dave@Personal.example", "@example.net"] }],
      }),
    );
    assert.deepEqual(spec.users[0].sendAs, ["dave@personal.example", "@example.net"]);
    assert.match(
      refusal({ submission: false, users: [{ ...dave, sendAs: "x@example.net" }] }),
      /vmail:users\[0\] \(dave@example\.com\): sendAs is for the submission port/,
    );
    assert.match(
      refusal({ users: [{ ...dave, sendAs: ["x@example.net", "X@example.net"] }] }),
      /sendAs lists x@example\.net twice/,
    );
    assert.match(
      refusal({ users: [{ ...dave, sendAs: "dave@example.com" }] }),
      /sendAs names the user's own/,
    );
    assert.match(
      refusal({ users: [{ ...dave, sendAs: "not an address" }] }),
      /sendAs "not an address"/,
    );
  });

  it("requires TLS before AUTH, logs in through Dovecot, and checks senders against the map", () => {
    const options = Object.fromEntries(
      submissionOptions(
        { enabled: true, listen: "submission", certFile: "/c.pem", keyFile: "/k.pem" },
        "pgsql:/etc/postfix/pgsql/senders.cf",
      ),
    );
    assert.equal(options.smtpd_tls_security_level, "encrypt");
    assert.equal(options.smtpd_tls_auth_only, "yes");
    assert.equal(options.smtpd_sasl_type, "dovecot");
    assert.equal(options.smtpd_sender_login_maps, "pgsql:/etc/postfix/pgsql/senders.cf");
    assert.equal(options.smtpd_sender_restrictions, "reject_sender_login_mismatch");
    assert.equal(options.smtpd_relay_restrictions, "permit_sasl_authenticated,reject");
    for (const value of Object.values(options))
      assert.doesNotMatch(value, /\s/, "master.cf -o values have no spaces");
  });
});
