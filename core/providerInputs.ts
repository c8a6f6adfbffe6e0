// What vmail's dynamic providers are given, as plain values: the inputs the resources in
// resources/ register and the providers in providers/ receive. Here, below both, so the providers
// need nothing of resources/ and resources/ can name the providers' module by type alone. Pure.

import type { PostconfInput } from "./mainCfScripts";
import type { BlockSpec } from "./managedBlock";
import type { FileOwnership } from "./scripts";
import type { MasterServiceInput } from "./submission";
import type { DbIdentity, PgServerIdentity, ServerIdentity } from "./target";

export interface CheckpointGuardInputs {
  database: string;
  roles: string[];
  /** Where they are; absent in a state written before vmail recorded it. */
  server?: PgServerIdentity;
  /**
   * Set by the guard's check, never by the program: the roles the stack had and no longer has
   * that a run without checkpoints has not yet found gone from the server.
   */
  dropping?: string[];
}

export interface DestroyGuardInputs {
  /** The mark that tells the provider this guard from the CheckpointGuard. */
  guards: "destroy";
  /** What a destroy would drop: named in the refusal. */
  database: string;
  roles: string[];
}

export interface DovecotGuardInputs {
  server: ServerIdentity;
  /** Dovecot's config directory (dovecot.conf in it). */
  configDir: string;
}

export interface DovecotReloadInputs extends DovecotGuardInputs {
  /** The files' `written` stamps: when vmail wrote one (a repair included), Dovecot reloads. */
  trigger: string[];
}

export interface PostfixMainCfInputs extends PostconfInput {
  /** The server whose Postfix this is; a state written before targets were recorded has none. */
  server?: ServerIdentity;
  /** The map files' `written` stamps: when vmail rewrote one, Postfix is reloaded. */
  reloadAfter: string[];
}

export interface MailTablesInputs {
  database: string;
  ownerRole: string;
  /** The PostgreSQL the database is on; a state written before targets were recorded has none. */
  target?: DbIdentity;
}

export interface PgReloadInputs {
  /** Changes whenever vmail wrote the reloaded configuration (the pg_hba block's `written`). */
  trigger: string;
  /** The pg_hba.conf vmail edits: it must be the one PostgreSQL reads (SHOW hba_file). */
  hbaFile: string;
  /** The server the file is on, and the PostgreSQL that reads it. */
  server?: ServerIdentity;
  target?: DbIdentity;
}

export interface ServerFileInputs {
  /** The server the file is on; a state written before targets were recorded has none. */
  server?: ServerIdentity;
  path: string;
  content: string;
  /** Whole file: mode and owner to set. Block: the file keeps its own. */
  ownership?: FileOwnership;
  block?: BlockSpec;
  /**
   * A service's own config check, run on the server before and after each write: when the write
   * makes a passing configuration fail, the file is put back as it was (or removed, if it was not
   * there) and the write refused.
   */
  verify?: string;
}

export interface PostfixServiceInputs extends MasterServiceInput {
  server: ServerIdentity;
  /** Read by the service: the check refuses at preview a server that cannot read them. */
  certFile: string;
  keyFile: string;
}

export interface PostfixServiceOutputs extends PostfixServiceInputs {
  /** The entry as Postfix printed it after vmail wrote it. */
  written: string;
  /** The entry as it is now (a refresh reads it): differing from `written` is drift. */
  entry: string;
}

export interface RowsCleanupInputs {
  /** The database the stack's rows are in. */
  target: DbIdentity;
  /** The stack that wrote them (`organization/project/stack`): only its rows are deleted. */
  stack: string;
}
