// Mail users sending mail, judged by a real client (Python's smtplib) against a private Postfix
// and Dovecot set up by vmail's own scripts and providers: the submission service in master.cf,
// STARTTLS before AUTH, SASL through Dovecot, and the senders map deciding who may send as whom.
// Port 25 stays closed to relaying.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type * as pulumi from "@pulumi/pulumi";
import { mapFilePath } from "../../core/postfixConfig";
import type { PostfixServiceInputs, PostfixServiceOutputs } from "../../core/providerInputs";
import { submissionOptions, type SubmissionSettings } from "../../core/submission";
import { aliasProvider } from "../../providers/rows";
import { postfixServiceProvider } from "../../providers/postfixService";
import { delivered } from "../support/mailWorld";
import { startMailServer, type MailServerFixture } from "../support/mailServerFixture";
import { freePort } from "../support/ports";
import { submit, type Submission } from "../support/submissionClient";
import { selfSignedPair } from "../support/tls";

type Provider = Required<pulumi.dynamic.ResourceProvider>;
const services = postfixServiceProvider as Provider;

let m: MailServerFixture;
let port: number;
let inputs: PostfixServiceInputs;

/** Waits until something listens on 127.0.0.1:port (Postfix's master opens it on reload). */
async function listening(p: number): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const s = net.createConnection({ host: "127.0.0.1", port: p });
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (open) return true;
    await sleep(100);
  }
  return false;
}

const as = (user: string, rest: Omit<Submission, "port" | "user" | "password">) =>
  submit({ port, user, password: m.passwords.get(user), ...rest });
const note = (subject: string) => `Subject: ${subject}\n\n${subject}\n`;

before(async () => {
  m = await startMailServer("vmailsubm", true);
  await m.addUser("dave@example.com", { send_as: "dave@personal.example,@example.net" });
  await m.addUser("erin@example.com");
  await m.addUser("kept@example.com", { login: false });
  await aliasProvider.create?.({
    row: { alias: "team@example.com", email: "dave@example.com, erin@example.com", stack: "o/p/s" },
    target: m.target,
  });
  // A server that sends mail out (this machine's Postfix is "local only": every outside address
  // goes to the error transport, refused at RCPT whoever asks).
  execFileSync("postconf", [
    "-c",
    m.postfix.configDir,
    "-e",
    "default_transport=smtp",
    "relay_transport=relay",
  ]);
  port = await freePort();
  const settings: SubmissionSettings = {
    enabled: true,
    listen: `127.0.0.1:${port}`,
    ...selfSignedPair(m.dir),
  };
  inputs = {
    server: { kind: "local" },
    configDir: m.postfix.configDir,
    service: settings.listen,
    options: submissionOptions(settings, `pgsql:${mapFilePath(m.mapsDir, "senders")}`),
    certFile: settings.certFile,
    keyFile: settings.keyFile,
  };
  assert.deepEqual((await services.check(undefined, inputs)).failures, []);
  await services.create(inputs);
  assert.ok(await listening(port), `the submission port listens\n${m.postfix.log()}`);
});

after(async () => {
  await m?.stop();
});

