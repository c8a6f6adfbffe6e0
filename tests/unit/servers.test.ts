// Several mail servers over one account database (vmail:servers): how an entry is read and
// refused, what each server's Postfix, Dovecot and the primary's pg_hba are given, and, under
// Pulumi's mocks, that a server's resources are its own (mail-<name>-*) and touch no row.

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import {
  ConfigError,
  parseConfig,
  parseConnectionSettings,
  type MailSpec,
} from "../../core/config";
import { renderDovecotSql } from "../../core/dovecotConfig";
import { renderHbaBlock } from "../../core/pgHba";
import { renderMapFile } from "../../core/postfixConfig";
import { MockEngine, valueOf, type Recorded } from "../support/mocks";
import { rawConfigFor } from "../support/stackFiles";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOvm0u8DDdWzbXpQ1X2ko1VtBdJr7Uo1Qm4nEHnYpYh7";

/** A second server, over SSH, reading its replica first and then the primary. */
const mx2 = {
  name: "mx2",
  serverMode: "ssh",
  sshHost: "mx2.example.com",
  sshHostKey: HOST_KEY,
  postfixMapsDir: "/etc/postfix/vmail",
  databaseHosts: ["127.0.0.1:5433", "10.0.0.1"],
  pgHbaAddresses: ["10.0.0.2/32"],
};

const withServers = (servers: unknown[], more: Record<string, unknown> = {}) =>
  rawConfigFor("dev", { servers, ...more, sshPrivateKey: "key" }, ["sshPrivateKey"]);

