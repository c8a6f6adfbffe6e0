// Delivery through Dovecot: its LMTP and quota-status listeners in Postfix's queue directory, the
// quota plugin, and a reload once doveconf accepts them. The transports rows that send mail to
// LMTP and the main.cf check that asks quota-status wait for `ready`, so Postfix never names a
// socket Dovecot has not made yet.

import * as pulumi from "@pulumi/pulumi";
import { DovecotReload } from "../resources/dovecotReload";
import type { Server } from "../resources/server";
import type { DovecotSettings } from "../core/config";
import { dovecotCheckScript, dovecotPaths } from "../core/dovecotConfig";
import { parsePostfixQueue, postfixQueueScript, renderDeliveryConf } from "../core/dovecotDelivery";

export interface DovecotDeliveryArgs {
  readonly server: Server;
  readonly dovecot: DovecotSettings;
  /** Postfix's config directory: its queue directory and mail owner are read from it. */
  readonly postfixConfigDir: string;
  /** Listen for the submission service's logins too (vmail:submission). */
  readonly sasl: boolean;
  /** What must be in place first (Dovecot's guard). */
  readonly after: pulumi.Input<pulumi.Resource>[];
}

export class DovecotDelivery extends pulumi.ComponentResource {
  /** Dovecot has reloaded with the listeners. */
  readonly ready: pulumi.Resource;

  constructor(name: string, args: DovecotDeliveryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:DovecotDelivery", name, {}, opts);
    const { server, dovecot } = args;
    // Read from the server, never assumed: a second Postfix instance has its own queue.
    const queue = server.command(
      `${name}-postfix-queue`,
      {
        script: postfixQueueScript(args.postfixConfigDir),
        triggers: [args.postfixConfigDir],
        logOutput: true,
      },
      { parent: this, dependsOn: args.after },
    );
    const conf = server.file(
      `${name}-conf`,
      {
        path: dovecotPaths(dovecot.configDir).delivery,
        content: queue.stdout.apply((out) => renderDeliveryConf(parsePostfixQueue(out), args.sasl)),
        ownership: { mode: "0644", owner: "root", group: "root" },
        verify: dovecotCheckScript(dovecot.configDir),
      },
      { parent: this, dependsOn: args.after },
    );
    this.ready = new DovecotReload(
      `${name}-reload`,
      {
        server: server.identity,
        configDir: dovecot.configDir,
        trigger: pulumi.all([conf.written]),
      },
      { parent: this, dependsOn: [conf] },
    );
    this.registerOutputs({});
  }
}
