// The two database steps @pulumi/postgresql has no resource for, as the program registers them:
// the tables (schema public handed to the owner role), and a reload after pg_hba.conf changed.
// Their provider is providers/schema.ts.

import * as pulumi from "@pulumi/pulumi";
import type { DbIdentity, ServerIdentity } from "../core/target";
import { providerShim } from "./providerShim";

export interface MailTablesInputs {
  database: string;
  ownerRole: string;
  /** The PostgreSQL the database is on; a state written before targets were recorded has none. */
  target?: DbIdentity;
}

export class MailTables extends pulumi.dynamic.Resource {
  constructor(name: string, args: MailTablesInputs, opts?: pulumi.CustomResourceOptions) {
    super(providerShim("mailTables"), name, args, opts, "vmail", "MailTables");
  }
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

export class PgReload extends pulumi.dynamic.Resource {
  constructor(
    name: string,
    args: Omit<PgReloadInputs, "trigger"> & { trigger: pulumi.Input<string> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(providerShim("pgReload"), name, args, opts, "vmail", "PgReload");
  }
}
