// A service vmail keeps in Postfix's master.cf (providers/postfixService.ts): the submission
// service, as a resource of its own, so the preview names it and a refresh sees it edited.

import * as pulumi from "@pulumi/pulumi";
import { providerShim } from "./providerShim";
import type { PostfixServiceInputs } from "../core/providerInputs";

export type { PostfixServiceInputs };

export class PostfixService extends pulumi.dynamic.Resource {
  declare readonly entry: pulumi.Output<string>;

  constructor(
    name: string,
    args: { [K in keyof PostfixServiceInputs]: pulumi.Input<PostfixServiceInputs[K]> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      providerShim("postfixService"),
      name,
      { ...args, entry: undefined },
      opts,
      "vmail",
      "PostfixService",
    );
  }
}
