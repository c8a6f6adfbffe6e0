// vmail's providers against a real PostgreSQL 15 cluster, real postmap and real doveadm:
// tables, pg_hba block and reload, rows created/read/updated/deleted, the reader's rights,
// the rendered .cf files answering Postfix's lookups, and stored hashes Dovecot verifies.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { Client } from "pg";
import { MAP_FILE_OWNERSHIP } from "../../components/postfixMaps";
import { checkpointGuardProvider } from "../../providers/checkpointGuard";
import { closePools } from "../../providers/db";
import { runOnServer } from "../../providers/shell";
import { editSharedFileScript } from "../../core/scripts";
import { HBA_BLOCK, renderHbaBlock } from "../../core/pgHba";
import { FORWARD_BLOCK, mapFilePath, MAP_NAMES, renderMapFile } from "../../core/postfixConfig";
import {
  aliasProvider,
  domainProvider,
  userProvider,
  type UserInputs,
  type UserOutputs,
  type UserRow,
} from "../../providers/rows";
import { pgReloadProvider } from "../../providers/schema";
import { serverFileProvider } from "../../providers/serverFile";
import { createMailDatabase, type MailDatabaseFixture } from "../support/mailDatabaseFixture";
import { doveadmVerifies } from "../support/dovecot";
import {
  startPgCluster,
  storedRow as storedRowIn,
  superuserQuery,
  type PgCluster,
} from "../support/pgCluster";
import { testDatabaseSettings, useLocalContext } from "../support/providers";
import { dbIdentity } from "../../core/target";
import { installSystemDeps } from "../support/systemDeps";

let cluster: PgCluster;
let fixture: MailDatabaseFixture;
let mapsDir: string;
const settings = () => testDatabaseSettings(cluster);

// The providers, called with a row's fields flat (as the tests read best); the resources hand
// them over under `row`, with a user's password apart, and the row's database as `target`.
const target = () => dbIdentity(settings());
type Provider = Required<pulumi.dynamic.ResourceProvider>;
interface FlatUser {
  email: string;
  realname: string | null;
  maildir: string;
  scheme: UserRow["scheme"];
  generateVersion?: number;
  passwordHash?: string;
  password?: string;
}
function nestUser({ passwordHash, password, ...row }: FlatUser): UserInputs {
  return {
    row,
    target: target(),
    ...(passwordHash ? { passwordHash } : {}),
    ...(password ? { password } : {}),
  };
}
function flatRows(p: pulumi.dynamic.ResourceProvider) {
  const provider = p as Provider;
  return {
    create: (row: Record<string, unknown>) => provider.create({ row, target: target() }),
    read: (id: string, row: Record<string, unknown>) =>
      provider.read(id, { row, target: target() }),
    delete: (id: string) => provider.delete(id, { target: target() }),
  };
}
const domains = flatRows(domainProvider);
const aliases = flatRows(aliasProvider);
const userImpl = userProvider as Provider;
const users = {
  create: (u: FlatUser) => userImpl.create(nestUser(u)),
  diff: (id: string, olds: UserOutputs, u: FlatUser) => userImpl.diff(id, olds, nestUser(u)),
  update: (id: string, olds: UserOutputs, u: FlatUser) => userImpl.update(id, olds, nestUser(u)),
  read: (id: string, olds: unknown) => userImpl.read(id, olds),
  delete: (id: string) => userImpl.delete(id, { target: target() }),
};
const files = serverFileProvider as Provider;

function connectAs(role: string, password: string, via: "tcp" | "socket" = "tcp"): Client {
  return new Client({
    host: via === "tcp" ? "127.0.0.1" : cluster.socketDir,
    port: cluster.port,
    user: role,
    password,
    database: "mail",
  });
}

