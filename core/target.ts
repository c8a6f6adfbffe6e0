// Where a resource lives: the database its row is in, the server its file is on. Each row and
// file carries its target among its inputs (nothing secret: no password, no key), so a change of
// target shows in the preview as a replacement, and the old row or file is removed from where it
// was, not from wherever the stack config points now. Pure.

/** How vmail reaches the mail server: this machine, or SSH with its pinned host key. */
export type ServerAccess =
  { kind: "local" } | { kind: "ssh"; host: string; port: number; user: string; hostKey: string };

/** Where a PostgreSQL database is, as the stack's database settings say. */
interface DatabaseAddress {
  host: string;
  port: number;
  name: string;
}

/** The PostgreSQL database a row is in. */
export interface DbIdentity {
  host: string;
  port: number;
  database: string;
}

/** The PostgreSQL server the roles and the database are on. */
export type PgServerIdentity = Pick<DbIdentity, "host" | "port">;

export function pgServerIdentity(s: Pick<DatabaseAddress, "host" | "port">): PgServerIdentity {
  return { host: s.host, port: s.port };
}

/** The server a file is on (how vmail reaches it, with its pinned host key). */
export type ServerIdentity = ServerAccess;

export function dbIdentity(s: DatabaseAddress): DbIdentity {
  return { host: s.host, port: s.port, database: s.name };
}

/**
 * Whether a resource moves from `old` to `next`. A state written before vmail recorded targets
 * has none: that is no move (the next write records it).
 */
export function targetMoved(old: object | undefined, next: object | undefined): boolean {
  return old !== undefined && next !== undefined && canonical(old) !== canonical(next);
}

/**
 * Whether a resource must be written again for its target: it moved, or its state predates
 * targets (one write records it).
 */
export function targetChanged(old: object | undefined, next: object | undefined): boolean {
  return old === undefined || targetMoved(old, next);
}

/** JSON with sorted keys, so two equal targets compare equal whatever their key order. */
function canonical(o: object): string {
  return JSON.stringify(o, Object.keys(o).sort());
}

/** How a target reads in a message: `postgres 127.0.0.1:5432/mail`, `ssh root@mx:22`, `local`. */
export function describeTarget(t: DbIdentity | PgServerIdentity | ServerIdentity): string {
  if ("database" in t) return `postgres ${t.host}:${t.port}/${t.database}`;
  if (!("kind" in t)) return `postgres ${t.host}:${t.port}`;
  return t.kind === "local" ? "this machine" : `ssh ${t.user}@${t.host}:${t.port}`;
}
