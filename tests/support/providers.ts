// Drives vmail's dynamic providers directly (no engine) against real services: the context
// they would read from the stack config in configure() is built from a test cluster.

import type { DatabaseSettings } from "../../core/config";
import { providerContext, type ProviderContext } from "../../providers/context";
import type { ShellTarget } from "../../providers/shell";
import type { PgCluster } from "./pgCluster";

export function testDatabaseSettings(
  cluster: PgCluster,
  overrides: Partial<DatabaseSettings> = {},
): DatabaseSettings {
  return {
    host: cluster.host,
    port: cluster.port,
    sslMode: "disable",
    adminUser: cluster.superuser,
    name: "mail",
    readerRole: "mailreader",
    ownerRole: "mailreader_admin",
    serverPort: cluster.port,
    hbaFile: cluster.hbaFile,
    hbaMethod: "scram-sha-256",
    readerPasswordVersion: 1,
    ownerPasswordVersion: 1,
    ownerLogin: true,
    adoptExistingRows: false,
    dovecotRole: "maildovecot",
    dovecotPasswordVersion: 1,
    ...overrides,
  };
}

/** Points every vmail provider at this machine (local shell) and the test cluster. */
export function useLocalContext(
  cluster: PgCluster,
  settings = testDatabaseSettings(cluster),
): ProviderContext {
  const ctx: ProviderContext = {
    shell: { access: { kind: "local" } },
    db: { settings, adminPassword: cluster.superPassword },
  };
  providerContext.use(ctx);
  return ctx;
}

/** Points every vmail provider at a server alone (this machine by default), with no database. */
export function useShellOnly(shell: ShellTarget = { access: { kind: "local" } }): void {
  providerContext.use({ shell, db: { settings: {} as DatabaseSettings, adminPassword: "" } });
}
