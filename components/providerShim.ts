// The only provider code Pulumi serializes into the state: a few lines that load the real
// provider from this directory in the provider process. Serializing the providers themselves
// would copy their whole module graph (pg, the hashing code) into every row's state, and
// Pulumi's closure serializer mangles default imports, class fields and global caches.

import type * as pulumi from "@pulumi/pulumi";
import type { ProviderName } from "./providers";

type Impl = Required<pulumi.dynamic.ResourceProvider>;

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
  // Captured as text: where the components were when the resource was last written. A stack
  // moved since then is found again from the provider process's working directory.
  const componentsDir = __dirname;
  const impl = (): Impl => {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const path = require("node:path") as typeof import("node:path");
    const fs = require("node:fs") as typeof import("node:fs");
    const candidates = [componentsDir, path.join(process.cwd(), "components")];
    const dir = candidates.find((d) => fs.existsSync(path.join(d, "providers.ts")));
    if (!dir)
      throw new Error(`vmail: cannot find components/providers.ts in ${candidates.join(" or ")}`);
    // The provider process is plain node: tsx lets it load the TypeScript sources.
    require(require.resolve("tsx/cjs", { paths: [dir] }));
    const loaded = require(path.join(dir, "providers.ts")) as {
      PROVIDERS: Record<string, Impl>;
    };
    /* eslint-enable @typescript-eslint/no-require-imports */
    return loaded.PROVIDERS[name];
  };
  // The engine's protobuf encoding refuses `undefined` values: leave such keys out.
  const defined = (o: unknown): Record<string, unknown> | undefined =>
    o ? Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) : undefined;
  return {
    configure: (req) => impl().configure(req),
    create: async (inputs) => {
      const r = await impl().create(inputs);
      return { id: r.id, outs: defined(r.outs) };
    },
    diff: (id, olds, news) => impl().diff(id, olds, news),
    update: async (id, olds, news) => ({
      outs: defined((await impl().update(id, olds, news)).outs),
    }),
    read: async (id, props) => {
      const r = await impl().read(id, props);
      return { id: r.id, props: defined(r.props) };
    },
    delete: (id, props) => impl().delete(id, props),
  };
}
