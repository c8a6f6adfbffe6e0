// Refuses a run without checkpoints while a role or the database is still to be made (see
// providers/checkpointGuard.ts for why): the resource the program registers first.

import * as pulumi from "@pulumi/pulumi";
import { providerShim } from "./providerShim";

export interface CheckpointGuardInputs {
  database: string;
  roles: string[];
}

export class CheckpointGuard extends pulumi.dynamic.Resource {
  constructor(name: string, args: CheckpointGuardInputs, opts?: pulumi.CustomResourceOptions) {
    super(providerShim("checkpointGuard"), name, args, opts, "vmail", "CheckpointGuard");
  }
}
