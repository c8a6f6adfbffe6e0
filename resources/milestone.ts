// A point in the run that waits for a group of resources (providers/milestone.ts), so that what
// comes after the group depends on it alone: a row waits for the database's milestone instead of
// its tables, reload and every grant, and the files that name the database wait for the rows'.

import type * as pulumi from "@pulumi/pulumi";
import { VmailResource } from "./vmailResource";

export class Milestone extends VmailResource {
  constructor(
    name: string,
    group: pulumi.Input<pulumi.Input<pulumi.Resource>[]>,
    opts: Omit<pulumi.CustomResourceOptions, "dependsOn">,
  ) {
    super("Milestone", name, {}, { ...opts, dependsOn: group });
  }
}
