// An upgrade of a live stack: vmail's whole program as it was at an earlier commit (EARLIER: the
// first with schema version 1 and the guards, the last landed before day two's delivery, the last
// with dynamic providers, and the last before rows went to the engine as JSON text)
// converges a throwaway cluster, a private Postfix and a private Dovecot; then today's program
// takes the same stack over. The upgrade migrates the tables (schema version 2 adds users.login
// and receive, 3 users.quota, 4 transports.alias_of, 5 users.send_as) with no row replaced or
// re-created and no password changed, moves delivery from Postfix's virtual(8) to Dovecot's LMTP
// (the domains' rows updated in place) with the maildirs as they were, mail is delivered and read
// over IMAP before and after, and the new columns work: a user kept from logging in cannot log in
// while their mail still lands, and logs in again with the same password once let back in.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as auto from "@pulumi/pulumi/automation";
import {
  assertNoChanges,
  changedResources,
  createTestStack,
  PROJECT_FILES,
  timed,
  type TestStack,
} from "../support/engine";
import { delivered } from "../support/mailWorld";
import { startPgCluster, storedRow, superuserQuery, type PgCluster } from "../support/pgCluster";
import { pluginGate } from "../support/plugins";
import { createPostfixInstance, type PostfixInstance } from "../support/postfixInstance";
import { makeDovecotInstance, type DovecotInstance } from "../support/dovecotInstance";
import { privateServerConfig, REPO } from "../support/stackFiles";
import { installSystemDeps } from "../support/systemDeps";
import { SCHEMA_VERSION } from "../../core/tables";

/** The project files before vmail's provider plugin (plugin/ came with it). */
const OLD_PROJECT_FILES = PROJECT_FILES.filter((file) => file !== "plugin");

/** An earlier vmail whose stacks today's must take over. */
interface Earlier {
  commit: string;
  /** Its project files (the pure code was in spec/ until core/ took its place). */
  files: string[];
  /** Whether it recorded a schema version (vmail_schema, from schema version 2 on). */
  recordedSchema: boolean;
  /** Whether it predates day two: today's takes its stack over with the changes day two made. */
  beforeDayTwo: boolean;
  /** After day two: exactly what today's changes in its stack (nothing at all, for most). */
  changes?: string[];
}

const EARLIER: Earlier[] = [
  // Schema version 1: no login column, no schema record, spec/.
  {
    commit: "f1bdb8167edf5c69a9f5ec20a410a0b5a9fe3d3c",
    files: OLD_PROJECT_FILES.map((file) => (file === "core" ? "spec" : file)),
    recordedSchema: false,
    beforeDayTwo: true,
  },
  // The last landed before day two's delivery, quotas, alias domains, renames and submission:
  // schema version 2, delivery by virtual(8).
  {
    commit: "ac687afcd00acb7f97cc3c9fc3ad4283437d7d93",
    files: OLD_PROJECT_FILES,
    recordedSchema: true,
    beforeDayTwo: true,
  },
  // The last with dynamic providers: today's serves the same resources from its own plugin, and
  // takes the stack over with no change at all.
  {
    commit: "549c3d2e9ade4dff262c63294be5dc367efeddf2",
    files: OLD_PROJECT_FILES,
    recordedSchema: true,
    beforeDayTwo: false,
    changes: [
      "create mail-accounts-rows",
      "create mail-database-ready",
      "update mail-dovecot-auth-reload",
      "update mail-dovecot-auth-sql",
    ],
  },
  // The last before rows went to the engine as JSON text (core/rowWire.ts): its rows' columns
  // and database are objects in the state, and today's reads them as the same rows.
  {
    commit: "93265aa87e1fcd18e091ef983990f4d74072046d",
    files: PROJECT_FILES,
    recordedSchema: true,
    beforeDayTwo: false,
    changes: [],
  },
];
const PLUGINS = pluginGate("e2e: upgrading a stack made by an earlier vmail");
const OWNER = "vmailupg";

let cluster: PgCluster;
let postfix: PostfixInstance;
let dovecot: DovecotInstance;
let dir: string;
let oldCode: string;
let t: TestStack;

const mailboxBase = () => join(dir, "mail");

