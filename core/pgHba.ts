// The pg_hba.conf lines vmail owns. Pure.

import type { DatabaseSettings } from "./config";
import type { BlockSpec } from "./managedBlock";

/** At the top: pg_hba.conf is read first match wins, and these lines match only vmail's roles. */
export const HBA_BLOCK: BlockSpec = {
  marker: "vmail (managed by Pulumi)",
  position: "top",
  mustExist: true,
};

/**
 * Postfix's reader and Dovecot's role over TCP from loopback only; the owner over the local
 * socket, only where it may log in at all.
 */
export function renderHbaBlock(db: DatabaseSettings): string {
  const row = (...cols: string[]) => cols.join("\t");
  const loopback = (role: string) => [
    row("host", db.name, role, "127.0.0.1/32", db.hbaMethod),
    row("host", db.name, role, "::1/128", db.hbaMethod),
  ];
  const lines = [...loopback(db.readerRole), ...(db.dovecotRole ? loopback(db.dovecotRole) : [])];
  if (db.ownerLogin) lines.push(row("local", db.name, db.ownerRole, "", db.hbaMethod));
  return `${lines.join("\n")}\n`;
}
