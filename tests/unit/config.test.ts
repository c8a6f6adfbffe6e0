// The config parser: the project's own stack files parse, defaults agree with Pulumi.yaml,
// and each input rule refuses bad input with a message naming the entry and the rule.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, DEFAULTS, findAliasLoop, parseConfig } from "../../core/config";
import { projectFile, rawConfigFor, REPO } from "../support/stackFiles";
import { accountsJsonSchema } from "../../core/accountsSchema";

const DOVEADM_BLF = "{BLF-CRYPT}$2y$05$uo3XT8PqCkPHm6uZ8GgEd.lcCsY9/Ld4vLDlQ3xw8V7F9I5IQHqLa";

/** The dev stack with some keys replaced. */
function dev(overrides: Record<string, unknown>, secretKeys: string[] = []) {
  return parseConfig(rawConfigFor("dev", overrides, secretKeys));
}

/** The problems parseConfig reports for the dev stack with `overrides`. */
function problems(overrides: Record<string, unknown>, secretKeys: string[] = []): string[] {
  try {
    dev(overrides, secretKeys);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail("expected the config to be refused");
}

function assertRefused(overrides: Record<string, unknown>, ...fragments: string[]): void {
  const found = problems(overrides);
  assert.ok(
    found.some((p) => fragments.every((f) => p.includes(f))),
    `no problem mentions ${JSON.stringify(fragments)}; got:\n${found.join("\n")}`,
  );
}

const users = (...list: object[]) => ({ users: list });
const dave = { address: "dave@example.com", realname: "Dave, son of Dave", maildir: "dave/" };

describe("the project's stack files", () => {
  it("dev parses to the articles' example data", () => {
    const spec = dev({});
    assert.deepEqual(spec.domains, ["example.com"]);
    assert.deepEqual(
      spec.users.map((u) => [u.address, u.realname, u.maildir, u.scheme, u.password.kind]),
      [["dave@example.com", "Dave, son of Dave", "dave/", "BLF-CRYPT", "generated"]],
    );
    assert.deepEqual(spec.aliases, [
      {
        address: "dave_sonofdave@example.com",
        domain: "example.com",
        targets: ["dave@example.com"],
        automatic: false,
      },
    ]);
    assert.equal(spec.protect, false);
    assert.deepEqual(spec.own.server, { kind: "local" });
    assert.equal(spec.database.serverPort, 5432);
  });

  it("prod parses: ssh with a pinned host key, protected, proxy maps", () => {
    const spec = parseConfig(rawConfigFor("prod", {}, ["sshPrivateKey"]));
    assert.equal(spec.own.server.kind, "ssh");
    assert.equal(spec.protect, true);
    assert.equal(spec.own.postfix.proxy, true);
    assert.equal(spec.database.port, 15432);
    assert.equal(spec.database.serverPort, 5432);
    assert.equal(spec.users.find((u) => u.address === "bob@example.org")?.password.kind, "hash");
  });

  it("Pulumi.yaml declares every scalar default the parser uses, with the same value", () => {
    const declared = projectFile().config;
    for (const [key, value] of Object.entries(DEFAULTS)) {
      const decl = declared[`vmail:${key}`];
      assert.ok(decl, `vmail:${key} is not declared in Pulumi.yaml`);
      assert.deepEqual(decl.default, value, `default of vmail:${key}`);
    }
    for (const [key, decl] of Object.entries(declared)) {
      assert.ok(decl.type, `${key} has a type`);
      assert.ok(decl.description, `${key} has a description`);
    }
    // The CLI refuses a secret key with a default (it would copy the default in as plain text)
    // and requires a declared key without one: so the optional secret is left undeclared.
    assert.equal(declared["vmail:pgAdminPassword"].secret, true);
    assert.equal(declared["vmail:pgAdminPassword"].default, undefined);
    assert.equal(declared["vmail:sshPrivateKey"], undefined);
  });
});

describe("normalization", () => {
  it("folds addresses and domains to lower case, as Postfix looks them up", () => {
    const spec = dev({
      domains: ["Example.COM"],
      ...users({ ...dave, address: "Dave@Example.Com" }),
      aliases: [{ address: "Dave_SonOfDave@EXAMPLE.com", to: "DAVE@example.com" }],
    });
    assert.deepEqual(spec.domains, ["example.com"]);
    assert.equal(spec.users[0].address, "dave@example.com");
    assert.deepEqual(spec.aliases[0].targets, ["dave@example.com"]);
  });

  it("gives a user a maildir of domain/local/ by default", () => {
    const spec = dev({ ...users({ address: "erin@example.com" }), aliases: [] });
    assert.equal(spec.users[0].maildir, "example.com/erin/");
  });

  it("shields every mailbox of a catch-all domain with a self-alias", () => {
    const spec = dev({
      ...users(dave, { address: "erin@example.com" }),
      aliases: [
        { address: "@example.com", to: "dave@example.com" },
        { address: "erin@example.com", to: "dave@example.com" },
      ],
    });
    const automatic = spec.aliases.filter((a) => a.automatic);
    // erin has an explicit alias, so only dave gets the shield
    assert.deepEqual(
      automatic.map((a) => [a.address, a.targets]),
      [["dave@example.com", ["dave@example.com"]]],
    );
  });

  it("adds no self-alias where the domain has no catch-all", () => {
    assert.equal(
      dev({}).aliases.some((a) => a.automatic),
      false,
    );
  });
});

describe("bad input is refused, naming the entry and the rule", () => {
  it("malformed addresses", () => {
    assertRefused(users({ address: "dave" }), "users[0] (dave)", "local@domain");
    assertRefused(users({ address: "da ve@example.com" }), "users[0]", "ASCII without spaces");
    assertRefused(users({ address: "dävé@example.com" }), "users[0]", "ASCII");
    assertRefused(users({ address: ".dave@example.com" }), "users[0]", "no leading");
    assertRefused(users({ address: "da..ve@example.com" }), "users[0]", "double dot");
    assertRefused(users({ address: "dave@example" }), "users[0]", "two labels");
    assertRefused(users({ address: "d'ave@example.com" }), "users[0]", "a-z, 0-9");
    assertRefused(users({ address: "|cmd@example.com" }), "users[0]", "a-z, 0-9");
    assertRefused(users({ address: "@example.com" }), "users[0]", "catch-all", "alias");
    assertRefused({ domains: ["exa_mple.com"] }, "domains[0]", "labels of a-z");
  });

  it("duplicates, also after lower-casing", () => {
    assertRefused(
      users(dave, { address: "DAVE@example.com", maildir: "d2/" }),
      "users[1] (DAVE@example.com)",
      "duplicate of vmail:users[0]",
    );
    assertRefused({ domains: ["example.com", "EXAMPLE.com"] }, "domains[1]", "duplicate");
    assertRefused(
      {
        aliases: [
          { address: "a@example.com", to: "dave@example.com" },
          { address: "A@example.com", to: "dave@example.com" },
        ],
      },
      "aliases[1] (A@example.com)",
      "duplicate of vmail:aliases[0]",
    );
    assertRefused(
      users(dave, { address: "erin@example.com", maildir: "dave/" }),
      "users[1]",
      "already the maildir of dave@example.com",
    );
  });

  it("users and aliases in undeclared domains", () => {
    assertRefused(
      users({ address: "x@example.org" }),
      "users[0]",
      "example.org is not in vmail:domains",
    );
    assertRefused(
      { aliases: [{ address: "x@example.org", to: "dave@example.com" }] },
      "aliases[0]",
      "not in vmail:domains",
    );
  });

  it("alias targets that do not exist in a hosted domain", () => {
    assertRefused(
      { aliases: [{ address: "x@example.com", to: "nobody@example.com" }] },
      "aliases[0] (x@example.com)",
      "neither a user nor an alias",
    );
  });

  it("alias loops, but not self-aliases", () => {
    assertRefused(
      {
        aliases: [
          { address: "a@example.com", to: "b@example.com" },
          { address: "b@example.com", to: ["dave@example.com", "a@example.com"] },
        ],
      },
      "alias loop",
      "a@example.com -> b@example.com -> a@example.com",
    );
    assert.equal(findAliasLoop([{ address: "a@x.com", targets: ["a@x.com"] }]), undefined);
  });

  it("maildirs with '..', absolute, or without the trailing '/'", () => {
    assertRefused(users({ ...dave, maildir: "../etc/" }), "users[0]", "'..'");
    assertRefused(users({ ...dave, maildir: "/var/mail/dave/" }), "users[0]", "no leading '/'");
    assertRefused(users({ ...dave, maildir: "dave" }), "users[0]", "ends in '/'");
    assertRefused(users({ ...dave, maildir: "da ve/" }), "users[0]", "maildir");
  });

  it("shell or SQL metacharacters in names and paths", () => {
    assertRefused(
      { readerRole: "mail; DROP TABLE users" },
      "vmail:readerRole",
      "a name starts with",
    );
    assertRefused({ mailUser: "mail$(reboot)" }, "vmail:mailUser", "a name starts with");
    assertRefused(
      { mailboxBase: "/home/mail; rm -rf /" },
      "vmail:mailboxBase",
      "no spaces or shell",
    );
    assertRefused({ postfixMapsDir: "etc/postfix" }, "vmail:postfixMapsDir", "absolute");
    assertRefused({ pgHbaFile: "/etc/../tmp/hba" }, "vmail:pgHbaFile", "'..'");
    assertRefused({ readerRole: "mailreader_admin" }, "vmail:readerRole", "two different roles");
  });

  it("the Unix side: no root or system ids for the mail owner, no system mailbox base", () => {
    assertRefused({ mailUser: "root" }, "vmail:mailUser", "the mail owner is not root");
    assertRefused({ mailGroup: "root" }, "vmail:mailGroup", "the mail owner is not root");
    assertRefused({ mailUid: 101 }, "vmail:mailUid", "below are system accounts");
    assertRefused({ mailGid: 999 }, "vmail:mailGid", "below are system accounts");
    assertRefused({ mailUid: 65000 }, "vmail:mailUid", "from 1000 to 60000", "nobody's 65534");
    assertRefused({ mailGid: 60001 }, "vmail:mailGid", "from 1000 to 60000");
    assert.equal(dev({ mailUid: 60000, mailGid: 1000 }).own.owner.uid, 60000);
    for (const base of ["/", "/etc", "/var/", "/usr/local/mail", "/home"]) {
      assertRefused({ mailboxBase: base }, "vmail:mailboxBase", "mailbox base");
    }
    assert.equal(
      dev({ mailboxBase: "/var/mail/vhosts" }).own.owner.mailboxBase,
      "/var/mail/vhosts",
    );
    assertRefused({ readerPasswordVersion: 0 }, "vmail:readerPasswordVersion", "from 1 up");
    for (const file of ["/etc/aliases", "/root/forward", "/home/bob/.forward.bak"]) {
      assertRefused({ rootForwardFile: file }, "vmail:rootForwardFile", "a file named .forward");
    }
    assertRefused(
      { rootForwardFile: "/etc/.forward" },
      "vmail:rootForwardFile",
      "system directory",
    );
    assert.equal(
      dev({ rootForwardFile: "/srv/root/.forward" }).own.rootForwardFile,
      "/srv/root/.forward",
    );
  });

  it("Dovecot: its role is a role of its own; off, it has none", () => {
    assertRefused({ dovecotRole: "mailreader" }, "vmail:dovecotRole", "a role of its own");
    assertRefused({ dovecotRole: "mailreader_admin" }, "vmail:dovecotRole", "a role of its own");
    assertRefused({ dovecotPasswordVersion: 0 }, "vmail:dovecotPasswordVersion", "from 1 up");
    assertRefused({ dovecotConfigDir: "etc/dovecot" }, "vmail:dovecotConfigDir", "absolute");
    assert.equal(dev({}).database.dovecotRole, "maildovecot");
    assert.deepEqual(dev({ dovecot: false, submission: false }).database.dovecotRole, undefined);
    assert.equal(dev({ dovecot: false, submission: false }).own.dovecot.enabled, false);
  });

  it("a misspelt key, naming the key it most likely meant", () => {
    assertRefused(
      { mailboxbase: "/srv/mail" },
      "vmail:mailboxbase",
      "did you mean vmail:mailboxBase?",
    );
    assertRefused({ domian: '["example.com"]' }, "vmail:domian", "did you mean vmail:domains?");
    assertRefused({ colour: "blue" }, "vmail:colour: unknown key");
  });

  it("a refused user is reported once, not again for every alias pointing to it", () => {
    const found = problems({
      ...users(dave, { address: "erin@example.com", maildir: "../x/" }),
      aliases: [
        { address: "a@example.com", to: "erin@example.com" },
        { address: "b@example.com", to: ["dave@example.com", "erin@example.com"] },
      ],
    });
    assert.equal(found.length, 1, found.join("\n"));
    assert.match(found[0], /users\[1\] \(erin@example\.com\): maildir/);
  });

  it("verify-ca without the CA to verify against", () => {
    assertRefused(
      { pgSslMode: "verify-ca" },
      "vmail:pgSslRootCert",
      "required with pgSslMode verify-ca",
    );
    const spec = dev({ pgSslMode: "verify-ca", pgSslRootCert: "/etc/ssl/vmail-ca.crt" });
    assert.equal(spec.database.sslRootCert, "/etc/ssl/vmail-ca.crt");
  });

  it("real names of at most 128 characters", () => {
    assertRefused(users({ ...dave, realname: "x".repeat(129) }), "users[0]", "at most 128");
    assert.equal(dev(users({ ...dave, realname: "é".repeat(128) })).users[0].realname?.length, 128);
  });

  it("control characters in a real name (quotes, backslashes and non-ASCII are fine)", () => {
    assertRefused(users({ ...dave, realname: "Dave\nBcc: x" }), "users[0]", "control characters");
    const spec = dev(users({ ...dave, realname: `O'Brien; \\ "Zoë"` }));
    assert.equal(spec.users[0].realname, `O'Brien; \\ "Zoë"`);
  });

  it("unknown hash schemes, and doveadm hashes with an unknown or weak prefix", () => {
    assertRefused({ passwordScheme: "MD5" }, "vmail:passwordScheme", "must be one of BLF-CRYPT");
    assertRefused(users({ ...dave, scheme: "PLAIN" }), "users[0]", "scheme must be one of");
    assertRefused(users({ ...dave, passwordHash: "{FOO}abc" }), "users[0]", "passwordHash");
    assertRefused(users({ ...dave, passwordHash: "{PLAIN}secret" }), "users[0]", "refused");
    assertRefused(users({ ...dave, passwordHash: "$2y$05$nohashprefix" }), "users[0]", "{SCHEME}");
    assert.equal(dev(users({ ...dave, passwordHash: DOVEADM_BLF })).users[0].password.kind, "hash");
  });

  it("a clear-text password that is not stored as a secret", () => {
    assertRefused(users({ ...dave, password: "hunter2" }), "users[0]", "--secret --path");
    const spec = dev(users({ ...dave, password: "hunter2" }), ["users"]);
    assert.deepEqual(spec.users[0].password, { kind: "clear", clear: "hunter2" });
  });

  it("conflicting password sources and bad rotation numbers", () => {
    assertRefused(
      users({ ...dave, passwordHash: DOVEADM_BLF, password: "x" }),
      "users[0]",
      "either",
    );
    assertRefused(users({ ...dave, passwordVersion: 0 }), "users[0]", "passwordVersion");
    assertRefused(users({ ...dave, colour: "blue" }), "users[0]", "unknown field(s) colour");
  });

  it("ssh without a host, a pinned host key or a secret private key", () => {
    const found = problems({ serverMode: "ssh" });
    for (const key of ["vmail:sshHost", "vmail:sshHostKey", "vmail:sshPrivateKey"]) {
      assert.ok(
        found.some((p) => p.startsWith(key)),
        `${key} missing from:\n${found.join("\n")}`,
      );
    }
    assertRefused({ serverMode: "telnet" }, "vmail:serverMode", "local, ssh");
    assertRefused({ serverMode: "ssh", sshPort: 70000 }, "vmail:sshPort", "1 to 65535");
  });

  it("reports every problem at once, and says nothing was changed", () => {
    try {
      dev({ domains: ["bad domain"], readerRole: "Bad-Role" });
      assert.fail("expected a ConfigError");
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.ok(error.problems.length >= 2);
      assert.match(error.message, /nothing was changed/);
    }
  });
});

describe("a user kept from logging in (login)", () => {
  it("may log in unless the entry says login: false", () => {
    const spec = dev(users(dave, { address: "gwen@example.com", login: false }));
    assert.deepEqual(
      spec.users.map((u) => [u.address, u.login]),
      [
        ["dave@example.com", true],
        ["gwen@example.com", false],
      ],
    );
  });

  it("refuses a login that is not true or false", () => {
    assertRefused(
      users({ address: "gwen@example.com", login: "no" }),
      "vmail:users[0]",
      "login is true or false",
    );
  });
});

describe("retired targets (vmail:retiredTargets)", () => {
  it("takes databases and servers as vmail's messages name them", () => {
    const retired = ["postgres old-db.example.net:5432/mail", "ssh root@old-mx.example.net:22"];
    assert.doesNotThrow(() => dev({ retiredTargets: retired }));
  });

  it("refuses an entry that names no target, and the targets the stack uses now", () => {
    assertRefused(
      { retiredTargets: ["old-db:5432"] },
      "vmail:retiredTargets[0]",
      "'postgres HOST:PORT/DATABASE' or 'ssh USER@HOST:PORT'",
    );
    assertRefused(
      { retiredTargets: ["postgres localhost:5432/mail"] },
      "vmail:retiredTargets[0]",
      "is where the stack points now",
    );
  });
});

describe("the accounts file (vmail:accountsFile)", () => {
  const file = (data: unknown) => ({ path: "accounts.yaml", data });
  const parseWith = (data: unknown) => parseConfig(rawConfigFor("dev"), file(data));

  it("adds its domains, users and aliases to the stack config's", () => {
    const spec = parseWith({
      domains: ["example.org"],
      users: [{ address: "Zed@Example.org", passwordHash: DOVEADM_BLF }],
      aliases: [{ address: "@example.org", to: "zed@example.org" }],
    });
    assert.deepEqual(spec.domains, ["example.com", "example.org"]);
    assert.deepEqual(
      spec.users.map((u) => u.address),
      ["dave@example.com", "zed@example.org"],
    );
    assert.ok(spec.aliases.some((a) => a.address === "zed@example.org" && a.automatic));
  });

  it("names the file and the entry in its messages, also for duplicates across both", () => {
    try {
      parseWith({
        domains: ["example.com"],
        users: [{ address: "dave@example.com", maildir: "x/" }],
      });
      assert.fail("expected a ConfigError");
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.ok(
        error.problems.some(
          (p) =>
            p.startsWith("accounts.yaml: domains[0]") &&
            p.includes("duplicate of vmail:domains[0]"),
        ),
      );
      assert.ok(
        error.problems.some(
          (p) =>
            p.startsWith("accounts.yaml: users[0] (dave@example.com)") && p.includes("duplicate"),
        ),
      );
    }
  });

  it("refuses clear-text passwords (the file is not encrypted) and a malformed document", () => {
    assert.throws(
      () => parseWith({ users: [{ address: "zed@example.com", password: "hunter2" }] }),
      /accounts\.yaml: users\[0\] \(zed@example\.com\): a clear-text password cannot be kept in the accounts file/,
    );
    assert.throws(() => parseWith(["not", "a", "mapping"]), /accounts\.yaml: must be a mapping/);
    assert.throws(() => parseWith({ users: "dave" }), /accounts\.yaml: must be a mapping/);
  });
});

describe("the accounts file's JSON Schema", () => {
  it("accounts.schema.json is what core/accountsSchema.ts says (npm run schema writes it)", () => {
    const committed: unknown = JSON.parse(readFileSync(join(REPO, "accounts.schema.json"), "utf8"));
    assert.deepEqual(committed, accountsJsonSchema());
  });
});
