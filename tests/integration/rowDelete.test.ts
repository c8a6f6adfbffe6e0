// When a delete may count a row as gone: a dropped database or mail table holds none, but a
// dropped list of vmail's rows (vmail_managed_rows) must fail the delete and keep the row, and
// the list says so itself in a COMMENT. A real throwaway cluster; the providers driven directly.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { closePools } from "../../providers/db";
import {
  aliasProvider,
  userProvider,
  type UserInputs,
  type UserOutputs,
} from "../../providers/rows";
import { mailTablesProvider } from "../../providers/schema";
import { dbIdentity } from "../../core/target";
import { createMailDatabase } from "../support/mailDatabaseFixture";
import { startPgCluster, storedRow, superuserQuery, type PgCluster } from "../support/pgCluster";
import { testDatabaseSettings, useLocalContext } from "../support/providers";
import { installSystemDeps } from "../support/systemDeps";

type Provider = Required<pulumi.dynamic.ResourceProvider>;
const users = userProvider as Provider;
const aliases = aliasProvider as Provider;
const tables = mailTablesProvider as Provider;

let cluster: PgCluster;
const target = () => dbIdentity(testDatabaseSettings(cluster));
const tablesInputs = () => ({ database: "mail", ownerRole: "mailreader_admin", target: target() });
const inMail = (sql: string) => superuserQuery(cluster, sql, [], "mail");

function userInputs(email: string): UserInputs {
  const row = { email, realname: null, maildir: "kept/", scheme: "BLF-CRYPT" as const };
  return { row: { ...row, generateVersion: 1 }, target: target() };
}

before(async () => {
  installSystemDeps();
  cluster = await startPgCluster();
  useLocalContext(cluster);
  await createMailDatabase(cluster, testDatabaseSettings(cluster));
});

after(async () => {
  await closePools();
  await cluster?.stop();
});

describe("deleting a row", () => {
  it("without vmail's list of its rows fails, naming the row, database and table, and keeps the row", async () => {
    const outs = (await users.create(userInputs("kept@example.com"))).outs as UserOutputs;
    await inMail("DROP TABLE vmail_managed_rows");
    await assert.rejects(
      users.delete("kept@example.com", outs),
      /not deleting users row kept@example\.com from postgres 127\.0\.0\.1:\d+\/mail: vmail's list of the rows it wrote \(table vmail_managed_rows\) is missing there\. `pulumi up --refresh` makes it again/,
    );
    assert.ok(await storedRow(cluster, "users", "email", "kept@example.com"), "still there");

    // What `pulumi up --refresh` does: the refresh finds the table missing, the up makes it again.
    assert.equal((await tables.read("mail", tablesInputs())).id, "");
    await tables.create(tablesInputs());
    await users.delete("kept@example.com", outs);
    assert.equal(await storedRow(cluster, "users", "email", "kept@example.com"), undefined);
  });

  it("from a mail table dropped since succeeds", async () => {
    await inMail("DROP TABLE aliases");
    try {
      await aliases.delete("x@example.com", { row: { alias: "x@example.com" }, target: target() });
    } finally {
      await tables.create(tablesInputs());
    }
  });

  it("from a database dropped since succeeds", async () => {
    const gone = dbIdentity({ host: cluster.host, port: cluster.port, name: "dropped_since" });
    await aliases.delete("x@example.com", { row: { alias: "x@example.com" }, target: gone });
  });
});

describe("vmail's list of its rows", () => {
  const comment = async () =>
    (await inMail("SELECT obj_description('vmail_managed_rows'::regclass, 'pg_class') AS text"))[0]
      .text as string | null;

  it("says what it is and not to drop it", async () => {
    assert.match((await comment()) ?? "", /^vmail's record of .* Do not drop/);
  });

  it("gets its comment in a database whose tables older statements made", async () => {
    const outs = (await tables.create(tablesInputs())).outs as Record<string, unknown>;
    await inMail("COMMENT ON TABLE vmail_managed_rows IS NULL");
    const older = { ...outs, ddl: undefined };
    assert.equal((await tables.diff("mail", outs, tablesInputs())).changes, false);
    assert.equal((await tables.diff("mail", older, tablesInputs())).changes, true);
    await tables.update("mail", older, tablesInputs());
    assert.match((await comment()) ?? "", /Do not drop/);
  });
});
