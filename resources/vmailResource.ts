// The base of every resource vmail's provider plugin serves (providers/server.ts).

import * as pulumi from "@pulumi/pulumi";
import { dynamicTypeToken, typeToken, type ResourceType } from "../core/resourceTypes";

export type { ResourceType };

/**
 * A `vmail:index:<type>` resource. Each is aliased from the dynamic resource it was before the
 * plugin, so a stack written then moves over in place: same row, no replacement. An alias it is
 * given (a renamed user's old name) is also given with the old type, so a rename and the move to
 * the plugin can come in one run.
 */
export class VmailResource extends pulumi.CustomResource {
  constructor(
    type: ResourceType,
    name: string,
    props: pulumi.Inputs,
    opts?: pulumi.CustomResourceOptions,
  ) {
    const dynamic = dynamicTypeToken(type);
    const given = opts?.aliases ?? [];
    const asDynamic = given
      .filter((a): a is pulumi.Alias => typeof a === "object" && !pulumi.Output.isInstance(a))
      .filter((a) => a.type === undefined)
      .map((a) => ({ ...a, type: dynamic }));
    const aliases = [...given, ...asDynamic, { type: dynamic }];
    super(typeToken(type), name, props, { ...opts, aliases });
  }
}