async function asReader<T>(work: (c: Client) => Promise<T>): Promise<T> {
  const client = connectAs("mailreader", fixture.readerPassword);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function postmap(map: string, key: string): string {
  const r = spawnSync("postmap", ["-q", key, `pgsql:${mapFilePath(mapsDir, map as never)}`], {
    encoding: "utf8",
  });
  if (r.status === 1) return ""; // not found
  assert.equal(r.status, 0, `postmap -q ${key} ${map}: ${r.stderr}`);
  return r.stdout.trim();
}

function storedRow(table: "users" | "aliases" | "transports", key: string, value: string) {
  return storedRowIn(cluster, table, key, value);
}

before(async () => {
  installSystemDeps();
  cluster = await startPgCluster();
  useLocalContext(cluster);
  fixture = await createMailDatabase(cluster, settings());
  mapsDir = await mkdtemp(join(tmpdir(), "vmail-maps-"));
});

after(async () => {
  await closePools();
  await cluster?.stop();
  if (mapsDir) await rm(mapsDir, { recursive: true, force: true });
});

describe("tables and schema", () => {
  it("the owner role owns schema public, the three tables, vmail's list of its rows and its schema version", async () => {
    const owners = await superuserQuery<{ name: string; owner: string }>(
      cluster,
      `SELECT tablename AS name, tableowner AS owner FROM pg_tables WHERE schemaname = 'public'
       UNION ALL SELECT 'public', nspowner::regrole::text FROM pg_namespace WHERE nspname = 'public'
       ORDER BY 1`,
      [],
      "mail",
    );
    assert.deepEqual(owners, [
      { name: "aliases", owner: "mailreader_admin" },
      { name: "public", owner: "mailreader_admin" },
      { name: "transports", owner: "mailreader_admin" },
      { name: "users", owner: "mailreader_admin" },
      { name: "vmail_managed_rows", owner: "mailreader_admin" },
      { name: "vmail_schema", owner: "mailreader_admin" },
    ]);
  });

  it("making the tables again changes nothing", async () => {
    await users.create({
      email: "keep@example.com",
      realname: null,
      maildir: "keep/",
      scheme: "BLF-CRYPT",
      generateVersion: 1,
    });
    const { mailTablesProvider } = await import("../../providers/schema");
    await mailTablesProvider.update?.(
      "mail",
      {},
      { database: "mail", ownerRole: "mailreader_admin" },
    );
    assert.ok(await storedRow("users", "email", "keep@example.com"));
    await users.delete("keep@example.com");
  });
});

describe("the checkpoint guard", () => {
  const guard = checkpointGuardProvider as Provider;
  const withSkip = async <T>(value: string | undefined, work: () => Promise<T>): Promise<T> => {
    const before = process.env.PULUMI_SKIP_CHECKPOINTS;
    if (value === undefined) delete process.env.PULUMI_SKIP_CHECKPOINTS;
    else process.env.PULUMI_SKIP_CHECKPOINTS = value;
    try {
      return await work();
    } finally {
      if (before === undefined) delete process.env.PULUMI_SKIP_CHECKPOINTS;
      else process.env.PULUMI_SKIP_CHECKPOINTS = before;
    }
  };
  const inputs = (database: string, roles: string[]) => ({ database, roles });

  it("refuses a run without checkpoints while a role or the database is still to be made", async () => {
    const news = inputs("mail_next", ["mailreader", "mailreader_next"]);
    const result = await withSkip("true", () => guard.check({}, news));
    assert.equal(result.failures?.length, 1);
    assert.match(
      result.failures?.[0].reason ?? "",
      /PULUMI_SKIP_CHECKPOINTS is set, but role mailreader_next, database mail_next must be created first/,
    );
  });

  it("lets it through once they exist, and never looks without the variable", async () => {
    const existing = inputs("mail", ["mailreader", "mailreader_admin"]);
    assert.deepEqual((await withSkip("1", () => guard.check({}, existing))).failures, undefined);
    const missing = inputs("nope", ["nobody"]);
    assert.equal((await withSkip(undefined, () => guard.check({}, missing))).failures, undefined);
    assert.equal((await withSkip("false", () => guard.check({}, missing))).failures, undefined);
  });

  describe("after a move to another PostgreSQL server (pgHost, pgPort)", () => {
    // The cluster starts in a `before` hook: read it when a test runs.
    const here = () => ({ host: cluster.host, port: cluster.port });
    const before = { host: "old-db.example.net", port: 5432 };
    const moved = (database: string, roles: string[]) => [
      { ...inputs(database, roles), server: before },
      { ...inputs(database, roles), server: here() },
    ];

    it("refuses it while the new server lacks the roles or the database, naming them", async () => {
      const [olds, news] = moved("mail_elsewhere", ["mailreader", "mailreader_elsewhere"]);
      const result = await withSkip(undefined, () => guard.check(olds, news));
      assert.equal(result.failures?.length, 1);
      assert.equal(result.failures?.[0].property, "server");
      assert.equal(
        result.failures?.[0].reason,
        `vmail:pgHost or vmail:pgPort moved from postgres old-db.example.net:5432 to postgres ` +
          `${cluster.host}:${cluster.port}, which has no role mailreader_elsewhere, database ` +
          `mail_elsewhere. vmail moves the rows, but not the roles, the database and its grants: ` +
          `make them on postgres ${cluster.host}:${cluster.port} first (pg_dumpall --roles-only ` +
          "and pg_dump of the database, restored there), or point vmail:pgHost and vmail:pgPort back.",
      );
    });

    it("lets it through when they are there; the same server, or a state without one, is no move", async () => {
      const [olds, news] = moved("mail", ["mailreader", "mailreader_admin"]);
      assert.equal((await guard.check(olds, news)).failures, undefined);
      const missing = inputs("nope", ["nobody"]);
      const same = { ...missing, server: here() };
      assert.equal((await guard.check(same, same)).failures, undefined);
      assert.equal((await guard.check(missing, same)).failures, undefined);
    });

    it("records the server: a state without it, or another one, is an update", async () => {
      const [olds, news] = moved("mail", ["mailreader"]);
      assert.deepEqual(await guard.diff("checkpoint-guard", olds, news), { changes: true });
      assert.deepEqual(await guard.diff("checkpoint-guard", news, news), { changes: false });
      const unrecorded = inputs("mail", ["mailreader"]);
      assert.deepEqual(await guard.diff("checkpoint-guard", unrecorded, news), { changes: true });
    });
  });
});

describe("pg_hba.conf block", () => {
  it("is written on top, reloaded, and lets the reader in over TCP with scram", async () => {
    const before = await readFile(cluster.hbaFile, "utf8");
    const content = renderHbaBlock(settings());
    const created = await files.create({ path: cluster.hbaFile, content, block: HBA_BLOCK });
    const after = await readFile(cluster.hbaFile, "utf8");
    assert.ok(
      after.startsWith(
        `# BEGIN ${HBA_BLOCK.marker}\nhost\tmail\tmailreader\t127.0.0.1/32\tscram-sha-256\n`,
      ),
    );
    assert.ok(after.endsWith(before), "the lines that were there stay, unchanged, below the block");
    await pgReloadProvider.create?.({
      trigger: (created.outs as { written: string }).written,
      hbaFile: cluster.hbaFile,
    });
    const rules = await superuserQuery<{
      user_name: string[];
      address: string | null;
      auth_method: string;
    }>(
      cluster,
      "SELECT user_name, address, auth_method FROM pg_hba_file_rules WHERE 'mail' = ANY(database) ORDER BY line_number",
    );
    assert.deepEqual(
      rules.map((r) => [r.user_name[0], r.address, r.auth_method]),
      [
        ["mailreader", "127.0.0.1", "scram-sha-256"],
        ["mailreader", "::1", "scram-sha-256"],
        ["maildovecot", "127.0.0.1", "scram-sha-256"],
        ["maildovecot", "::1", "scram-sha-256"],
        ["mailreader_admin", null, "scram-sha-256"],
      ],
    );
    const one = await asReader(
      async (c) => (await c.query<{ one: number }>("SELECT 1 AS one")).rows[0].one,
    );
    assert.equal(one, 1);
    const wrong = connectAs("mailreader", "not-the-password");
    await assert.rejects(wrong.connect(), /password authentication failed/);
    const owner = connectAs("mailreader_admin", fixture.ownerPassword, "socket");
    await owner.connect();
    await owner.end();
  });

  it("refuses a pgHbaFile PostgreSQL does not read, and one that does not exist", async () => {
    const elsewhere = join(mapsDir, "pg_hba.conf");
    await writeFile(elsewhere, "# not the server's\n");
    await assert.rejects(
      pgReloadProvider.create?.({ trigger: "x", hbaFile: elsewhere }) ?? Promise.resolve(),
      /vmail:pgHbaFile is .*pg_hba\.conf, but PostgreSQL reads .*: set vmail:pgHbaFile to it/,
    );
    const missing = join(mapsDir, "no-such-dir", "pg_hba.conf");
    await assert.rejects(
      files.create({ path: missing, content: "x\n", block: HBA_BLOCK }),
      /does not exist; vmail edits it, it does not create it/,
    );
    assert.equal(existsSync(missing), false, "nothing was created");
  });

  it("edits through a symlink, keeping the link, and never over an edit made meanwhile", async () => {
    const target = join(mapsDir, "hba-target.conf");
    const link = join(mapsDir, "hba-link.conf");
    await writeFile(target, "local all postgres peer\n");
    await symlink(target, link);
    await files.create({ path: link, content: "host mail x 127.0.0.1/32 md5\n", block: HBA_BLOCK });
    assert.ok((await lstat(link)).isSymbolicLink(), "the link stays a link");
    assert.match(await readFile(target, "utf8"), /# BEGIN vmail[\s\S]*local all postgres peer\n$/);
    // What vmail read is no longer what is there: the write is refused, the edit kept.
    const script = editSharedFileScript(target, "0".repeat(64), { mustExist: true });
    const result = await runOnServer({ access: { kind: "local" } }, script, "clobbered\n");
    assert.equal(result.code, 4);
    assert.match(result.stderr, /changed while vmail was editing it/);
    assert.doesNotMatch(await readFile(target, "utf8"), /clobbered/);
  });

  it("root's .forward is never another user's file, not even through a symlink", async () => {
    const bobs = join(mapsDir, "bob");
    await mkdir(bobs);
    await writeFile(join(bobs, ".forward"), "bob@elsewhere.example\n");
    execFileSync("chown", ["-R", "nobody", bobs]);
    await assert.rejects(
      files.create({
        path: join(bobs, ".forward"),
        content: "dave@example.com\n",
        block: FORWARD_BLOCK,
      }),
      /is not root's: it and its directory must belong to root/,
    );
    const link = join(mapsDir, ".forward");
    await symlink(join(bobs, ".forward"), link);
    await assert.rejects(
      files.create({ path: link, content: "dave@example.com\n", block: FORWARD_BLOCK }),
      /is not root's/,
    );
    assert.equal(await readFile(join(bobs, ".forward"), "utf8"), "bob@elsewhere.example\n");
    await rm(link);
    // root's own (in a directory root owns) is edited.
    await files.create({ path: link, content: "dave@example.com\n", block: FORWARD_BLOCK });
    assert.match(await readFile(link, "utf8"), /dave@example\.com/);
  });

  it("is removed on delete, leaving every other line as it was", async () => {
    const text = await readFile(cluster.hbaFile, "utf8");
    await files.delete(cluster.hbaFile, { path: cluster.hbaFile, block: HBA_BLOCK, sha256: "" });
    const without = await readFile(cluster.hbaFile, "utf8");
    assert.ok(!without.includes("mailreader"));
    assert.ok(text.endsWith(without));
    await files.create({
      path: cluster.hbaFile,
      content: renderHbaBlock(settings()),
      block: HBA_BLOCK,
    });
  });
});

describe("rows", () => {
  let dave: UserOutputs;

  it("creates the articles' domain, user and alias", async () => {
    await domains.create({ domain: "example.com", gid: 1002, transport: "virtual:" });
    dave = (
      await users.create({
        email: "dave@example.com",
        realname: "Dave, son of Dave",
        maildir: "dave/",
        scheme: "BLF-CRYPT",
        generateVersion: 1,
      })
    ).outs as UserOutputs;
    await aliases.create({ alias: "dave_sonofdave@example.com", email: "dave@example.com" });
    assert.deepEqual(await storedRow("transports", "domain", "example.com"), {
      domain: "example.com",
      gid: 1002,
      transport: "virtual:",
      receive: true, // the column's default: the row leaves it out
      alias_of: null, // not an alias domain
    });
    const row = await storedRow("users", "email", "dave@example.com");
    assert.equal(row.realname, "Dave, son of Dave");
    assert.equal(row.maildir, "dave/");
    assert.ok(row.created instanceof Date);
    assert.match(row.password as string, /^\{BLF-CRYPT\}\$2[aby]\$/);
    assert.ok(dave.generatedPassword && dave.generatedPassword.length === 24);
    assert.ok(!String(row.password).includes(dave.generatedPassword), "no clear text in the table");
    assert.ok(
      doveadmVerifies(row.password as string, dave.generatedPassword),
      "doveadm verifies it",
    );
  });

  it("a second apply with the same inputs is no change, and keeps the password", async () => {
    const news: FlatUser = {
      email: "dave@example.com",
      realname: "Dave, son of Dave",
      maildir: "dave/",
      scheme: "BLF-CRYPT",
      generateVersion: 1,
    };
    assert.equal((await users.diff("dave@example.com", dave, news)).changes, false);
  });

  it("updates realname and maildir in place, keeping the hash", async () => {
    const news = {
      email: "dave@example.com",
      realname: "David",
      maildir: "david/",
      scheme: "BLF-CRYPT" as const,
      generateVersion: 1,
    };
    assert.equal((await users.diff("dave@example.com", dave, news)).changes, true);
    const updated = (await users.update("dave@example.com", dave, news)).outs as UserOutputs;
    assert.equal(updated.writtenHash, dave.writtenHash);
    assert.equal(updated.generatedPassword, dave.generatedPassword);
    const row = await storedRow("users", "email", "dave@example.com");
    assert.equal(row.realname, "David");
    assert.equal(row.maildir, "david/");
    dave = (
      await users.update("dave@example.com", updated, {
        ...news,
        realname: "Dave, son of Dave",
        maildir: "dave/",
      })
    ).outs as UserOutputs;
  });

  it("rotates a generated password when its version goes up", async () => {
    const news = {
      email: "dave@example.com",
      realname: "Dave, son of Dave",
      maildir: "dave/",
      scheme: "BLF-CRYPT" as const,
      generateVersion: 2,
    };
    const rotated = (await users.update("dave@example.com", dave, news)).outs as UserOutputs;
    assert.notEqual(rotated.generatedPassword, dave.generatedPassword);
    const row = await storedRow("users", "email", "dave@example.com");
    assert.ok(doveadmVerifies(row.password as string, rotated.generatedPassword ?? ""));
    assert.ok(!doveadmVerifies(row.password as string, dave.generatedPassword ?? ""));
    dave = rotated;
  });

  it("read of a row nobody changed gives the state's row back as it was, defaults left out", async () => {
    const read = await users.read("dave@example.com", dave);
    const seen = read.props as UserOutputs;
    // The table holds login, receive, quota and send_as at their defaults; the state leaves them
    // out, and a refresh must not add them (the plugin then keeps no row in the outputs).
    assert.deepEqual(seen.row, dave.row);
    assert.equal(seen.storedHash, dave.writtenHash);
  });

  it("read sees a row changed or deleted behind vmail's back; update puts it back", async () => {
    await superuserQuery(
      cluster,
      "UPDATE users SET realname = 'Mallory', password = '{PLAIN}x' WHERE email = $1",
      ["dave@example.com"],
      "mail",
    );
    const read = await users.read("dave@example.com", dave);
    const seen = read.props as UserOutputs;
    assert.equal(seen.row.realname, "Mallory");
    const news = {
      email: "dave@example.com",
      realname: "Dave, son of Dave",
      maildir: "dave/",
      scheme: "BLF-CRYPT" as const,
      generateVersion: 2,
    };
    assert.equal((await users.diff("dave@example.com", seen, news)).changes, true);
    await users.update("dave@example.com", seen, news);
    const row = await storedRow("users", "email", "dave@example.com");
    assert.equal(row.password, dave.writtenHash, "the hash vmail wrote is back");
    assert.equal(row.realname, "Dave, son of Dave");

    await superuserQuery(
      cluster,
      "DELETE FROM aliases WHERE alias = $1",
      ["dave_sonofdave@example.com"],
      "mail",
    );
    const gone = await aliases.read("dave_sonofdave@example.com", {
      alias: "dave_sonofdave@example.com",
      email: "dave@example.com",
    });
    assert.equal(gone.id, "");
    await aliases.create({ alias: "dave_sonofdave@example.com", email: "dave@example.com" });
  });

  it("hashes a clear-text password with each scheme, verified by doveadm; no diff for the same one", async () => {
    for (const scheme of ["BLF-CRYPT", "SHA512-CRYPT", "ARGON2ID"] as const) {
      const email = `${scheme.toLowerCase()}@example.com`;
      const password = `pa'ss;wo\\rd "ß" ${scheme}`;
      const inputs = { email, realname: null, maildir: `${scheme}/`, scheme, password };
      const outs = (await users.create(inputs)).outs as UserOutputs;
      const row = await storedRow("users", "email", email);
      assert.ok(String(row.password).startsWith(`{${scheme}}`));
      assert.ok(doveadmVerifies(row.password as string, password), `${scheme} verified by doveadm`);
      assert.equal((await users.diff(email, outs, inputs)).changes, false);
      assert.equal((await users.diff(email, outs, { ...inputs, password: "other" })).changes, true);
      await users.delete(email);
    }
  });

  it("stores a doveadm hash as given", async () => {
    const made = execFileSync("doveadm", ["pw", "-s", "SHA512-CRYPT", "-p", "from doveadm"], {
      encoding: "utf8",
    }).trim();
    await users.create({
      email: "given@example.com",
      realname: null,
      maildir: "given/",
      scheme: "BLF-CRYPT",
      passwordHash: made,
    });
    assert.equal((await storedRow("users", "email", "given@example.com")).password, made);
    await users.delete("given@example.com");
  });

  it("round-trips quotes, semicolons, backslashes and non-ASCII unchanged", async () => {
    const odd = `O'Brien; DROP TABLE users; -- \\ "Zoë" 東京`;
    await users.create({
      email: "odd@example.com",
      realname: odd,
      maildir: "odd/",
      scheme: "BLF-CRYPT",
      passwordHash: "{SHA512-CRYPT}$6$abc$def",
    });
    assert.equal((await storedRow("users", "email", "odd@example.com")).realname, odd);
    const read = await users.read("odd@example.com", { row: { email: "odd@example.com" } });
    assert.equal((read.props as UserOutputs).row.realname, odd);
    await users.delete("odd@example.com");
    assert.equal(await storedRow("users", "email", "odd@example.com"), undefined);
  });

  it("deleting a user removes the row only", async () => {
    await users.create({
      email: "gone@example.com",
      realname: null,
      maildir: "gone/",
      scheme: "BLF-CRYPT",
      generateVersion: 1,
    });
    await users.delete("gone@example.com");
    assert.equal(await storedRow("users", "email", "gone@example.com"), undefined);
    assert.equal((await users.read("gone@example.com", {})).id, "");
  });
});

describe("the reader role (Postfix's)", () => {
  it("can SELECT what Postfix's maps read, and no password hash", async () => {
    const n = await asReader(
      async (c) =>
        (await c.query<{ n: number }>("SELECT count(email)::int AS n, min(maildir) FROM users"))
          .rows[0].n,
    );
    assert.ok(n >= 1);
    await asReader((c) => c.query("SELECT * FROM transports, aliases"));
    await assert.rejects(
      asReader((c) => c.query("SELECT password FROM users")),
      /permission denied/,
    );
    await assert.rejects(
      asReader((c) => c.query("SELECT * FROM users")),
      /permission denied/,
    );
  });

  for (const statement of [
    "INSERT INTO aliases (alias, email) VALUES ('lol', 'wut')",
    "UPDATE users SET realname = 'x'",
    "DELETE FROM transports",
    "TRUNCATE aliases",
    "CREATE TABLE evil (x int)",
  ]) {
    it(`is refused: ${statement}`, async () => {
      await assert.rejects(
        asReader((c) => c.query(statement)),
        /permission denied/,
      );
    });
  }

  // (No default privileges, so that a table made later is nobody's to read: vmail's grants come
  // from @pulumi/postgresql, which this fixture only imitates; the program e2e checks it.)
  it("cannot read vmail's list of its rows, which vmail's schema provider makes", async () => {
    await assert.rejects(
      asReader((c) => c.query(`SELECT * FROM vmail_managed_rows`)),
      /permission denied/,
    );
  });
});

describe("Postfix maps, queried with real postmap", () => {
  before(async () => {
    for (const map of MAP_NAMES) {
      await files.create({
        path: mapFilePath(mapsDir, map),
        content: renderMapFile(
          map,
          {
            hosts: [{ host: "127.0.0.1", port: cluster.port }],
            user: "mailreader",
            dbname: "mail",
          },
          fixture.readerPassword,
        ),
        ownership: MAP_FILE_OWNERSHIP,
      });
    }
  });

  it("writes each .cf file as PostfixMaps declares it: 0640 root:postfix", async () => {
    for (const map of MAP_NAMES) {
      const info = await stat(mapFilePath(mapsDir, map));
      assert.equal(info.mode & 0o777, 0o640, map);
      assert.equal(info.uid, 0);
      const postfixGid = Number(
        execFileSync("getent", ["group", "postfix"], { encoding: "utf8" }).split(":")[2],
      );
      assert.equal(info.gid, postfixGid);
    }
  });

  it("answers the articles' lookups", () => {
    assert.equal(postmap("mailboxes", "dave@example.com"), "dave/");
    assert.equal(postmap("aliases", "dave_sonofdave@example.com"), "dave@example.com");
    assert.equal(postmap("transport", "example.com"), "virtual:");
    assert.equal(postmap("domains", "example.com"), "example.com");
    assert.equal(postmap("mailboxes", "nobody@example.com"), "");
    assert.equal(postmap("domains", "example.org"), "");
  });

  it("with a catch-all, an unknown address goes to its target while mailboxes keep their mail", async () => {
    await aliases.create({ alias: "@example.com", email: "dave@example.com" });
    await users.create({
      email: "alice@example.com",
      realname: null,
      maildir: "alice/",
      scheme: "BLF-CRYPT",
      generateVersion: 1,
    });
    // The self-aliases the program adds for a catch-all domain's mailboxes.
    await aliases.create({ alias: "alice@example.com", email: "alice@example.com" });
    await aliases.create({ alias: "dave@example.com", email: "dave@example.com" });
    // virtual(5) looks up user@domain first, then @domain: an unknown address falls to the catch-all
    assert.equal(postmap("aliases", "stranger@example.com"), "");
    assert.equal(postmap("aliases", "@example.com"), "dave@example.com");
    // a mailbox is found at its own key first, so the catch-all never sees its mail
    assert.equal(postmap("aliases", "alice@example.com"), "alice@example.com");
    assert.equal(postmap("aliases", "dave@example.com"), "dave@example.com");
    for (const id of ["@example.com", "alice@example.com", "dave@example.com"])
      await aliases.delete(id);
    await users.delete("alice@example.com");
  });

  it("refresh sees a deleted .cf file; update writes it back", async () => {
    const path = mapFilePath(mapsDir, "aliases");
    const content = renderMapFile(
      "aliases",
      { hosts: [{ host: "127.0.0.1", port: cluster.port }], user: "mailreader", dbname: "mail" },
      fixture.readerPassword,
    );
    const outs = { path, ownership: MAP_FILE_OWNERSHIP, sha256: "" };
    const present = await files.read(path, outs);
    assert.equal(present.id, path);
    await rm(path);
    assert.equal((await files.read(path, outs)).id, "");
    await files.create({ path, content, ownership: outs.ownership });
    assert.equal(postmap("aliases", "dave_sonofdave@example.com"), "dave@example.com");
  });
});
