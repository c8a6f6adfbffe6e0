// The resource graph the dev stack registers, under Pulumi's mocks: types, names, parents,
// dependencies, and that every password, hash and .cf content travels as a secret.

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { parseConfig } from "../../core/config";
import {
  isSecretInput,
  MOCK_GID,
  MOCK_UID,
  MockEngine,
  valueOf,
  type Recorded,
} from "../support/mocks";
import { rawConfigFor } from "../support/stackFiles";

const engine = new MockEngine();
const VMAIL_TYPE = "vmail:index:";

/** A row resource's columns: the program sends them as JSON text (core/rowWire.ts). */
async function rowOf<T>(row: Recorded): Promise<T> {
  return JSON.parse(await valueOf(row.props.row as pulumi.Input<string>)) as T;
}
let server: import("../../components/mailServer").MailServer;

before(async () => {
  await engine.install();
  const spec = parseConfig(
    rawConfigFor(
      "dev",
      {
        // The dev data plus a catch-all domain and a user whose clear password comes from config.
        domains: ["example.com", "example.net"],
        users: [
          { address: "dave@example.com", realname: "Dave, son of Dave", maildir: "dave/" },
          { address: "erin@example.net", password: "erin's secret" },
        ],
        aliases: [
          { address: "dave_sonofdave@example.com", to: "dave@example.com" },
          { address: "@example.net", to: "erin@example.net" },
        ],
      },
      ["users"],
    ),
  );
  server = await engine.registerMailServer(spec);
});

