// The admin connection's sslmode against a throwaway cluster serving TLS with a certificate from
// a CA made here: verify-ca and verify-full really verify, require only encrypts.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { closePools, poolFor } from "../../providers/db";
import type { DatabaseSettings } from "../../core/config";
import { startPgCluster, type PgCluster } from "../support/pgCluster";
import { testDatabaseSettings } from "../support/providers";
import { serveTls, type ClusterTls } from "../support/tls";

let cluster: PgCluster;
let tls: ClusterTls;

/** The settings of a connection with `sslMode`, to `host`, checking against `ca`. */
function settings(sslMode: string, host: string, ca?: "ca" | "rogue"): DatabaseSettings {
  const caFile = { ca: tls.caFile, rogue: tls.rogueCaFile };
  return {
    ...testDatabaseSettings(cluster),
    host,
    sslMode,
    sslRootCert: ca ? caFile[ca] : undefined,
  };
}

async function encrypted(s: DatabaseSettings): Promise<boolean> {
  const pool = poolFor({ settings: s, adminPassword: cluster.superPassword }, "postgres");
  const r = await pool.query<{ ssl: boolean }>(
    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
  );
  return r.rows[0].ssl;
}

before(async () => {
  cluster = await startPgCluster();
  tls = await serveTls(cluster);
});

after(async () => {
  await closePools();
  await cluster?.stop();
  tls?.remove();
});

describe("the admin connection's sslmode", () => {
  it("verify-ca: the right CA connects (any name), another CA is refused", async () => {
    assert.equal(await encrypted(settings("verify-ca", "127.0.0.1", "ca")), true);
    await assert.rejects(
      encrypted(settings("verify-ca", "127.0.0.1", "rogue")),
      /self[- ]signed|unable to verify|certificate/i,
    );
  });

  it("verify-full: the right CA and the certificate's name connect; another name is refused", async () => {
    assert.equal(await encrypted(settings("verify-full", "localhost", "ca")), true);
    await assert.rejects(
      encrypted(settings("verify-full", "127.0.0.1", "ca")),
      /does not match|altnames|Hostname/i,
    );
  });

  it("require: encrypted, and by definition not verified", async () => {
    assert.equal(await encrypted(settings("require", "127.0.0.1", "rogue")), true);
  });
});
