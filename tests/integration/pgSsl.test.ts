// The admin connection's sslmode against a throwaway cluster serving TLS with a certificate from
// a CA made here: verify-ca and verify-full really verify, require only encrypts.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { closePools, poolFor } from "../../providers/db";
import type { DatabaseSettings } from "../../spec/config";
import { startPgCluster, superuserQuery, type PgCluster } from "../support/pgCluster";
import { testDatabaseSettings } from "../support/providers";

let cluster: PgCluster;
let dir: string;

const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

/** A CA, and a server certificate it signs, valid for the name "localhost" only. */
function makeCertificates(): void {
  for (const ca of ["ca", "rogue-ca"]) {
    openssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=vmail test ${ca}`,
      "-keyout",
      `${ca}.key`,
      "-out",
      `${ca}.crt`,
    );
  }
  openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
  );
  writeFileSync(join(dir, "san.ext"), "subjectAltName=DNS:localhost\n");
  openssl(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    "san.ext",
    "-out",
    "server.crt",
  );
}

/** The settings of a connection with `sslMode`, to `host`, checking against `ca`. */
function settings(sslMode: string, host: string, ca?: string): DatabaseSettings {
  return {
    ...testDatabaseSettings(cluster),
    host,
    sslMode,
    sslRootCert: ca ? join(dir, `${ca}.crt`) : undefined,
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
  dir = mkdtempSync(join(tmpdir(), "vmail-tls-"));
  makeCertificates();
  // The server reads its key as the cluster's own user, and only if no one else can.
  const owner = execFileSync("stat", ["-c", "%u:%g", cluster.dataDir], { encoding: "utf8" });
  const [uid, gid] = owner.trim().split(":").map(Number);
  for (const f of ["server.crt", "server.key"]) chownSync(join(dir, f), uid, gid);
  execFileSync("chmod", ["0600", join(dir, "server.key")]);
  execFileSync("chmod", ["0755", dir]);
  await superuserQuery(cluster, `ALTER SYSTEM SET ssl_cert_file = '${join(dir, "server.crt")}'`);
  await superuserQuery(cluster, `ALTER SYSTEM SET ssl_key_file = '${join(dir, "server.key")}'`);
  await superuserQuery(cluster, "ALTER SYSTEM SET ssl = on");
  await superuserQuery(cluster, "SELECT pg_reload_conf()");
});

after(async () => {
  await closePools();
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the admin connection's sslmode", () => {
  it("verify-ca: the right CA connects (any name), another CA is refused", async () => {
    assert.equal(await encrypted(settings("verify-ca", "127.0.0.1", "ca")), true);
    await assert.rejects(
      encrypted(settings("verify-ca", "127.0.0.1", "rogue-ca")),
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
    assert.equal(await encrypted(settings("require", "127.0.0.1", "rogue-ca")), true);
  });
});
