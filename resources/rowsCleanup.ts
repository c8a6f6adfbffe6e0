// The stack's record of the database its rows are in (providers/rowsCleanup.ts): after a move, it
// deletes them from the old one, last of all.

import * as pulumi from "@pulumi/pulumi";
import type { RowsCleanupInputs } from "../core/providerInputs";
import { VmailResource } from "./vmailResource";
import { writtenBy } from "./rows";

export class MovedRowsCleanup extends VmailResource {
  constructor(
    name: string,
    args: Pick<RowsCleanupInputs, "target">,
    opts?: pulumi.CustomResourceOptions,
  ) {
    const inputs: RowsCleanupInputs = { target: args.target, stack: writtenBy() };
    super("MovedRowsCleanup", name, inputs, opts);
  }
}
