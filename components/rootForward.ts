// Root's mail (the articles' "Local mail"): mail for root still goes through local(8), so a
// block in /root/.forward sends it to virtual mailboxes. Lines root had there stay.

import * as pulumi from "@pulumi/pulumi";
import type { Server } from "../resources/server";

export const FORWARD_BLOCK = { marker: "vmail (managed by Pulumi)", position: "bottom" } as const;

/** One line of addresses, comma-separated, as local(8) reads a .forward file. */
export function renderForward(targets: string[]): string {
  return `${targets.join(", ")}\n`;
}

export interface RootForwardArgs {
  server: Server;
  targets: string[];
  path?: string;
}

export class RootForward extends pulumi.ComponentResource {
  constructor(name: string, args: RootForwardArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:RootForward", name, {}, opts);
    args.server.file(
      "root-forward",
      {
        path: args.path ?? "/root/.forward",
        content: renderForward(args.targets),
        block: FORWARD_BLOCK,
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
