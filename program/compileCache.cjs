// Loaded first by the program and by vmail's provider plugin (node --require, from Pulumi.yaml's
// nodeargs and plugin/pulumi-resource-vmail): Node keeps the code it compiled for each module on
// disk and reuses it, so a run does not compile the SDK, TypeScript and vmail again. The cache is
// the user's own (never a shared temp dir: it holds code Node runs); a cache that cannot be made
// is skipped, and the run goes on without it. VMAIL_NO_COMPILE_CACHE=1 turns it off.

const { enableCompileCache } = require("node:module");
const { homedir } = require("node:os");
const { join } = require("node:path");

if (typeof enableCompileCache === "function" && process.env.VMAIL_NO_COMPILE_CACHE !== "1") {
  try {
    enableCompileCache(join(homedir(), ".cache", "vmail", "node-compile-cache"));
  } catch {
    // No cache: the run is a little slower to start, and otherwise the same.
  }
}
