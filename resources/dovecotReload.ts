// Dovecot's guard and reload, as the program registers them. The guard comes before vmail writes
// Dovecot's files, the reload after them; one provider (providers/dovecotReload.ts) serves both:
// each checks that the server's Dovecot can use vmail's files (installed, its config where the
// stack says, its pgsql driver there), and the reload then checks the configuration with
// doveconf and reloads.

import * as pulumi from "@pulumi/pulumi";
import { VmailResource } from "./vmailResource";
import type { DovecotGuardInputs, DovecotReloadInputs } from "../core/providerInputs";

export type { DovecotGuardInputs, DovecotReloadInputs };

/**
 * Refuses, at every preview and `up`, a server whose Dovecot could not use vmail's files: what
 * writes them depends on it. Without a trigger, the reload's provider only checks.
 */
export class DovecotGuard extends VmailResource {
  constructor(name: string, args: DovecotGuardInputs, opts?: pulumi.CustomResourceOptions) {
    super("DovecotGuard", name, args, opts);
  }
}

export class DovecotReload extends VmailResource {
  constructor(
    name: string,
    args: DovecotGuardInputs & { trigger: pulumi.Input<string[]> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super("DovecotReload", name, args, opts);
  }
}
