// Refuses, at preview, a run that would need roles or a database vmail cannot make safely: a run
// without checkpoints while they are still to be made, or a move to a PostgreSQL server that
// lacks them (see providers/checkpointGuard.ts for why). The resource the program registers first.

import * as pulumi from "@pulumi/pulumi";
import type { PgServerIdentity } from "../spec/target";
import { providerShim } from "./providerShim";

export interface CheckpointGuardInputs {
  database: string;
  roles: string[];
  /** Where they are; absent in a state written before vmail recorded it. */
  server?: PgServerIdentity;
}

export class CheckpointGuard extends pulumi.dynamic.Resource {
  constructor(name: string, args: CheckpointGuardInputs, opts?: pulumi.CustomResourceOptions) {
    super(providerShim("checkpointGuard"), name, args, opts, "vmail", "CheckpointGuard");
  }
}
