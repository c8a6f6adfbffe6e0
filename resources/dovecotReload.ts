// Dovecot's reload after vmail wrote its files, as the program registers it. The provider
// (providers/dovecotReload.ts) checks at preview that the server has Dovecot, and on each run
// checks the configuration with doveconf before it reloads.

import * as pulumi from "@pulumi/pulumi";
import type { ServerIdentity } from "../spec/target";
import { providerShim } from "./providerShim";

export interface DovecotReloadInputs {
  server: ServerIdentity;
  /** Dovecot's config directory (dovecot.conf in it). */
  configDir: string;
  /** The files' `written` stamps: when vmail wrote one (a repair included), Dovecot reloads. */
  trigger: string[];
}

export class DovecotReload extends pulumi.dynamic.Resource {
  constructor(
    name: string,
    args: Omit<DovecotReloadInputs, "trigger"> & { trigger: pulumi.Input<string[]> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(providerShim("dovecotReload"), name, args, opts, "vmail", "DovecotReload");
  }
}
