// How MailDatabase registers its children, shared by the modules that make its roles and grants.
// Children are named from the component's name; `aliases` keep the names of earlier versions,
// so an existing stack upgrades without a single replacement.

import type * as postgresql from "@pulumi/postgresql";
import type * as pulumi from "@pulumi/pulumi";

/** Options of a child, known before as `formerly` (if it was), with `more` on top. */
export type ChildOptions = (
  formerly?: string,
  more?: pulumi.CustomResourceOptions,
) => pulumi.CustomResourceOptions;

export interface DatabaseChildren {
  /** The component's name: each child is `${name}-suffix`. */
  readonly name: string;
  /** The checkpoint guard: roles, the database and grants are made (or dropped) after it. */
  readonly guard: pulumi.Resource;
  /** Options of any child. */
  readonly child: ChildOptions;
  /** Options of a postgresql child: the admin provider, and after the guard unless `more` says. */
  readonly pg: ChildOptions;
}

export function childOptionsOf(parent: pulumi.Resource): ChildOptions {
  return (formerly, more = {}) => ({
    parent,
    ...(formerly ? { aliases: [{ name: formerly }] } : {}),
    ...more,
  });
}

/** Every postgresql resource names `provider`: none may fall back to a default one. */
export function databaseChildren(
  name: string,
  child: ChildOptions,
  provider: postgresql.Provider,
  guard: pulumi.Resource,
): DatabaseChildren {
  const pg: ChildOptions = (formerly, more = {}) =>
    child(formerly, { provider, dependsOn: [guard], ...more });
  return { name, guard, child, pg };
}
