// Reads this stack's config through the Pulumi SDK and hands it to the pure parser; the two
// secrets that are not part of the spec come back as secret Outputs.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { load } from "js-yaml";
import { NAMESPACE, parseConfig, type AccountsFile, type MailSpec } from "../core/config";

// isConfigSecret is exported by the SDK's runtime but left out of its type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const runtimeConfig = require("@pulumi/pulumi/runtime/config") as {
  isConfigSecret(key: string): boolean;
};

export interface StackConfig {
  spec: MailSpec;
  adminPassword: pulumi.Output<string>;
  sshPrivateKey?: pulumi.Output<string>;
}

/** The accounts file, read relative to the project directory (the program's working directory). */
function readAccountsFile(path: string | undefined): AccountsFile | undefined {
  if (!path) return undefined;
  let text: string;
  try {
    text = readFileSync(resolve(process.cwd(), path), "utf8");
  } catch (error) {
    throw new Error(`vmail:accountsFile: cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return { path, data: load(text) };
  } catch (error) {
    throw new Error(
      `vmail:accountsFile: ${path} is not valid YAML/JSON: ${(error as Error).message}`,
    );
  }
}

/**
 * The validated spec and the two secrets. Bad config ends the program as a pulumi.RunError: the
 * CLI prints its list of problems once, plainly, with no stack trace.
 */
export function readStackConfig(): StackConfig {
  const config = new pulumi.Config(NAMESPACE);
  const prefix = `${NAMESPACE}:`;
  try {
    const spec = parseConfig(
      {
        get: (key) => config.get(key),
        isSecret: (key) => runtimeConfig.isConfigSecret(`${prefix}${key}`),
        keys: () =>
          Object.keys(pulumi.runtime.allConfig())
            .filter((k) => k.startsWith(prefix))
            .map((k) => k.slice(prefix.length)),
      },
      readAccountsFile(config.get("accountsFile")),
    );
    return {
      spec,
      adminPassword: config.requireSecret("pgAdminPassword"),
      // One key for every server vmail reaches over SSH, the stack's own or one of vmail:servers.
      sshPrivateKey: [spec.own, ...spec.servers].map((s) => s.server).some((s) => s.kind === "ssh")
        ? config.requireSecret("sshPrivateKey")
        : undefined,
    };
  } catch (error) {
    throw new pulumi.RunError((error as Error).message);
  }
}
