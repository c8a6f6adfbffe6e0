// Which of the resource plugins vmail's program needs are in Pulumi's plugin cache. They cannot
// be downloaded here, so the suites that need them run only where they were installed
// (`pulumi plugin install resource NAME VERSION --file BINARY`) and say what is missing otherwise.

import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { REPO } from "./stackFiles";

export const PLUGIN_PACKAGES = ["command", "random", "postgresql"];

/** The plugin version the installed npm package asks the engine for. */
export function pluginVersion(name: string): string {
  const pkg = JSON.parse(
    readFileSync(join(REPO, "node_modules", "@pulumi", name, "package.json"), "utf8"),
  ) as { version: string; pulumi?: { version?: string } };
  return pkg.pulumi?.version ?? pkg.version;
}

export function pulumiHome(): string {
  return process.env.PULUMI_HOME ?? join(homedir(), ".pulumi");
}

/** "NAME VERSION (where it was looked for)" for each plugin missing from the cache. */
export function missingPlugins(): string[] {
  return PLUGIN_PACKAGES.flatMap((name) => {
    const version = pluginVersion(name);
    const dir = join(pulumiHome(), "plugins", `resource-${name}-v${version}`);
    const complete =
      existsSync(join(dir, `pulumi-resource-${name}`)) && !existsSync(`${dir}.partial`);
    return complete ? [] : [`${name} ${version} (not in ${dir})`];
  });
}

/** The reason to skip a suite that runs vmail's whole program, printed loudly; or false. */
export function skipWithoutPlugins(suite: string): string | false {
  const missing = missingPlugins();
  if (missing.length === 0) return false;
  const reason = `${suite} SKIPPED: Pulumi resource plugins missing from the plugin cache: ${missing.join("; ")}`;
  console.error(`\n*** ${reason} ***\n`);
  return reason;
}
