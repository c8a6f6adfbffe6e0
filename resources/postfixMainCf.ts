// Postfix's main.cf settings, as the program registers them. The provider
// (providers/postfixMainCf.ts) sets them with postconf, reads them back for refresh, and reloads.

import * as pulumi from "@pulumi/pulumi";
import type { PostconfInput } from "../core/mainCfScripts";
import type { ServerIdentity } from "../core/target";
import { providerShim } from "./providerShim";

export interface PostfixMainCfInputs extends PostconfInput {
  /** The server whose Postfix this is; a state written before targets were recorded has none. */
  server?: ServerIdentity;
  /** The map files' `written` stamps: when vmail rewrote one, Postfix is reloaded. */
  reloadAfter: string[];
}

export type PostfixMainCfArgs = {
  [K in keyof PostfixMainCfInputs]: pulumi.Input<PostfixMainCfInputs[K]>;
};

export class PostfixMainCf extends pulumi.dynamic.Resource {
  declare readonly settings: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: PostfixMainCfArgs, opts?: pulumi.CustomResourceOptions) {
    super(providerShim("postfixMainCf"), name, args, opts, "vmail", "PostfixMainCf");
  }
}
