// Postfix's main.cf settings, as the program registers them. The provider
// (providers/postfixMainCf.ts) sets them with postconf, reads them back for refresh, and reloads.

import * as pulumi from "@pulumi/pulumi";
import { VmailResource } from "./vmailResource";
import type { PostfixMainCfInputs } from "../core/providerInputs";

export type { PostfixMainCfInputs };

export type PostfixMainCfArgs = {
  [K in keyof PostfixMainCfInputs]: pulumi.Input<PostfixMainCfInputs[K]>;
};

export class PostfixMainCf extends VmailResource {
  declare readonly settings: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: PostfixMainCfArgs, opts?: pulumi.CustomResourceOptions) {
    super("PostfixMainCf", name, args, opts);
  }
}