describe("the dev stack's resource graph", () => {
  it("has one row resource per domain, user and alias, named by its address", () => {
    const rows = engine.recorded
      .filter((r) => /^vmail:index:Mail(User|Alias|Domain)$/.test(r.type) && !r.component)
      .map((r) => `${r.type.slice(VMAIL_TYPE.length)} ${r.name}`)
      .sort();
    assert.deepEqual(rows, [
      "MailAlias @example.net",
      "MailAlias dave_sonofdave@example.com",
      "MailAlias erin@example.net", // the catch-all's shield, added by the program
      "MailDomain example.com",
      "MailDomain example.net",
      "MailUser dave@example.com",
      "MailUser erin@example.net",
    ]);
  });

  it("groups every resource under a typed component", () => {
    const parentOf = (type: string, name: string) => engine.nameOf(engine.find(type, name).parent);
    assert.equal(parentOf("vmail:index:MailOwner", "mail-owner"), "mail");
    assert.equal(parentOf("vmail:index:MailDatabase", "mail-database"), "mail");
    assert.equal(parentOf("vmail:index:PostfixMaps", "mail-postfix-maps"), "mail");
    assert.equal(parentOf("vmail:index:PostfixSettings", "mail-postfix-settings"), "mail");
    assert.equal(parentOf("vmail:index:MailAccounts", "mail-accounts"), "mail");
    assert.equal(parentOf("vmail:index:MailSchema", "mail-database-schema"), "mail-database");
    assert.equal(parentOf("vmail:index:RootForward", "mail-root-forward"), "mail");
    assert.equal(parentOf("command:local:Command", "mail-owner-account"), "mail-owner");
    assert.equal(parentOf("postgresql:index/role:Role", "mail-database-reader"), "mail-database");
    assert.equal(
      parentOf("postgresql:index/database:Database", "mail-database-db"),
      "mail-database",
    );
    assert.equal(parentOf(`${VMAIL_TYPE}MailUser`, "dave@example.com"), "mail-accounts");
    assert.equal(
      parentOf(`${VMAIL_TYPE}ServerFile`, "mail-postfix-maps-mailboxes"),
      "mail-postfix-maps",
    );
    assert.equal(
      parentOf(`${VMAIL_TYPE}ServerFile`, "mail-database-schema-pg-hba"),
      "mail-database-schema",
    );
    assert.equal(
      parentOf(`${VMAIL_TYPE}MailTables`, "mail-database-schema-tables"),
      "mail-database-schema",
    );
    assert.equal(
      parentOf(`${VMAIL_TYPE}PostfixMainCf`, "mail-postfix-settings-main-cf"),
      "mail-postfix-settings",
    );
  });

  it("names every child from its component's name (rows: by their address), never from config", () => {
    const rows = /^vmail:index:Mail(User|Alias|Domain)$/;
    const misnamed = engine.recorded
      .filter((r) => r.parent && engine.nameOf(r.parent) && !rows.test(r.type))
      .filter((r) => !r.name.startsWith(`${engine.nameOf(r.parent)}-`))
      .map((r) => `${r.type}::${r.name} under ${engine.nameOf(r.parent)}`);
    assert.deepEqual(misnamed, []);
  });

  it("gives every postgresql resource the explicit provider, never the default one", () => {
    const pgResources = engine.recorded.filter(
      (r) => r.type.startsWith("postgresql:index/") && r.type !== "pulumi:providers:postgresql",
    );
    assert.ok(pgResources.length >= 7);
    for (const r of pgResources) {
      const provider = (r.resource as unknown as { __prov?: { getPackage(): string } }).__prov;
      assert.ok(provider, `${r.type} ${r.name} has no explicit provider`);
    }
  });

  it("orders the tables after the database, grants after the tables, rows after both", () => {
    const tables = engine.find(`${VMAIL_TYPE}MailTables`, "mail-database-schema-tables").resource;
    const database = engine.find("postgresql:index/database:Database", "mail-database-db").resource;
    assert.ok(
      engine
        .find(`${VMAIL_TYPE}MailTables`, "mail-database-schema-tables")
        .dependsOn.includes(database),
    );
    const select = engine.find(
      "postgresql:index/grant:Grant",
      "mail-database-reader-select",
    ).resource;
    for (const grant of [
      "mail-database-reader-select",
      "mail-database-reader-select-users",
      "mail-database-reader-usage",
      "mail-database-public-lockdown",
      "mail-database-dovecot-usage",
      "mail-database-dovecot-select-users",
    ]) {
      assert.ok(
        engine.find("postgresql:index/grant:Grant", grant).dependsOn.includes(tables),
        grant,
      );
    }
    // No default privileges: a table made later is nobody's to read. (The provider has two
    // resources for them: DefaultPrivileges and the older DefaultPrivileg.)
    assert.deepEqual(
      engine.recorded.filter((r) => r.type.includes("DefaultPrivileg")).map((r) => r.name),
      [],
      "no DefaultPrivileges",
    );
    const ready = engine.find(`${VMAIL_TYPE}Milestone`, "mail-database-ready").resource;
    for (const row of engine.recorded.filter((r) => /Mail(User|Alias|Domain)$/.test(r.type))) {
      assert.ok(engine.waitsFor(row, tables), `${row.name} waits for the tables`);
      assert.ok(engine.waitsFor(row, select), `${row.name} waits for the reader's grant`);
      // Through the database's milestone alone (a domain also waits for Dovecot's LMTP): each
      // row's state names one dependency, not the tables, the reload and every grant.
      const direct = row.type.endsWith("MailDomain") ? 2 : 1;
      assert.equal(row.dependsOn.length, direct, `${row.name}'s dependencies`);
      assert.ok(row.dependsOn.includes(ready), `${row.name} waits for the milestone`);
    }
  });

  it("reads the mail owner's uid and gid back from the server into rows and main.cf", async () => {
    const domain = engine.find(`${VMAIL_TYPE}MailDomain`, "example.com");
    const row = await rowOf<{ gid: number }>(domain);
    assert.equal(row.gid, MOCK_GID);
    assert.equal(await valueOf(server.uid), MOCK_UID);
    const mainCf = engine.find(`${VMAIL_TYPE}PostfixMainCf`, "mail-postfix-settings-main-cf");
    const settings = await valueOf(mainCf.props.settings as pulumi.Input<Record<string, string>>);
    assert.equal(settings.virtual_uid_maps, `static:${MOCK_UID}`);
    assert.equal(settings.virtual_gid_maps, `static:${MOCK_GID}`);
  });

  it("hands main.cf the refusal map, then quota-status, to keep first in smtpd_recipient_restrictions", async () => {
    const mainCf = engine.find(`${VMAIL_TYPE}PostfixMainCf`, "mail-postfix-settings-main-cf");
    const checks = await valueOf(mainCf.props.recipientChecks as pulumi.Input<string[]>);
    assert.equal(checks.length, 2);
    assert.match(checks[0], /^check_recipient_access (proxy:)?pgsql:\/\S+\/refused\.cf$/);
    assert.equal(checks[1], "check_policy_service unix:private/vmail-quota-status");
  });

  it("delivers over Dovecot's LMTP once Dovecot listens, and Postfix asks quota-status only then", async () => {
    const domain = engine.find(`${VMAIL_TYPE}MailDomain`, "example.com");
    const row = await rowOf<{ transport: string }>(domain);
    assert.equal(row.transport, "lmtp:unix:private/dovecot-lmtp");
    const reload = engine.find(`${VMAIL_TYPE}DovecotReload`, "mail-dovecot-delivery-reload");
    assert.ok(domain.dependsOn.includes(reload.resource), "the domain's row waits for the reload");
    const mainCf = engine.find(`${VMAIL_TYPE}PostfixMainCf`, "mail-postfix-settings-main-cf");
    assert.ok(mainCf.dependsOn.includes(reload.resource), "main.cf waits for the reload");
    const conf = engine.find(`${VMAIL_TYPE}ServerFile`, "mail-dovecot-delivery-conf");
    const content = await valueOf(conf.props.content as pulumi.Input<string>);
    assert.match(content, /unix_listener \/var\/spool\/postfix\/private\/dovecot-lmtp \{/);
    assert.match(content, /user = postfix/);
  });

  it("points Postfix and Dovecot at the database only once every row is in it, and cleans up after a move last", () => {
    const dave = engine.find(`${VMAIL_TYPE}MailUser`, "dave@example.com").resource;
    for (const file of ["mail-postfix-maps-mailboxes", "mail-dovecot-auth-sql"]) {
      const r = engine.find(`${VMAIL_TYPE}ServerFile`, file);
      assert.ok(engine.waitsFor(r, dave), `${file} waits for the rows`);
      assert.ok(r.dependsOn.length < 10, `${file} names the rows' milestone, not each row`);
    }
    const cleanup = engine.find(`${VMAIL_TYPE}MovedRowsCleanup`, "mail-rows-cleanup");
    for (const after of [
      "mail-postfix-settings",
      "mail-dovecot-auth",
      "mail-postfix-maps",
      "dave@example.com",
    ]) {
      const r = engine.recorded.find((x) => x.name === after) as Recorded;
      assert.ok(engine.waitsFor(cleanup, r.resource), `the cleanup waits for ${after}`);
    }
  });

  it("locks schema public: PUBLIC gets nothing, the reader USAGE and SELECT only", async () => {
    const grant = (name: string) => engine.find("postgresql:index/grant:Grant", name).props;
    assert.deepEqual(
      await valueOf(grant("mail-database-public-lockdown").privileges as string[]),
      [],
    );
    assert.equal(grant("mail-database-public-lockdown").role, "public");
    assert.deepEqual(await valueOf(grant("mail-database-reader-usage").privileges as string[]), [
      "USAGE",
    ]);
    assert.deepEqual(await valueOf(grant("mail-database-reader-select").privileges as string[]), [
      "SELECT",
    ]);
    assert.deepEqual(await valueOf(grant("mail-database-reader-select").objects as string[]), [
      "transports",
      "aliases",
    ]);
  });

  it("Postfix's reader sees no password hash; Dovecot's role reads the users table only", async () => {
    const grant = (name: string) => engine.find("postgresql:index/grant:Grant", name).props;
    const columnsOf = async (name: string) => ({
      type: grant(name).objectType,
      objects: await valueOf(grant(name).objects as string[]),
      columns: await valueOf(grant(name).columns as string[]),
    });
    assert.deepEqual(await columnsOf("mail-database-reader-select-users"), {
      type: "column",
      objects: ["users"],
      columns: ["email", "maildir", "receive", "send_as"],
    });
    assert.deepEqual(await columnsOf("mail-database-dovecot-select-users"), {
      type: "column",
      objects: ["users"],
      columns: ["email", "password", "maildir", "login", "quota"],
    });
    const dovecotGrants = engine.recorded.filter(
      (r) =>
        r.type === "postgresql:index/grant:Grant" && r.name.startsWith("mail-database-dovecot"),
    );
    assert.deepEqual(dovecotGrants.map((r) => r.name).sort(), [
      "mail-database-dovecot-connect",
      "mail-database-dovecot-select-users",
      "mail-database-dovecot-usage",
    ]);
  });
});

describe("files holding a password", () => {
  // What the components declare, not what a test chose: the integration tests write files with
  // these declarations, and the program e2e checks them on disk after a whole up.
  const declaredFiles = async () =>
    Promise.all(
      engine.recorded
        .filter((r) => r.type === `${VMAIL_TYPE}ServerFile`)
        .map(async (r) => ({
          name: r.name,
          path: await valueOf(r.props.path as pulumi.Input<string>),
          ownership:
            r.props.ownership === undefined
              ? undefined
              : await valueOf(r.props.ownership as pulumi.Input<Record<string, string>>),
        })),
    );

  it("every Postfix map file (.cf) is declared 0640 root:postfix", async () => {
    const maps = (await declaredFiles()).filter((f) => f.path.endsWith(".cf"));
    assert.deepEqual(maps.map((f) => f.name).sort(), [
      "mail-postfix-maps-aliases",
      "mail-postfix-maps-domains",
      "mail-postfix-maps-mailboxes",
      "mail-postfix-maps-refused",
      "mail-postfix-maps-senders",
      "mail-postfix-maps-transport",
    ]);
    for (const f of maps) {
      assert.deepEqual(f.ownership, { mode: "0640", owner: "root", group: "postfix" }, f.path);
    }
  });

  it("Dovecot's SQL file is declared 0640 root:dovecot", async () => {
    const sql = (await declaredFiles()).filter((f) => f.name === "mail-dovecot-auth-sql");
    assert.equal(sql.length, 1);
    assert.match(sql[0].path, /\.conf\.ext$/);
    assert.deepEqual(sql[0].ownership, { mode: "0640", owner: "root", group: "dovecot" });
  });
});

describe("secrets in the graph", () => {
  it("every map file's content, the role passwords and the admin password are secrets", async () => {
    for (const map of ["mailboxes", "transport", "aliases", "domains"]) {
      const file = engine.find(`${VMAIL_TYPE}ServerFile`, `mail-postfix-maps-${map}`);
      assert.equal(await isSecretInput(file.props.content), true, `${map}.cf content`);
      assert.match(
        await valueOf(file.props.content as pulumi.Input<string>),
        /password = pw-of-mail-database-reader-password/,
      );
    }
    // Write-only: the reader's password reaches PostgreSQL, not the Role's state.
    const reader = engine.find("postgresql:index/role:Role", "mail-database-reader").props;
    assert.equal(reader.password, undefined);
    assert.equal(await isSecretInput(reader.passwordWo), true, "reader password");
    assert.equal(reader.passwordWoVersion, "1");
    const dovecot = engine.find("postgresql:index/role:Role", "mail-database-dovecot").props;
    assert.equal(await isSecretInput(dovecot.passwordWo), true, "Dovecot's role's password");
    const sqlFile = engine.find(`${VMAIL_TYPE}ServerFile`, "mail-dovecot-auth-sql");
    assert.equal(await isSecretInput(sqlFile.props.content), true, "Dovecot's SQL file");
    assert.match(
      await valueOf(sqlFile.props.content as pulumi.Input<string>),
      /user=maildovecot password=pw-of-mail-database-dovecot-password/,
    );
    // vmail only SET ROLEs to the owner: no login, no password, unless ownerLogin says so.
    const owner = engine.find("postgresql:index/role:Role", "mail-database-owner").props;
    assert.equal(owner.login, false);
    assert.equal(owner.passwordWo, undefined);
    const provider = engine.find("pulumi:providers:postgresql", "mail-database-provider");
    assert.equal(await isSecretInput(provider.props.password), true, "admin password");
  });

  it("a clear-text password from config reaches its row only as a secret", async () => {
    const erin = engine.find(`${VMAIL_TYPE}MailUser`, "erin@example.net");
    assert.equal(await isSecretInput(erin.props.password), true);
    const dave = engine.find(`${VMAIL_TYPE}MailUser`, "dave@example.com");
    assert.equal(dave.props.password, undefined);
    assert.equal((await rowOf<{ generateVersion?: number }>(dave)).generateVersion, 1);
  });

  it("the exported passwords are secrets", async () => {
    assert.equal(await isSecretInput(server.generatedPasswords), true);
    assert.equal(await isSecretInput(server.readerPassword), true);
    assert.deepEqual(await valueOf(server.generatedPasswords), {
      "dave@example.com": "generated-dave@example.com",
    });
  });

  it("no command line carries a secret: scripts hold no password", async () => {
    for (const r of engine.recorded.filter((x) => x.type.startsWith("command:"))) {
      for (const field of ["create", "update", "delete"]) {
        const text = String(await valueOf(r.props[field] as pulumi.Input<string>));
        for (const secret of ["pw-of-", "admin-pw", "erin's secret"]) {
          assert.ok(!text.includes(secret), `${r.name}.${field} holds a secret`);
        }
      }
    }
  });
});
