// Root's mail (the articles' "Local mail"): mail for root still goes through local(8), so a
// block in root's .forward sends it to virtual mailboxes. Lines root had there stay.

import * as pulumi from "@pulumi/pulumi";
import type { Server } from "../resources/server";
import { FORWARD_BLOCK, renderForward } from "../core/postfixConfig";

export interface RootForwardArgs {
  /** How the mail server is reached. */
  readonly server: Server;
  /** The addresses root's mail goes to. */
  readonly targets: string[];
  /** Root's .forward file (default /root/.forward). */
  readonly path?: string;
}

export class RootForward extends pulumi.ComponentResource {
  /** The sha256 of vmail's block in the file. */
  readonly sha256: pulumi.Output<string>;

  constructor(name: string, args: RootForwardArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:RootForward", name, {}, opts);
    const file = args.server.file(
      `${name}-file`,
      {
        path: args.path ?? "/root/.forward",
        content: renderForward(args.targets),
        block: FORWARD_BLOCK,
      },
      { parent: this, aliases: [{ name: "root-forward" }] },
    );
    this.sha256 = file.sha256;
    this.registerOutputs({ sha256: this.sha256 });
  }
}