function stackFile(): Record<string, unknown> {
  return {
    ...privateServerConfig({ cluster, postfix, dovecot, owner: OWNER, dir }),
    "vmail:domains": ["example.com"],
    "vmail:users": [
      { address: "dave@example.com", maildir: "dave/" },
      { address: "gwen@example.com", maildir: "gwen/" },
    ],
    "vmail:aliases": [{ address: "postmaster@example.com", to: "dave@example.com" }],
  };
}

/** Mail to `to` lands in `maildir`, and its owner reads it over IMAP with `password`. */
async function deliveredAndRead(to: string, maildir: string, password: string, marker: string) {
  await postfix.sendmail(to, `Subject: ${marker}\n\n${marker}\n`);
  assert.ok(await delivered(postfix, mailboxBase(), maildir, marker), postfix.log());
  const subjects = await dovecot.inboxSubjects(to, password);
  assert.ok(subjects.includes(marker), `${to} reads ${marker} over IMAP: ${subjects.join(", ")}`);
}

/**
 * Every resource of the stack is served by vmail's own provider plugin: none is left on the
 * dynamic provider, and no resource's inputs carry the dynamic provider's serialized loader.
 */
async function assertServedByThePlugin() {
  const { deployment } = (await t.stack.exportStack()) as {
    deployment: { resources: { type: string; urn: string; inputs?: object }[] };
  };
  const resources = deployment.resources;
  assert.deepEqual(
    resources.filter((r) => r.type.startsWith("pulumi-nodejs:") || r.urn.includes("pulumi-nodejs")),
    [],
  );
  const withLoader = resources.filter((r) => r.inputs && "__provider" in r.inputs);
  assert.deepEqual(
    withLoader.map((r) => r.urn),
    [],
  );
  assert.ok(
    resources.some((r) => r.type === "vmail:index:MailUser"),
    "rows are vmail:index:",
  );
}

const generated = async () =>
  (await t.stack.outputs()).generatedPasswords.value as Record<string, string>;