describe("the submission service", () => {
  it("takes AUTH after STARTTLS with the generated password; the mail is delivered and read", async () => {
    const sent = await as("dave@example.com", {
      from: "dave@example.com",
      to: "erin@example.com",
      message: note("from-dave"),
    });
    assert.deepEqual(sent, { ok: true });
    assert.ok(await delivered(m.postfix, m.mailboxBase, "erin/", "from-dave"), m.postfix.log());
    const subjects = await m.dovecot.inboxSubjects(
      "erin@example.com",
      m.passwords.get("erin@example.com")!,
    );
    assert.ok(subjects.includes("from-dave"), subjects.join(", "));
  });

  it("refuses AUTH before STARTTLS, a wrong password, and a user kept from logging in", async () => {
    const early = await as("dave@example.com", {
      authBeforeStartTls: true,
      from: "dave@example.com",
      to: "erin@example.com",
      message: "",
    });
    assert.equal(early.ok, false);
    assert.match(JSON.stringify(early), /"code":530.*STARTTLS/);
    const wrong = await submit({
      port,
      user: "dave@example.com",
      password: "not his password",
      from: "dave@example.com",
      to: "erin@example.com",
      message: note("wrong"),
    });
    assert.deepEqual(
      [wrong.ok, !wrong.ok && wrong.stage, !wrong.ok && wrong.code],
      [false, "auth", 535],
    );
    const kept = await as("kept@example.com", {
      from: "kept@example.com",
      to: "erin@example.com",
      message: note("kept"),
    });
    assert.deepEqual([kept.ok, !kept.ok && kept.code], [false, 535]);
  });

  it("lets a user send as an alias that delivers to them and as their sendAs; relays anywhere", async () => {
    assert.deepEqual(
      await as("dave@example.com", {
        from: "team@example.com",
        to: "erin@example.com",
        message: note("as-team"),
      }),
      { ok: true },
    );
    assert.ok(await delivered(m.postfix, m.mailboxBase, "erin/", "as-team"), m.postfix.log());
    for (const from of ["dave@personal.example", "anyone@example.net", "dave@example.org"]) {
      const r = await as("dave@example.com", {
        from,
        to: "someone@elsewhere.example",
        message: "",
        rcptOnly: true,
      });
      assert.deepEqual(r, { ok: true }, `dave as ${from}\n${m.postfix.log()}`);
    }
  });

  it("refuses another user's address, an alias that is not theirs, and an address nobody owns", async () => {
    for (const [user, from] of [
      ["dave@example.com", "erin@example.com"],
      ["erin@example.com", "dave@personal.example"],
      ["erin@example.com", "stranger@elsewhere.example"],
    ]) {
      const r = await as(user, {
        from,
        to: "someone@elsewhere.example",
        message: "",
        rcptOnly: true,
      });
      assert.equal(r.ok, false, `${user} as ${from}`);
      assert.match(
        JSON.stringify(r),
        /"code":553.*Sender address rejected: not owned by user/,
        `${user} as ${from}: ${JSON.stringify(r)}`,
      );
    }
    const team = await as("erin@example.com", {
      from: "team@example.com",
      to: "dave@example.com",
      message: "",
      rcptOnly: true,
    });
    assert.deepEqual(team, { ok: true }, "erin is in team@ too");
  });

  it("keeps port 25 closed to relaying: an outside recipient from outside mynetworks is refused", async () => {
    execFileSync("postconf", ["-c", m.postfix.configDir, "-e", "mynetworks=127.0.0.1/32"]);
    const before = m.postfix.reloads();
    execFileSync("postfix", ["-c", m.postfix.configDir, "reload"], { stdio: "pipe" });
    assert.ok(await m.postfix.reloadedSince(before));
    const reply = await m.postfix.rcptReply(
      "someone@elsewhere.example",
      "x@elsewhere.example",
      undefined,
      "127.0.0.2",
    );
    // Debian's smtpd_relay_restrictions end in defer_unauth_destination: 454, Postfix's own 554.
    assert.match(reply, /^(454 4\.7\.1|554 5\.7\.1) .*Relay access denied/, reply);
    const submissionNoAuth = await submit({
      port,
      from: "x@elsewhere.example",
      to: "someone@elsewhere.example",
      message: "",
      rcptOnly: true,
    });
    assert.equal(submissionNoAuth.ok, false, "the submission port without AUTH relays nothing");
  });

  it("keeps its master.cf entry: an edit shows on refresh and is put back; destroy removes it", async () => {
    const made = (
      await services.read(inputs.service + "/inet", { ...inputs, written: "", entry: "" })
    ).props as PostfixServiceOutputs;
    const outs: PostfixServiceOutputs = { ...inputs, written: made.entry, entry: made.entry };
    execFileSync("postconf", [
      "-c",
      m.postfix.configDir,
      "-P",
      `${inputs.service}/inet/smtpd_tls_security_level=may`,
    ]);
    const drifted = (await services.read(inputs.service + "/inet", outs))
      .props as PostfixServiceOutputs;
    assert.notEqual(drifted.entry, drifted.written);
    assert.equal((await services.diff(inputs.service + "/inet", drifted, inputs)).changes, true);
    await services.update(inputs.service + "/inet", drifted, inputs);
    const repaired = (await services.read(inputs.service + "/inet", outs))
      .props as PostfixServiceOutputs;
    assert.equal(repaired.entry, outs.written);
    await services.delete(inputs.service + "/inet", repaired);
    const gone = execFileSync(
      "postconf",
      ["-c", m.postfix.configDir, "-M", `${inputs.service}/inet`],
      { encoding: "utf8" },
    );
    assert.equal(gone.trim(), "");
  });
});
