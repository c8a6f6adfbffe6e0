// The only provider code Pulumi serializes into the state: a few lines that load the real
// provider from providers/ in the provider process. Serializing the providers themselves
// would copy their whole module graph (pg, the hashing code) into every row's state, and
// Pulumi's closure serializer mangles default imports, class fields and global caches. The text
// is kept short on purpose: the SDK copies it into four debug strings per resource it registers.

import type * as pulumi from "@pulumi/pulumi";

/** The providers providers/index.ts serves, by name (its type holds it to this list). */
export type ProviderName =
  | "domain"
  | "alias"
  | "user"
  | "serverFile"
  | "mailTables"
  | "pgReload"
  | "postfixMainCf"
  | "checkpointGuard"
  | "dovecotReload";

type Method = "configure" | "create" | "diff" | "update" | "read" | "delete";
type Impl = Record<Method, (...args: unknown[]) => Promise<unknown>> & {
  check?: (...args: unknown[]) => Promise<unknown>;
};

const shims = new Map<ProviderName, pulumi.dynamic.ResourceProvider>();

/**
 * One shim object per provider: Pulumi serializes a provider once per object it sees, so a fresh
 * object per resource would cost a closure serialization for every row.
 */
export function providerShim(name: ProviderName): pulumi.dynamic.ResourceProvider {
  let shim = shims.get(name);
  if (!shim) {
    shim = makeShim(name);
    shims.set(name, shim);
  }
  return shim;
}

function makeShim(name: ProviderName): pulumi.dynamic.ResourceProvider {
  /* eslint-disable @typescript-eslint/no-require-imports */
  // Only the project's own providers are loaded: the nearest providers/index.ts at or above the
  // provider process's working directory (the project's), never a path kept in the state.
  // Found once per working directory (each call would otherwise walk the disk again).
  const load = (): Impl => {
    const g = globalThis as { vmailProviders?: Record<string, Record<string, Impl>> };
    const found = (g.vmailProviders ??= {})[process.cwd()];
    if (found) return found[name];
    const p = require("node:path") as typeof import("node:path");
    const fs = require("node:fs") as typeof import("node:fs");
    let at = process.cwd();
    while (!fs.existsSync(p.join(at, "providers", "index.ts"))) {
      if (p.dirname(at) === at) {
        throw new Error(`vmail: no providers/index.ts at or above ${process.cwd()}`);
      }
      at = p.dirname(at);
    }
    // The provider process is plain node: tsx lets it load the TypeScript sources.
    require(require.resolve("tsx/cjs", { paths: [at] }));
    const index = p.join(at, "providers", "index.ts");
    const providers = (require(index) as { PROVIDERS: Record<string, Impl> }).PROVIDERS;
    g.vmailProviders[process.cwd()] = providers;
    return providers[name];
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
  const call =
    (m: Method) =>
    (...args: unknown[]) =>
      load()[m](...args);
  return {
    configure: call("configure"),
    // Most providers take their inputs as given; the SDK's own default is the same.
    check: (olds: unknown, news: unknown) => {
      const impl = load();
      return impl.check ? impl.check(olds, news) : Promise.resolve({ inputs: news });
    },
    create: call("create"),
    diff: call("diff"),
    update: call("update"),
    read: call("read"),
    delete: call("delete"),
  } as pulumi.dynamic.ResourceProvider;
}
