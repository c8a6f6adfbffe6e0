// Smoke test of tests/support/pgCluster.ts: a real throwaway PostgreSQL 15.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import * as fs from "node:fs/promises";
import { Client } from "pg";
import { startPgCluster, superuserQuery, type PgCluster } from "../support/pgCluster";

void describe("throwaway PostgreSQL cluster", () => {
  let cluster: PgCluster;
  let startMs = 0;

  before(async () => {
    const t0 = performance.now();
    cluster = await startPgCluster();
    startMs = performance.now() - t0;
  });
  after(() => cluster?.stop());

  void it("starts PostgreSQL 15 on 127.0.0.1 at a free port (start time in the diagnostics)", async (t) => {
    t.diagnostic(`started in ${startMs.toFixed(0)} ms on port ${cluster.port}`);
    const [row] = await superuserQuery<{ v: string; enc: string; su: boolean }>(
      cluster,
      "SELECT current_setting('server_version_num') AS v, pg_encoding_to_char(encoding) AS enc, " +
        "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS su " +
        "FROM pg_database WHERE datname = current_database()",
    );
    assert.match(row.v, /^15\d{4}$/);
    assert.equal(row.enc, "UTF8");
    assert.equal(row.su, true);
    assert.equal(cluster.host, "127.0.0.1");
  });

  void it("connects with the connection string and over the unix socket", async () => {
    for (const config of [
      { connectionString: cluster.connectionString },
      { ...cluster.clientConfig(), host: cluster.socketDir },
    ]) {
      const client = new Client(config);
      await client.connect();
      const r = await client.query<{ one: number }>("SELECT 1 AS one");
      assert.equal(r.rows[0].one, 1);
      await client.end();
    }
    assert.ok(existsSync(`${cluster.socketDir}/.s.PGSQL.${cluster.port}`));
  });

  void it("refuses a wrong password (scram-sha-256, over TCP and the socket)", async () => {
    for (const host of ["127.0.0.1", cluster.socketDir]) {
      const client = new Client({ ...cluster.clientConfig(), host, password: "not-the-password" });
      await assert.rejects(client.connect(), (e: Error & { code?: string }) => {
        assert.equal(e.code, "28P01"); // invalid_password
        assert.match(e.message, /password authentication failed for user "postgres"/);
        return true;
      });
      await client.end().catch(() => undefined);
    }
    const rules = await superuserQuery<{ auth_method: string }>(
      cluster,
      "SELECT DISTINCT auth_method FROM pg_hba_file_rules",
    );
    assert.deepEqual(
      rules.map((r) => r.auth_method),
      ["scram-sha-256"],
    );
  });

  void it("keeps the superuser password off every command line and out of the data dir", () => {
    const ps = spawnSync("ps", ["-eo", "args"], { encoding: "utf8" }).stdout;
    assert.ok(ps.includes(cluster.dataDir), "postgres is running from the temp dir");
    assert.ok(!ps.includes(cluster.superPassword));
    const base = `${cluster.dataDir}/..`;
    assert.deepEqual(readdirSync(base).sort(), ["data", "socket"], "the pwfile is gone");
  });

  void it("reload() applies a pg_hba.conf change to the next connection", async () => {
    await superuserQuery(cluster, "CREATE ROLE probe LOGIN PASSWORD 'probe-pw'");
    const probe = () =>
      new Client({ ...cluster.clientConfig(), user: "probe", password: "probe-pw" }).connect();
    const c = await probe();
    await c.end();
    const hba = await fs.readFile(cluster.hbaFile, "utf8");
    await fs.writeFile(cluster.hbaFile, `host all probe 127.0.0.1/32 reject\n${hba}`);
    await cluster.reload();
    await assert.rejects(probe(), /pg_hba.conf rejects connection/);
    await fs.writeFile(cluster.hbaFile, hba);
    await cluster.reload();
    await (await probe()).end();
  });
});

void describe("stopping a cluster", () => {
  void it("stops the server and removes the data dir; a second stop is harmless", async () => {
    const cluster = await startPgCluster();
    const base = `${cluster.dataDir}/..`;
    assert.ok(existsSync(cluster.dataDir));
    await cluster.stop();
    assert.equal(existsSync(cluster.dataDir), false);
    assert.equal(existsSync(base), false);
    await cluster.stop();
    const client = new Client({ ...cluster.clientConfig(), connectionTimeoutMillis: 2000 });
    await assert.rejects(client.connect(), /ECONNREFUSED/);
  });

  void it("runs two clusters side by side on different ports", async () => {
    const [a, b] = await Promise.all([startPgCluster(), startPgCluster()]);
    try {
      assert.notEqual(a.port, b.port);
      assert.notEqual(a.superPassword, b.superPassword);
      await superuserQuery(a, "SELECT 1");
      await superuserQuery(b, "SELECT 1");
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
