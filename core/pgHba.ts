// The pg_hba.conf lines vmail owns. Pure.

import type { DatabaseSettings } from "./config";
import type { BlockSpec } from "./managedBlock";

/** At the top: pg_hba.conf is read first match wins, and these lines match only vmail's roles. */
export const HBA_BLOCK: BlockSpec = {
  marker: "vmail (managed by Pulumi)",
  position: "top",
  mustExist: true,
};

/** A mail server whose Postfix and Dovecot reach the database over the network. */
export interface HbaClient {
  /** The server's name (vmail:servers), "" for the stack's own server. */
  name: string;
  /** The networks it connects from (CIDR). */
  pgHbaAddresses: string[];
}

/**
 * Postfix's reader and Dovecot's role over TCP from loopback, and from each server's addresses
 * (a comment names the server); the owner over the local socket, only where it may log in at all.
 */
export function renderHbaBlock(db: DatabaseSettings, clients: HbaClient[] = []): string {
  const row = (...cols: string[]) => cols.join("\t");
  const roles = [db.readerRole, ...(db.dovecotRole ? [db.dovecotRole] : [])];
  const host = (role: string, address: string) => row("host", db.name, role, address, db.hbaMethod);
  const lines = roles.flatMap((role) => [host(role, "127.0.0.1/32"), host(role, "::1/128")]);
  for (const client of clients.filter((c) => c.pgHbaAddresses.length > 0)) {
    lines.push(`# ${client.name ? `server ${client.name}` : "the stack's own server"}`);
    for (const address of client.pgHbaAddresses) lines.push(...roles.map((r) => host(r, address)));
  }
  if (db.ownerLogin) lines.push(row("local", db.name, db.ownerRole, "", db.hbaMethod));
  return `${lines.join("\n")}\n`;
}
