// The two database steps @pulumi/postgresql has no resource for, as the program registers them:
// the tables (schema public handed to the owner role), and a reload after pg_hba.conf changed.
// Their provider is providers/schema.ts.

import * as pulumi from "@pulumi/pulumi";
import { VmailResource } from "./vmailResource";
import type { MailTablesInputs, PgReloadInputs } from "../core/providerInputs";

export type { MailTablesInputs, PgReloadInputs };

export class MailTables extends VmailResource {
  constructor(name: string, args: MailTablesInputs, opts?: pulumi.CustomResourceOptions) {
    super("MailTables", name, args, opts);
  }
}

export class PgReload extends VmailResource {
  constructor(
    name: string,
    args: Omit<PgReloadInputs, "trigger"> & { trigger: pulumi.Input<string> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super("PgReload", name, args, opts);
  }
}
