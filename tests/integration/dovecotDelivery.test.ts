// Delivery through Dovecot as vmail sets it up, judged by a real, throwaway Postfix and Dovecot
// and PostgreSQL: the transports row sends mail to Dovecot's LMTP socket in Postfix's queue
// directory, the quota plugin counts it, and Postfix asks quota-status at RCPT time, so mail that
// would not fit is refused there (552 5.2.2); IMAP and doveadm show the limit and the usage. And
// an alias domain's addresses, resolved by vmail's aliases and refusal maps as Postfix runs them.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { MapName } from "../../core/postfixConfig";
import { delivered, postmapQuery } from "../support/mailWorld";
import { startMailServer, type MailServerFixture } from "../support/mailServerFixture";

let m: MailServerFixture;

/** A message of about `bytes` bytes, findable by `marker`. */
const message = (marker: string, bytes: number) =>
  `Subject: ${marker}\n\n${marker}\n${"x"
    .repeat(76)
    .concat("\n")
    .repeat(Math.ceil(bytes / 77))}`;

before(async () => {
  m = await startMailServer("vmaildeliv");
  await m.addUser("small@example.com", { quota: 10 * 1024 });
  await m.addUser("roomy@example.com");
  await m.addUser("closed@example.com", { receive: false });
});

after(async () => {
  await m?.stop();
});

describe("delivery through Dovecot's LMTP, with quotas", () => {
  it("delivers over LMTP into the maildir Postfix's virtual(8) used, owned by the mail owner", async () => {
    await m.postfix.sendmail("small@example.com", message("first-small", 4000));
    assert.ok(await delivered(m.postfix, m.mailboxBase, "small/", "first-small"), m.postfix.log());
    assert.ok(await m.postfix.logged(/relay=\S*dovecot-lmtp.*status=sent/), m.postfix.log());
    const owner = execFileSync("stat", ["-c", "%u:%g", join(m.mailboxBase, "small", "new")], {
      encoding: "utf8",
    });
    assert.equal(owner.trim(), `${m.uid}:${m.gid}`);
  });

  it("gives Dovecot a home inside the maildir for its own files, never the maildir itself", async () => {
    const maildir = join(m.mailboxBase, "small");
    assert.equal(await m.dovecot.userField("small@example.com", "mail"), `maildir:${maildir}/`);
    assert.equal(await m.dovecot.userField("small@example.com", "home"), `${maildir}/home`);
    // Whatever Dovecot keeps there is not a mailbox: IMAP lists INBOX alone and finds the mail.
    mkdirSync(join(maildir, "home"), { recursive: true });
    writeFileSync(join(maildir, "home", ".dovecot.sieve"), "keep;\n");
    const password = m.passwords.get("small@example.com")!;
    const folders = await m.dovecot.folders("small@example.com", password);
    assert.equal(folders.length, 1, folders.join(" | "));
    assert.match(folders[0], /"INBOX"$|\bINBOX$/);
    const subjects = await m.dovecot.inboxSubjects("small@example.com", password);
    assert.ok(subjects.includes("first-small"), subjects.join(", "));
  });

  it("doveadm and IMAP show the user's limit and usage; a user without a quota has none", async () => {
    const table = await m.dovecot.quotaGet("small@example.com");
    // "User quota STORAGE <used KiB> <limit KiB> <percent>"
    const storage = /User quota\s+STORAGE\s+(\d+)\s+(\d+)\s+\d+/.exec(table);
    assert.ok(storage, table);
    assert.equal(Number(storage[2]), 10, "a 10 KiB limit");
    assert.ok(Number(storage[1]) >= 4, `the 4 KB message counts: ${table}`);
    const imap = await m.dovecot.inboxQuota(
      "small@example.com",
      m.passwords.get("small@example.com")!,
    );
    assert.match(imap, /\(STORAGE \d+ 10\)/, imap);
    const roomy = await m.dovecot.quotaGet("roomy@example.com");
    assert.match(roomy, /User quota\s+STORAGE\s+\d+\s+-/, roomy);
  });

  it("mail that would not fit is refused at RCPT with 552 5.2.2; mail that fits is not", async () => {
    const refused = await m.postfix.rcptReply("small@example.com", "sender@example.org", 8000);
    // Postfix words it: "552 5.2.2 <small@example.com>: Recipient address rejected: Mailbox is full"
    assert.match(refused, /^552 5\.2\.2 <small@example\.com>: .*Mailbox is full$/, refused);
    const fits = await m.postfix.rcptReply("small@example.com", "sender@example.org", 1000);
    assert.match(fits, /^250 /, fits);
    const roomy = await m.postfix.rcptReply("roomy@example.com", "sender@example.org", 8000);
    assert.match(roomy, /^250 /, roomy);
  });
});

describe("an alias domain (example.org, of example.com)", () => {
  const postmap = (map: MapName, key: string) => postmapQuery(m.postfix, m.mapsDir, map, key);

  it("resolves an address to the same local part of the target, where that address exists", () => {
    assert.equal(postmap("aliases", "roomy@example.org"), "roomy@example.com");
    assert.equal(postmap("aliases", "nobody@example.org"), "", "no such user in example.com");
    assert.equal(postmap("aliases", "@example.org"), "", "no catch-all of its own");
    assert.equal(
      postmap("aliases", "roomy@example.com"),
      "",
      "the target's own addresses as before",
    );
    assert.equal(postmap("domains", "example.org"), "example.org");
  });

  it("takes mail for an existing address and delivers it to the target's mailbox", async () => {
    assert.match(await m.postfix.rcptReply("roomy@example.org"), /^250 /);
    const unknown = await m.postfix.rcptReply("nobody@example.org");
    assert.match(unknown, /^550 5\.1\.1 /, unknown);
    await m.postfix.sendmail("roomy@example.org", message("via-alias-domain", 100));
    assert.ok(
      await delivered(m.postfix, m.mailboxBase, "roomy/", "via-alias-domain"),
      m.postfix.log(),
    );
  });

  it("refuses mail for a target address that does not receive, and counts the target's quota", async () => {
    const closed = await m.postfix.rcptReply("closed@example.org");
    assert.match(closed, /^550 5\.2\.1 .*This mailbox does not accept mail/, closed);
    const full = await m.postfix.rcptReply("small@example.org", "sender@example.org", 8000);
    // quota-status is asked about the address as given: not a mail user, so Postfix decides, and
    // LMTP refuses it at delivery if it would not fit.
    assert.match(full, /^250 /, full);
  });
});
