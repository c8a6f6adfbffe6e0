// Refuses a run without checkpoints that would make or drop roles or a database vmail cannot make
// or drop safely, and a move to a PostgreSQL server that lacks them (see
// providers/checkpointGuard.ts for why). The CheckpointGuard is the resource the program registers
// first, and checks every `up` and preview; the DestroyGuard depends on the roles, the database
// and their grants, so a destroy deletes it before them, and its delete refuses a destroy without
// checkpoints. One provider serves both.

import * as pulumi from "@pulumi/pulumi";
import type { PgServerIdentity } from "../core/target";
import { providerShim } from "./providerShim";

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

export class CheckpointGuard extends pulumi.dynamic.Resource {
  constructor(name: string, args: CheckpointGuardInputs, opts?: pulumi.CustomResourceOptions) {
    super(providerShim("checkpointGuard"), name, args, opts, "vmail", "CheckpointGuard");
  }
}

/** Give it `dependsOn` every role, the database and every grant: it must be deleted first. */
export class DestroyGuard extends pulumi.dynamic.Resource {
  constructor(
    name: string,
    args: Omit<DestroyGuardInputs, "guards">,
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      providerShim("checkpointGuard"),
      name,
      { ...args, guards: "destroy" },
      opts,
      "vmail",
      "DestroyGuard",
    );
  }
}
