// Refuses a run without checkpoints that would make or drop roles or a database vmail cannot make
// or drop safely, and a move to a PostgreSQL server that lacks them (see
// providers/checkpointGuard.ts for why). The CheckpointGuard is the resource the program registers
// first, and checks every `up` and preview; the DestroyGuard depends on the roles, the database
// and their grants, so a destroy deletes it before them, and its delete refuses a destroy without
// checkpoints. One provider serves both.

import * as pulumi from "@pulumi/pulumi";
import { VmailResource } from "./vmailResource";
import type { CheckpointGuardInputs, DestroyGuardInputs } from "../core/providerInputs";

export type { CheckpointGuardInputs, DestroyGuardInputs };

export class CheckpointGuard extends VmailResource {
  constructor(name: string, args: CheckpointGuardInputs, opts?: pulumi.CustomResourceOptions) {
    super("CheckpointGuard", name, args, opts);
  }
}

/** Give it `dependsOn` every role, the database and every grant: it must be deleted first. */
export class DestroyGuard extends VmailResource {
  constructor(
    name: string,
    args: Omit<DestroyGuardInputs, "guards">,
    opts?: pulumi.CustomResourceOptions,
  ) {
    super("DestroyGuard", name, { ...args, guards: "destroy" }, opts);
  }
}
