// Every provider vmail has, by name: what its plugin (server.ts) serves, each resource type by
// core/resourceTypes.ts's map. A stack written before the plugin carries a dynamic-provider
// loader that asks this module for them by the same names, so a name never changes.

import type * as pulumi from "@pulumi/pulumi";
import { checkpointGuardProvider } from "./checkpointGuard";
import { dovecotReloadProvider } from "./dovecotReload";
import { aliasProvider, domainProvider, userProvider } from "./rows";
import { milestoneProvider } from "./milestone";
import { mailTablesProvider, pgReloadProvider } from "./schema";
import { postfixMainCfProvider } from "./postfixMainCf";
import { postfixServiceProvider } from "./postfixService";
import { rowsCleanupProvider } from "./rowsCleanup";
import { serverFileProvider } from "./serverFile";

/** The engine's protobuf encoding refuses `undefined` values: such keys are left out. */
function defined(o: object | undefined): Record<string, unknown> | undefined {
  return o && Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

type Provider = Required<pulumi.dynamic.ResourceProvider>;

/**
 * Every provider answers every method the shim may call: those without a `check` take their
 * inputs as given, as the SDK does when a provider has none.
 */
function withCheck(p: pulumi.dynamic.ResourceProvider): Provider {
  // The shim calls every method: one missing would fail only when the engine first asks for it
  // (a refresh, say), so it fails here, when the provider process loads this module.
  const methods = ["configure", "create", "diff", "update", "read", "delete"] as const;
  const missing = methods.filter((m) => typeof p[m] !== "function");
  if (missing.length > 0) throw new Error(`vmail: a provider has no ${missing.join(", ")}`);
  const takeInputs = (_olds: unknown, news: Record<string, unknown>) =>
    Promise.resolve({ inputs: news });
  return { ...p, check: p.check ?? takeInputs } as Provider;
}

function forEngine(p: pulumi.dynamic.ResourceProvider): Provider {
  const impl = withCheck(p);
  return {
    ...impl,
    create: async (inputs) => {
      const r = await impl.create(inputs);
      return { id: r.id, outs: defined(r.outs as object) };
    },
    update: async (id, olds, news) => ({
      outs: defined((await impl.update(id, olds, news)).outs as object),
    }),
    read: async (id, props) => {
      const r = await impl.read(id, props);
      return { id: r.id, props: defined(r.props as object) };
    },
  };
}

export const PROVIDERS = {
  domain: forEngine(domainProvider),
  alias: forEngine(aliasProvider),
  user: forEngine(userProvider),
  serverFile: forEngine(serverFileProvider),
  mailTables: forEngine(mailTablesProvider),
  pgReload: forEngine(pgReloadProvider),
  postfixMainCf: forEngine(postfixMainCfProvider),
  checkpointGuard: withCheck(checkpointGuardProvider),
  dovecotReload: forEngine(dovecotReloadProvider),
  postfixService: forEngine(postfixServiceProvider),
  rowsCleanup: forEngine(rowsCleanupProvider),
  milestone: forEngine(milestoneProvider),
} satisfies Record<string, Provider>;
