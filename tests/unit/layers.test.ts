// The house's layers, read from the import statements: each folder imports only from the
// layers below it, nothing imports in a circle, and the program process (index.ts and what it
// loads at run time) never loads the providers' code or the pg client.

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { REPO } from "../support/stackFiles";

const LAYERS = ["program", "components", "resources", "providers", "core"] as const;
type Layer = (typeof LAYERS)[number];

/** What each layer may import, besides itself (type-only imports are marked apart). */
const ALLOWED: Record<Layer, Layer[]> = {
  program: ["core"],
  components: ["resources", "core"],
  resources: ["core"],
  providers: ["core"],
  core: [],
};
/** Imports only for their types (erased at run time) that a layer may make besides. */
const ALLOWED_TYPES: Partial<Record<Layer, Layer[]>> = { resources: ["providers"] };

interface Import {
  to: string;
  typeOnly: boolean;
}

function sources(): string[] {
  const files = ["index.ts"];
  for (const layer of LAYERS) {
    for (const f of readdirSync(join(REPO, layer), { recursive: true }) as string[]) {
      if (f.endsWith(".ts")) files.push(join(layer, f));
    }
  }
  return files;
}

/** Relative imports resolved to repo paths, and package imports by name. */
function importsOf(file: string): Import[] {
  const text = readFileSync(join(REPO, file), "utf8");
  const found: Import[] = [];
  const re = /^(import|export)\s+(type\s+)?[^;]*?from\s+"([^"]+)";|^import\s+"([^"]+)";/gms;
  for (const m of text.matchAll(re)) {
    const spec = m[3] ?? m[4];
    const typeOnly = Boolean(m[2]);
    if (!spec.startsWith(".")) {
      found.push({ to: spec, typeOnly });
      continue;
    }
    const base = resolve(REPO, dirname(file), spec);
    const target = [`${base}.ts`, join(base, "index.ts")].find((c) => existsSync(c));
    assert.ok(target, `${file}: cannot resolve ${spec}`);
    found.push({ to: relative(REPO, target), typeOnly });
  }
  return found;
}

const layerOf = (file: string): Layer | "index" =>
  file === "index.ts" ? "index" : (file.split("/")[0] as Layer);

describe("layers", () => {
  const graph = new Map(sources().map((f) => [f, importsOf(f)]));

  it("each layer imports only from the layers below it", () => {
    const wrong: string[] = [];
    for (const [file, imports] of graph) {
      const from = layerOf(file);
      if (from === "index") continue;
      for (const { to, typeOnly } of imports) {
        if (!graph.has(to)) continue; // a package
        const target = layerOf(to) as Layer;
        const ok =
          target === from ||
          ALLOWED[from].includes(target) ||
          (typeOnly && (ALLOWED_TYPES[from] ?? []).includes(target));
        if (!ok) wrong.push(`${file} -> ${to}${typeOnly ? " (type)" : ""}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it("no module imports itself through others, types included", () => {
    const circles: string[] = [];
    const visit = (file: string, path: string[]) => {
      for (const { to } of graph.get(file) ?? []) {
        if (!graph.has(to)) continue;
        if (to === path[0]) circles.push([...path, to].join(" -> "));
        else if (!path.includes(to)) visit(to, [...path, to]);
      }
    };
    for (const file of graph.keys()) visit(file, [file]);
    assert.deepEqual(circles, []);
  });

  it("the program process loads neither the providers nor pg", () => {
    const loaded = new Set<string>();
    const walk = (file: string) => {
      if (loaded.has(file)) return;
      loaded.add(file);
      for (const { to, typeOnly } of graph.get(file) ?? []) if (!typeOnly) walk(to);
    };
    walk("index.ts");
    const forbidden = [...loaded].filter((f) => f.startsWith("providers/") || f === "pg");
    assert.deepEqual(forbidden, []);
    assert.ok(loaded.has("components/mailServer.ts"), "the walk follows the program's imports");
  });
});
