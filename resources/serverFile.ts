// A file, or a marked block inside a shared file, on the mail server: the resource the program
// registers. Its provider (providers/serverFile.ts) writes it and reads it back for refresh.

import * as pulumi from "@pulumi/pulumi";
import type { BlockSpec } from "../core/managedBlock";
import type { FileOwnership } from "../core/scripts";
import type { ServerIdentity } from "../core/target";
import { VmailResource } from "./vmailResource";
import type { ServerFileInputs } from "../core/providerInputs";

export type { ServerFileInputs };

export interface ServerFileArgs {
  server: ServerIdentity;
  path: pulumi.Input<string>;
  content: pulumi.Input<string>;
  ownership?: pulumi.Input<FileOwnership>;
  block?: pulumi.Input<BlockSpec>;
  /** Run after each write; its failure puts the file back (ServerFileInputs.verify). */
  verify?: string;
}

export class ServerFile extends VmailResource {
  declare readonly path: pulumi.Output<string>;
  declare readonly sha256: pulumi.Output<string>;
  /** Changes whenever vmail writes the file (see ServerFileOutputs.written). */
  declare readonly written: pulumi.Output<string>;

  constructor(name: string, args: ServerFileArgs, opts?: pulumi.CustomResourceOptions) {
    super("ServerFile", name, { ...args, sha256: undefined, written: undefined }, opts);
  }
}
