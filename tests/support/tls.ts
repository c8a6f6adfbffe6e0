// TLS for a throwaway cluster: a CA made here (and a rogue one), a server certificate it signs
// for the name "localhost" only, and the cluster switched to serve it.

import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { superuserQuery, type PgCluster } from "./pgCluster";

export interface ClusterTls {
  /** The CA that signed the server's certificate (PEM file). */
  caFile: string;
  /** A CA that signed nothing here. */
  rogueCaFile: string;
  remove(): void;
}

export async function serveTls(cluster: PgCluster): Promise<ClusterTls> {
  const dir = mkdtempSync(join(tmpdir(), "vmail-tls-"));
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const newKey = ["-newkey", "rsa:2048", "-nodes"];
  for (const ca of ["ca", "rogue-ca"]) {
    openssl(
      "req",
      "-x509",
      ...newKey,
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
    ...newKey,
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
  // The server reads its key as the cluster's own user, and only if no one else can.
  const { uid, gid } = statSync(cluster.dataDir);
  for (const f of ["server.crt", "server.key"]) chownSync(join(dir, f), uid, gid);
  chmodSync(join(dir, "server.key"), 0o600);
  chmodSync(dir, 0o755);
  await superuserQuery(cluster, `ALTER SYSTEM SET ssl_cert_file = '${join(dir, "server.crt")}'`);
  await superuserQuery(cluster, `ALTER SYSTEM SET ssl_key_file = '${join(dir, "server.key")}'`);
  await superuserQuery(cluster, "ALTER SYSTEM SET ssl = on");
  await superuserQuery(cluster, "SELECT pg_reload_conf()");
  return {
    caFile: join(dir, "ca.crt"),
    rogueCaFile: join(dir, "rogue-ca.crt"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A self-signed certificate and key for `name` in `dir` (server.crt, server.key; 0600 key). */
export function selfSignedPair(
  dir: string,
  name = "localhost",
): { certFile: string; keyFile: string } {
  const [certFile, keyFile] = [join(dir, "server.crt"), join(dir, "server.key")];
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ],
    { stdio: "pipe" },
  );
  chmodSync(keyFile, 0o600);
  return { certFile, keyFile };
}