function problems(servers: unknown[], more: Record<string, unknown> = {}): string[] {
  try {
    parseConfig(withServers(servers, more));
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail("expected the config to be refused");
}

function assertRefused(servers: unknown[], ...fragments: string[]): void {
  const found = problems(servers);
  assert.ok(
    found.some((p) => fragments.every((f) => p.includes(f))),
    `no problem mentions ${JSON.stringify(fragments)}; got:\n${found.join("\n")}`,
  );
}

describe("vmail:servers, read", () => {
  it("the stack's own server reads loopback at pgServerPort unless told, and has no others", () => {
    const spec = parseConfig(rawConfigFor("dev", {}));
    assert.deepEqual(spec.own.databaseHosts, [{ host: "127.0.0.1", port: 5432 }]);
    assert.deepEqual(spec.servers, []);
  });

  it("an entry's keys over the top-level ones; a database host's port defaults to pgServerPort", () => {
    const spec = parseConfig(withServers([mx2], { pgServerPort: 6432 }));
    const [host] = spec.servers;
    assert.equal(host.name, "mx2");
    assert.deepEqual(host.server, {
      kind: "ssh",
      host: "mx2.example.com",
      port: 22,
      user: "root",
      hostKey: HOST_KEY,
    });
    assert.equal(host.postfix.mapsDir, "/etc/postfix/vmail");
    assert.equal(host.postfix.configDir, spec.own.postfix.configDir, "inherited");
    assert.equal(host.owner.mailboxBase, spec.own.owner.mailboxBase, "inherited");
    assert.equal(host.dovecot.enabled, true, "Dovecot is the stack's, on every server");
    assert.deepEqual(host.databaseHosts, [
      { host: "127.0.0.1", port: 5433 },
      { host: "10.0.0.1", port: 6432 },
    ]);
    assert.deepEqual(host.pgHbaAddresses, ["10.0.0.2/32"]);
  });

  it("the providers learn each server's maildirs, the stack's own first", () => {
    const { maildirHosts } = parseConnectionSettings(
      withServers([{ ...mx2, mailboxBase: "/srv/mail" }]),
    );
    assert.deepEqual(
      maildirHosts.map((h) => [h.server.kind, h.mailboxBase]),
      [
        ["local", "/home/mail"],
        ["ssh", "/srv/mail"],
      ],
    );
  });

  it("refuses an entry without a name, a bad name, or one name twice", () => {
    assertRefused([{ databaseHosts: ["db"] }], "vmail:servers[0]", "an object with a name");
    assertRefused([{ ...mx2, name: "MX 2" }], "vmail:servers[0] (MX 2)", "lower-case letters");
    assertRefused(
      [mx2, { ...mx2, sshHost: "mx3.example.com" }],
      "vmail:servers[1] (mx2)",
      "another server has this name",
    );
  });

  it("refuses an unknown field, naming the known ones", () => {
    assertRefused(
      [{ ...mx2, postfixDir: "/etc" }],
      "vmail:servers[0] (mx2)",
      "unknown field(s) postfixDir",
    );
  });

  it("refuses a server without database hosts, or with a bad host or network", () => {
    const without = { ...mx2, databaseHosts: undefined };
    assertRefused([without], "vmail:servers[0] (mx2).databaseHosts", "is required");
    assertRefused([{ ...mx2, databaseHosts: ["db:99999"] }], "(mx2).databaseHosts[0]", "a port");
    assertRefused(
      [{ ...mx2, databaseHosts: ["db", "db:5432"] }],
      "(mx2).databaseHosts[1]",
      "listed twice",
    );
    assertRefused([{ ...mx2, pgHbaAddresses: ["10.0.0.2"] }], "(mx2).pgHbaAddresses[0]", "CIDR");
    assertRefused([{ ...mx2, pgHbaAddresses: ["10.0.0.2/33"] }], "(mx2).pgHbaAddresses[0]", "CIDR");
  });

  it("refuses a server's own bad values under its name", () => {
    assertRefused([{ ...mx2, sshPort: 0 }], "vmail:servers[0] (mx2).sshPort", "a port");
    assertRefused([{ ...mx2, sshHostKey: "" }], "(mx2).sshHostKey", "is required");
  });

  it("refuses a server that would write the files another one writes", () => {
    const local = { name: "again", databaseHosts: ["127.0.0.1"] };
    assertRefused([local], "vmail:servers[0] (again)", "the stack's own server already writes");
    assert.doesNotThrow(() =>
      parseConfig(
        withServers([
          { ...local, postfixConfigDir: "/etc/postfix-b", dovecotConfigDir: "/etc/dovecot-b" },
        ]),
      ),
    );
  });

  it("refuses retiring a server the stack lists", () => {
    const found = problems([mx2], { retiredTargets: ["ssh root@mx2.example.com:22"] });
    assert.ok(found.some((p) => p.includes("vmail:retiredTargets[0]") && p.includes("points now")));
  });
});

describe("what each server is given", () => {
  it("Postfix lists every database host; with none given, loopback as before", () => {
    const conn = (hosts: { host: string; port: number }[]) => ({
      hosts,
      user: "r",
      dbname: "mail",
    });
    assert.match(
      renderMapFile("domains", conn([{ host: "127.0.0.1", port: 5432 }]), "pw"),
      /^hosts = inet:127\.0\.0\.1:5432$/m,
    );
    assert.match(
      renderMapFile(
        "domains",
        conn([
          { host: "127.0.0.1", port: 5433 },
          { host: "10.0.0.1", port: 5432 },
        ]),
        "pw",
      ),
      /^hosts = inet:127\.0\.0\.1:5433 inet:10\.0\.0\.1:5432$/m,
    );
  });

  it("Dovecot connects to the hosts in order, as one libpq list", () => {
    const sql = (hosts: { host: string; port: number }[]) =>
      renderDovecotSql({
        hosts,
        dbname: "mail",
        role: "maildovecot",
        password: "pw",
        scheme: "BLF-CRYPT",
        mailboxBase: "/home/mail",
        uid: 1,
        gid: 1,
      });
    assert.match(
      sql([{ host: "127.0.0.1", port: 5432 }]),
      /^connect = host=127\.0\.0\.1 port=5432 dbname=mail /m,
    );
    assert.match(
      sql([
        { host: "127.0.0.1", port: 5433 },
        { host: "10.0.0.1", port: 5432 },
      ]),
      /^connect = host=127\.0\.0\.1,10\.0\.0\.1 port=5433,5432 dbname=mail /m,
    );
  });

  it("the primary's pg_hba admits each server's reader and Dovecot's role from its networks", () => {
    const spec = parseConfig(withServers([mx2]));
    const before = renderHbaBlock(spec.database);
    const block = renderHbaBlock(spec.database, [{ name: "", pgHbaAddresses: [] }, mx2]);
    assert.ok(block.startsWith(before), "the loopback lines as earlier vmails wrote them, first");
    assert.deepEqual(block.slice(before.length).trim().split("\n"), [
      "# server mx2",
      "host\tmail\tmailreader\t10.0.0.2/32\tscram-sha-256",
      "host\tmail\tmaildovecot\t10.0.0.2/32\tscram-sha-256",
    ]);
  });
});

describe("a second server under Pulumi's mocks", () => {
  const alone = new MockEngine();
  const withMx2 = new MockEngine();
  let spec: MailSpec;

  before(async () => {
    await alone.install();
    await alone.registerMailServer(parseConfig(withServers([])));
    spec = parseConfig(withServers([mx2]));
    await withMx2.registerMailServer(spec);
  });

  const named = (engine: MockEngine, name: string) =>
    engine.recorded.find((r) => r.name === name) as Recorded;
  const rows = (engine: MockEngine) =>
    engine.recorded.filter(
      (r) => /^vmail:index:Mail(User|Alias|Domain)$/.test(r.type) && !r.component,
    );

  it("has its own resources, each named mail-mx2-*, under a MailHost", () => {
    const host = named(withMx2, "mail-mx2");
    assert.equal(host.type, "vmail:index:MailHost");
    const under = withMx2.recorded.filter(
      (r) => r !== host && withMx2.isUnder(r.resource, host.resource),
    );
    assert.ok(under.length > 10, `only ${under.length} resources under mail-mx2`);
    for (const r of under) assert.match(r.name, /^mail-mx2-/);
    assert.ok(under.some((r) => r.name === "mail-mx2-postfix-maps-domains"));
    assert.ok(under.some((r) => r.name === "mail-mx2-dovecot-auth-sql"));
  });

  it("its files record its server, and its maps read its database hosts", async () => {
    const maps = named(withMx2, "mail-mx2-postfix-maps-domains");
    assert.deepEqual(await valueOf(maps.props.server as object), {
      kind: "ssh",
      host: "mx2.example.com",
      port: 22,
      user: "root",
      hostKey: HOST_KEY,
    });
    assert.match(
      await valueOf(maps.props.content as string),
      /^hosts = inet:127\.0\.0\.1:5433 inet:10\.0\.0\.1:5432$/m,
    );
  });

  it("adding it changes no row and no file of the stack's own server; no row waits for it", async () => {
    const host = named(withMx2, "mail-mx2").resource;
    const before = alone.recorded.filter(
      (r) => !r.component && r.name !== "mail-database-schema-pg-hba",
    );
    for (const old of before) {
      const now = named(withMx2, old.name);
      assert.ok(now, `${old.name} is still there`);
      assert.deepEqual(
        JSON.stringify(await resolved(now.props)),
        JSON.stringify(await resolved(old.props)),
        `${old.name}'s inputs`,
      );
    }
    assert.equal(rows(withMx2).length, rows(alone).length);
    for (const row of rows(withMx2)) assert.equal(withMx2.waitsFor(row, host), false, row.name);
  });
});

/** Every input resolved, as the engine would see it. */
async function resolved(props: Record<string, unknown>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(props)) out[k] = await valueOf(v as object);
  return out;
}
