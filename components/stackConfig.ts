// Reads this stack's config through the Pulumi SDK and hands it to the pure parser; the two
// secrets that are not part of the spec come back as secret Outputs.

import * as pulumi from "@pulumi/pulumi";
import { NAMESPACE, parseConfig, type MailSpec } from "./config";

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

export function readStackConfig(): StackConfig {
  const config = new pulumi.Config(NAMESPACE);
  const spec = parseConfig({
    get: (key) => config.get(key),
    isSecret: (key) => runtimeConfig.isConfigSecret(`${NAMESPACE}:${key}`),
  });
  return {
    spec,
    adminPassword: config.requireSecret("pgAdminPassword"),
    sshPrivateKey: spec.server.kind === "ssh" ? config.requireSecret("sshPrivateKey") : undefined,
  };
}
