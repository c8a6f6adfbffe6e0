// Schema migrations on a real cluster: a database whose tables an earlier vmail made (schema
// version 1: no users.login, no recorded version) is brought to today's version by MailTables'
// update, its rows kept as they were and the new column at its default; running it again changes
// nothing; a database a newer vmail converged is refused, untouched. The providers driven
// directly.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { closePools } from "../../providers/db";
import { mailTablesProvider } from "../../providers/schema";
import { tableDdl } from "../../core/sql";
import { SCHEMA_VERSION, TABLES, type TableSpec } from "../../core/tables";
import { dbIdentity } from "../../core/target";
import { createMailDatabase } from "../support/mailDatabaseFixture";
import { startPgCluster, storedRow, superuserQuery, type PgCluster } from "../support/pgCluster";
import { testDatabaseSettings, useLocalContext } from "../support/providers";
import { installSystemDeps } from "../support/systemDeps";

const tables = mailTablesProvider as Required<pulumi.dynamic.ResourceProvider>;
let cluster: PgCluster;
const inputs = () => ({
  database: "mail",
  ownerRole: "mailreader_admin",
  target: dbIdentity(testDatabaseSettings(cluster)),
});
const inMail = (sql: string, params: unknown[] = []) =>
  superuserQuery(cluster, sql, params, "mail");

/** The tables as schema version 1 made them: the description's version 1 columns only. */
function versionOneDdl(): string[] {
  return Object.values(TABLES as Record<string, TableSpec>).map(
    (t) => tableDdl({ ...t, columns: t.columns.filter((c) => c.since === 1) })[0],
  );
}

before(async () => {
  installSystemDeps();
  cluster = await startPgCluster();
  useLocalContext(cluster);
  await createMailDatabase(cluster, testDatabaseSettings(cluster), { tables: false });
});

after(async () => {
  await closePools();
  await cluster?.stop();
});

describe("migrating the mail tables", () => {
  it("brings an earlier vmail's tables to today's version, rows kept, the new column at its default", async () => {
    for (const statement of versionOneDdl()) await inMail(statement);
    for (const t of ["users", "transports", "aliases"]) {
      await inMail(`ALTER TABLE ${t} OWNER TO mailreader_admin`);
    }
    await inMail(
      "INSERT INTO users (email, password, maildir) VALUES ('dave@example.com', '{BLF-CRYPT}x', 'dave/')",
    );
    const olderState = { ...inputs(), ddl: "made by an earlier vmail" };
    assert.equal((await tables.diff("mail", olderState, inputs())).changes, true);
    const outs = (await tables.update("mail", olderState, inputs())).outs as Record<
      string,
      unknown
    >;
    assert.equal(outs.schemaVersion, SCHEMA_VERSION);
    const dave = await storedRow(cluster, "users", "email", "dave@example.com");
    assert.equal(dave.password, "{BLF-CRYPT}x");
    assert.equal(dave.maildir, "dave/");
    assert.equal(dave.login, true);
    const [{ version }] = await inMail("SELECT version FROM vmail_schema");
    assert.equal(version, SCHEMA_VERSION);
    // Run again (a killed run's retry, or a refresh's repair): nothing changes, one version row.
    await tables.update("mail", outs, inputs());
    const rows = await inMail("SELECT version FROM vmail_schema");
    assert.deepEqual(rows, [{ version: SCHEMA_VERSION }]);
  });

  it("refuses tables a newer vmail converged, and changes nothing", async () => {
    await inMail("UPDATE vmail_schema SET version = $1", [SCHEMA_VERSION + 1]);
    try {
      await assert.rejects(
        tables.update("mail", { ...inputs(), ddl: "older" }, inputs()),
        new RegExp(
          `are at vmail's schema version ${SCHEMA_VERSION + 1}, newer than this vmail's ${SCHEMA_VERSION}`,
        ),
      );
      const [{ version }] = await inMail("SELECT version FROM vmail_schema");
      assert.equal(version, SCHEMA_VERSION + 1, "the transaction was rolled back");
    } finally {
      await inMail("UPDATE vmail_schema SET version = $1", [SCHEMA_VERSION]);
    }
  });
});