for (const from of EARLIER) {
  const STACK = `e2e-upgrade-${from.commit.slice(0, 7)}`;
  const OLD_FILES = from.files;
  describe(
    `upgrading a stack made by vmail at ${from.commit.slice(0, 7)}`,
    { skip: PLUGINS.skip },
    () => {
      let earlier: { passwords: Record<string, string>; hashes: string[] };

      before(async () => {
        PLUGINS.assertPresent();
        installSystemDeps();
        dir = mkdtempSync(join(tmpdir(), "vmail-upgrade-"));
        await chmod(dir, 0o755); // Postfix's daemons and the mail owner reach the maps and maildirs
        // The earlier program, as an operator's checkout of it had it.
        oldCode = join(dir, "old-code");
        execFileSync("mkdir", ["-p", oldCode]);
        const archive = execFileSync("git", ["-C", REPO, "archive", from.commit, ...OLD_FILES]);
        execFileSync("tar", ["-x", "-C", oldCode], { input: archive });
        cluster = await startPgCluster();
        postfix = await createPostfixInstance();
        await postfix.start();
        dovecot = await makeDovecotInstance();
        await dovecot.start();
        t = await createTestStack(
          STACK,
          { projectDir: oldCode, files: OLD_FILES, stackFile: stackFile() },
          { "vmail:pgAdminPassword": { value: cluster.superPassword, secret: true } },
        );
      });

      after(async () => {
        await t?.remove();
        await postfix?.stop();
        await dovecot?.stop();
        await cluster?.stop();
        spawnSync("userdel", [OWNER]);
        spawnSync("groupdel", [OWNER]);
        if (dir) rmSync(dir, { recursive: true, force: true });
      });

      it("1. the earlier vmail converges the server", async () => {
        await timed("upgrade: up with the earlier vmail", () =>
          dovecot.reloadedBy(() => t.stack.up(t.opts())),
        );
        const [{ version }] = await superuserQuery<{ version: string | null }>(
          cluster,
          "SELECT to_regclass('vmail_schema')::text AS version",
          [],
          "mail",
        );
        assert.equal(version !== null, from.recordedSchema, "whether it recorded a schema version");
        const passwords = await generated();
        const hashes = await Promise.all(
          ["dave@example.com", "gwen@example.com"].map(
            async (a) => (await storedRow(cluster, "users", "email", a)).password as string,
          ),
        );
        earlier = { passwords, hashes };
        await deliveredAndRead(
          "dave@example.com",
          "dave/",
          passwords["dave@example.com"],
          "before-1",
        );
      });

      it("2. today's vmail takes it over: tables migrated, no row re-made, no password changed", async () => {
        for (const file of OLD_FILES)
          rmSync(join(t.workDir, file), { recursive: true, force: true });
        for (const file of PROJECT_FILES) {
          cpSync(join(REPO, file), join(t.workDir, file), { recursive: true });
        }
        const seen: auto.EngineEvent[] = [];
        await timed("upgrade: preview", () =>
          t.stack.preview(t.opts({ onEvent: (e: auto.EngineEvent) => seen.push(e) })),
        );
        const changes = changedResources(seen);
        if (from.beforeDayTwo) {
          const rowChanges = changes.filter((c) => c.includes("@"));
          assert.deepEqual(rowChanges, [], `no row changes at all: ${changes.join(", ")}`);
          assert.deepEqual(
            changes.filter((c) => c.startsWith("delete ")),
            [],
            `nothing deleted: ${changes.join(", ")}`,
          );
          assert.deepEqual(
            changes.filter((c) => c.startsWith("replace ")),
            [
              "replace mail-database-dovecot-select-users",
              "replace mail-database-reader-select-users",
            ],
            "only the users column grants are replaced: they cover users.login and users.receive",
          );
          assert.ok(changes.includes("update mail-database-schema-tables"), changes.join(", "));
          assert.ok(changes.includes("update example.com"), "the domain's row names LMTP now");
        } else {
          // 549c3d2's dynamic resources move to vmail's plugin with no row and one file changed;
          // 93265aa's rows, objects in its state, are JSON text now with nothing changed at all.
          assert.deepEqual(changes, from.changes);
        }
        const applied: auto.EngineEvent[] = [];
        const up = () => t.stack.up(t.opts({ onEvent: (e: auto.EngineEvent) => applied.push(e) }));
        // Dovecot reloads when its files change; an upgrade that changes nothing reloads nothing.
        const changesNothing = from.changes?.length === 0;
        await timed("upgrade: up", () => (changesNothing ? up() : dovecot.reloadedBy(up)));
        if (!from.beforeDayTwo) assert.deepEqual(changedResources(applied), from.changes);
        // Dovecot's home moved inside the maildir; the mail stays where it was.
        const daveMaildir = join(mailboxBase(), "dave");
        assert.equal(await dovecot.userField("dave@example.com", "home"), `${daveMaildir}/home`);
        assert.equal(
          await dovecot.userField("dave@example.com", "mail"),
          `maildir:${daveMaildir}/`,
        );
        assert.deepEqual(await generated(), earlier.passwords, "the same generated passwords");
        for (const [i, address] of ["dave@example.com", "gwen@example.com"].entries()) {
          const row = await storedRow(cluster, "users", "email", address);
          assert.equal(row.password, earlier.hashes[i], `${address}'s stored hash is as it was`);
          assert.equal(row.login, true, `${address} may log in (the new column's default)`);
        }
        const [{ version }] = await superuserQuery<{ version: number }>(
          cluster,
          "SELECT version FROM vmail_schema",
          [],
          "mail",
        );
        assert.equal(version, SCHEMA_VERSION);
        const restrictions = execFileSync(
          "postconf",
          ["-c", postfix.configDir, "-h", "smtpd_recipient_restrictions"],
          { encoding: "utf8" },
        ).trim();
        assert.match(
          restrictions,
          /^check_recipient_access pgsql:\S+\/refused\.cf, check_policy_service unix:private\/vmail-quota-status$/,
          "the refusal map first, then quota-status",
        );
        await assertServedByThePlugin();
        await deliveredAndRead(
          "dave@example.com",
          "dave/",
          earlier.passwords["dave@example.com"],
          "after-1",
        );
        // Delivered by Dovecot's LMTP into the maildir virtual(8) filled: the old mail is still read.
        assert.ok(await postfix.logged(/relay=\S*dovecot-lmtp.*status=sent/), postfix.log());
        const subjects = await dovecot.inboxSubjects(
          "dave@example.com",
          earlier.passwords["dave@example.com"],
        );
        assert.ok(subjects.includes("before-1"), `the mail from before: ${subjects.join(", ")}`);
        await assertNoChanges(t, "upgrade (after): ");
      });

      it("3. a user kept from logging in: every login refused, mail still lands; let back in, same password", async () => {
        const gwen = earlier.passwords["gwen@example.com"];
        t.setPaths({ "vmail:users[1].login": { value: "false" } });
        const seen: auto.EngineEvent[] = [];
        // The row alone changes: Dovecot reads it at the next login, no reload needed.
        await timed("upgrade: keep gwen out", () =>
          t.stack.up(t.opts({ onEvent: (e: auto.EngineEvent) => seen.push(e) })),
        );
        assert.deepEqual(changedResources(seen), ["update gwen@example.com"]);
        assert.equal((await dovecot.authTest("gwen@example.com", gwen)).ok, false, "login refused");
        await assert.rejects(dovecot.inboxSubjects("gwen@example.com", gwen), /refused/);
        await postfix.sendmail("gwen@example.com", "Subject: while out\n\nwhile-out-1\n");
        assert.ok(await delivered(postfix, mailboxBase(), "gwen/", "while-out-1"), postfix.log());
        assert.equal(
          (await dovecot.authTest("dave@example.com", earlier.passwords["dave@example.com"])).ok,
          true,
        );

        t.removePath("vmail:users[1].login");
        await timed("upgrade: let gwen back in", () => t.stack.up(t.opts()));
        assert.deepEqual(await generated(), earlier.passwords, "nobody got a new password");
        const subjects = await dovecot.inboxSubjects("gwen@example.com", gwen);
        assert.ok(
          subjects.includes("while out"),
          `the mail that came meanwhile: ${subjects.join(", ")}`,
        );
        await assertNoChanges(t, "upgrade (gwen back): ");
      });

      it("3b. a user who does not receive, then a suspended domain: mail refused at RCPT, logins too", async () => {
        const [dave, gwen] = [
          earlier.passwords["dave@example.com"],
          earlier.passwords["gwen@example.com"],
        ];
        t.setPaths({ "vmail:users[0].receive": { value: "false" } });
        await timed("upgrade: dave receives no mail", () => t.stack.up(t.opts()));
        assert.match(
          await postfix.rcptReply("dave@example.com"),
          /^550 5\.2\.1 .*This mailbox does not accept mail/,
        );
        assert.match(await postfix.rcptReply("gwen@example.com"), /^250 /, "gwen still receives");
        assert.ok(
          (await dovecot.inboxSubjects("dave@example.com", dave)).includes("after-1"),
          "dave reads",
        );

        t.setPaths({ "vmail:suspendedDomains[0]": { value: "example.com" } });
        t.removePath("vmail:users[0].receive");
        const seen: auto.EngineEvent[] = [];
        await timed("upgrade: suspend example.com", () =>
          t.stack.up(t.opts({ onEvent: (e: auto.EngineEvent) => seen.push(e) })),
        );
        assert.deepEqual(changedResources(seen), [
          "update dave@example.com",
          "update example.com",
          "update gwen@example.com",
        ]);
        // Its users refuse as users; any other address of it (an alias, the catch-all's reach) as
        // the domain.
        assert.match(
          await postfix.rcptReply("gwen@example.com"),
          /^550 5\.2\.1 .*This mailbox does not accept mail/,
        );
        for (const to of ["postmaster@example.com", "nobody@example.com"]) {
          assert.match(
            await postfix.rcptReply(to),
            /^550 5\.2\.1 .*This domain does not accept mail/,
            to,
          );
        }
        assert.equal((await dovecot.authTest("dave@example.com", dave)).ok, false, "dave kept out");
        assert.equal((await dovecot.authTest("gwen@example.com", gwen)).ok, false, "gwen kept out");

        t.removePath("vmail:suspendedDomains");
        await timed("upgrade: lift the suspension", () => t.stack.up(t.opts()));
        assert.match(await postfix.rcptReply("gwen@example.com"), /^250 /);
        assert.equal(
          (await dovecot.authTest("gwen@example.com", gwen)).ok,
          true,
          "the same password",
        );
        assert.deepEqual(await generated(), earlier.passwords);
        await assertNoChanges(t, "upgrade (lifted): ");
      });

      it("4. destroy leaves the maildirs", async () => {
        await timed("upgrade: destroy", () => t.stack.destroy(t.opts()));
        assert.ok(await delivered(postfix, mailboxBase(), "gwen/", "while-out-1"));
      });
    },
  );
}
