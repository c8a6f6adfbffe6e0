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
 * The reader over TCP from loopback only (Postfix, Dovecot); the owner over the local socket,
 * only where it may log in at all.
 */
export function renderHbaBlock(db: DatabaseSettings): string {
  const row = (...cols: string[]) => cols.join("\t");
  const lines = [
    row("host", db.name, db.readerRole, "127.0.0.1/32", db.hbaMethod),
    row("host", db.name, db.readerRole, "::1/128", db.hbaMethod),
  ];
  if (db.ownerLogin) lines.push(row("local", db.name, db.ownerRole, "", db.hbaMethod));
  return `${lines.join("\n")}\n`;
}
