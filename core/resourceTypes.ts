// The resource types vmail's provider plugin serves, and which of providers/index.ts's providers
// serves each. The program names its types from here (resources/vmailResource.ts) and the
// plugin (providers/server.ts) finds the provider for a request's type.

/** The package: types are `vmail:index:<Type>`, served by the plugin named in Pulumi.yaml. */
export const PACKAGE = "vmail";

/**
 * Each type's provider, by the name providers/index.ts's PROVIDERS serves it under. Those names
 * are also what the dynamic-provider loader in a stack written before the plugin asks for, so
 * they never change.
 */
export const TYPE_PROVIDERS = {
  MailDomain: "domain",
  MailAlias: "alias",
  MailUser: "user",
  ServerFile: "serverFile",
  MailTables: "mailTables",
  PgReload: "pgReload",
  PostfixMainCf: "postfixMainCf",
  PostfixService: "postfixService",
  CheckpointGuard: "checkpointGuard",
  DestroyGuard: "checkpointGuard",
  DovecotGuard: "dovecotReload",
  DovecotReload: "dovecotReload",
  MovedRowsCleanup: "rowsCleanup",
  Milestone: "milestone",
} as const;

export type ResourceType = keyof typeof TYPE_PROVIDERS;

/** The full type token the program registers, `vmail:index:MailUser`. */
export function typeToken(type: ResourceType): string {
  return `${PACKAGE}:index:${type}`;
}

/** The type each resource had as a dynamic resource: its alias, so a stack moves in place. */
export function dynamicTypeToken(type: ResourceType): string {
  return `pulumi-nodejs:dynamic/${PACKAGE}:${type}`;
}

/** The resource type a request names (`vmail:index:MailUser`), or undefined if not vmail's. */
export function resourceTypeOf(token: string): ResourceType | undefined {
  const prefix = `${PACKAGE}:index:`;
  if (!token.startsWith(prefix)) return undefined;
  const type = token.slice(prefix.length);
  return Object.hasOwn(TYPE_PROVIDERS, type) ? (type as ResourceType) : undefined;
}

/** The type token in a URN: `urn:pulumi:stack::project::parent$type::name`. */
export function typeTokenOfUrn(urn: string): string {
  const qualified = urn.split("::")[2] ?? "";
  return qualified.slice(qualified.lastIndexOf("$") + 1);
}

/**
 * The property the dynamic-provider SDK kept in every resource's inputs and outputs (its
 * serialized loader). A stack written before the plugin still has it; vmail's providers never
 * see it, and nothing the plugin returns carries it on.
 */
export const DYNAMIC_LOADER_KEY = "__provider";

export function withoutDynamicLoader<T extends Record<string, unknown>>(props: T): T {
  if (!Object.hasOwn(props, DYNAMIC_LOADER_KEY)) return props;
  const rest: Record<string, unknown> = { ...props };
  delete rest[DYNAMIC_LOADER_KEY];
  return rest as T;
}
