// Which of the resource plugins vmail's program needs are in Pulumi's plugin cache. They cannot
// be downloaded here, so they are built and registered by hand
// (`pulumi plugin install resource NAME VERSION --file BINARY`). The suites that run the whole
// program fail without them: only they prove the real grants, main.cf, Dovecot and destroy, so a
// green run must never hide that they did not run. A machine that cannot have the plugins says so
// explicitly with VMAIL_E2E_WITHOUT_PLUGINS=1, and the suites are then skipped, loudly.

import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { REPO } from "./stackFiles";

export const PLUGIN_PACKAGES = ["command", "random", "postgresql"];

/** The switch that lets the whole-program suites be skipped where the plugins are missing. */
export const WITHOUT_PLUGINS_VARIABLE = "VMAIL_E2E_WITHOUT_PLUGINS";

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

/** Whether this machine's operator said the whole-program suites may be skipped. */
export function pluginsMayBeMissing(): boolean {
  return process.env[WITHOUT_PLUGINS_VARIABLE] === "1";
}

/**
 * How a suite that needs the plugins starts: `skip` is the loud reason to skip it (only when the
 * plugins are missing and the operator allowed that), and `assertPresent` fails the suite, naming
 * each missing plugin and how to get it, when they are missing and skipping was not allowed.
 */
export function pluginGate(suite: string): { skip: string | false; assertPresent: () => void } {
  const missing = missingPlugins();
  const what = `Pulumi resource plugins missing from the plugin cache: ${missing.join("; ")}`;
  if (missing.length > 0 && pluginsMayBeMissing()) {
    const reason = `${suite} SKIPPED (${WITHOUT_PLUGINS_VARIABLE}=1): ${what}`;
    console.error(`\n*** ${reason} ***\n`);
    return { skip: reason, assertPresent: () => undefined };
  }
  return {
    skip: false,
    assertPresent: () => {
      if (missing.length === 0) return;
      throw new Error(
        `${suite} cannot run: ${what}. Build and register them as the README's "The engine ` +
          `without release downloads" says, or set ${WITHOUT_PLUGINS_VARIABLE}=1 to skip this ` +
          `suite on a machine that cannot have them.`,
      );
    },
  };
}
