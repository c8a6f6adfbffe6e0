// Postfix's main.cf settings, as the program registers them. The provider
// (providers/postfixMainCf.ts) sets them with postconf, reads them back for refresh, and reloads.

import * as pulumi from "@pulumi/pulumi";
import { providerShim } from "./providerShim";
import type { PostfixMainCfInputs } from "../core/providerInputs";

export type { PostfixMainCfInputs };

export type PostfixMainCfArgs = {
  [K in keyof PostfixMainCfInputs]: pulumi.Input<PostfixMainCfInputs[K]>;
};

export class PostfixMainCf extends pulumi.dynamic.Resource {
  declare readonly settings: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: PostfixMainCfArgs, opts?: pulumi.CustomResourceOptions) {
    super(providerShim("postfixMainCf"), name, args, opts, "vmail", "PostfixMainCf");
  }
}
