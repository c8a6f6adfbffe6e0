// A service vmail keeps in Postfix's master.cf (providers/postfixService.ts): the submission
// service, as a resource of its own, so the preview names it and a refresh sees it edited.

import * as pulumi from "@pulumi/pulumi";
import { VmailResource } from "./vmailResource";
import type { PostfixServiceInputs } from "../core/providerInputs";

export type { PostfixServiceInputs };

export class PostfixService extends VmailResource {
  declare readonly entry: pulumi.Output<string>;

  constructor(
    name: string,
    args: { [K in keyof PostfixServiceInputs]: pulumi.Input<PostfixServiceInputs[K]> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super("PostfixService", name, { ...args, entry: undefined }, opts);
  }
}
