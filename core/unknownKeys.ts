// Misspelt keys: every key set in the `vmail:` namespace must be one vmail reads.

import { DEFAULTS } from "./configDefaults";
import { NAMESPACE, type RawConfig, type Reader } from "./configReader";

/** Every `vmail:` key vmail reads; anything else in the namespace is a misspelling. */
const KNOWN_KEYS = [
  ...Object.keys(DEFAULTS),
  "users",
  "aliases",
  "pgAdminPassword",
  "sshPrivateKey",
];

/** A misspelt key would be silently ignored: refuse it, naming the key it most likely meant. */
export function refuseUnknownKeys(r: Reader, raw: RawConfig): void {
  for (const key of raw.keys?.() ?? []) {
    if (KNOWN_KEYS.includes(key)) continue;
    const meant = nearestKey(key);
    r.fail(key, `unknown key${meant ? `; did you mean ${NAMESPACE}:${meant}?` : ""}`);
  }
}

/** The known key closest to `key` (same letters in another case, or at most 3 edits away). */
function nearestKey(key: string): string | undefined {
  const lower = key.toLowerCase();
  const scored = KNOWN_KEYS.map((k) => ({
    k,
    d: k.toLowerCase() === lower ? 0 : editDistance(lower, k.toLowerCase()),
  })).sort((a, b) => a.d - b.d);
  return scored[0].d <= 3 ? scored[0].k : undefined;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}
