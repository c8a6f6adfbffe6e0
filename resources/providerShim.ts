// The only provider code Pulumi serializes into the state: a few lines that load the real
// provider from providers/ in the provider process. Serializing the providers themselves
// would copy their whole module graph (pg, the hashing code) into every row's state, and
// Pulumi's closure serializer mangles default imports, class fields and global caches. The text
// is kept short on purpose: each resource carries it in its inputs and its state, the SDK copies
// it into four debug strings per resource it registers, and the engine into its log of each call.

import type * as pulumi from "@pulumi/pulumi";
// Types only (the program process never loads the providers): ProviderName is keyof PROVIDERS in
// providers/index.ts, the module `load` below requires in the provider process, so a name that
// module does not serve is a type error, and an editor goes from a name to its provider.
import type { ProviderName } from "../providers/index";

export type { ProviderName };

type Method = "configure" | "check" | "create" | "diff" | "update" | "read" | "delete";
/** What providers/index.ts's PROVIDERS serves for each name: every method, `check` included. */
type Impl = Record<Method, (...args: unknown[]) => Promise<unknown>>;
/** PROVIDERS as the shim calls it. */
type Served = Record<ProviderName, Impl>;

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
  // `load` loads only the project's own providers: the nearest providers/index.ts at or above the
  // provider process's working directory (the project's), never a path kept in the state. It
  // walks the disk once per working directory (at every call it cost seconds per 1,000 rows).
  // The provider process is plain node: tsx lets it load the TypeScript sources.
  // The text of these functions, comments included, is copied into every resource's inputs and
  // state and into the engine's log of each call: so no comments inside, and one shape of method.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const load = (): Impl => {
    const g = globalThis as { vmailProviders?: Record<string, Served> };
    const cwd = process.cwd();
    let found = (g.vmailProviders ??= {})[cwd];
    if (!found) {
      const p = require("node:path") as typeof import("node:path");
      const fs = require("node:fs") as typeof import("node:fs");
      let at = cwd;
      while (!fs.existsSync(p.join(at, "providers/index.ts"))) {
        if (p.dirname(at) === at)
          throw new Error(`vmail: no providers/index.ts at or above ${cwd}`);
        at = p.dirname(at);
      }
      require(require.resolve("tsx/cjs", { paths: [at] }));
      found = (require(p.join(at, "providers/index.ts")) as { PROVIDERS: Served }).PROVIDERS;
      g.vmailProviders[cwd] = found;
    }
    return found[name];
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
  const call =
    (m: Method) =>
    (...args: unknown[]) =>
      load()[m](...args);
  return {
    configure: call("configure"),
    check: call("check"),
    create: call("create"),
    diff: call("diff"),
    update: call("update"),
    read: call("read"),
    delete: call("delete"),
  } as pulumi.dynamic.ResourceProvider;
}
