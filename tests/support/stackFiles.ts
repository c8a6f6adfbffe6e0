// Reads the project's own Pulumi.yaml and stack files, so tests run against the config an
// operator would run, not a copy of it.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import { ConfigError, parseConfig, type RawConfig } from "../../core/config";

export const REPO = join(__dirname, "..", "..");

interface ProjectFile {
  config: Record<
    string,
    { type: string; default?: unknown; secret?: boolean; description?: string }
  >;
}

export function projectFile(): ProjectFile {
  return load(readFileSync(join(REPO, "Pulumi.yaml"), "utf8")) as ProjectFile;
}

/** A stack file's `config:` map, keys with their namespace ("vmail:domains"). */
export function stackFileConfig(stack: string): Record<string, unknown> {
  const file = load(readFileSync(join(REPO, `Pulumi.${stack}.yaml`), "utf8")) as {
    config?: Record<string, unknown>;
  };
  return file.config ?? {};
}

/** Pulumi hands structured values to programs as JSON text and scalars as strings. */
export function asConfigString(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * The config a program sees for `stack`: project defaults, then the stack's values, then
 * `overrides` (for values the stack file holds encrypted). Keys without namespace.
 */
export function rawConfigFor(
  stack: string,
  overrides: Record<string, unknown> = {},
  secretKeys: string[] = [],
): RawConfig & { values: Record<string, string> } {
  const values: Record<string, string> = {};
  for (const [key, decl] of Object.entries(projectFile().config)) {
    if (decl.default !== undefined)
      values[key.replace(/^vmail:/, "")] = asConfigString(decl.default);
  }
  for (const [key, value] of Object.entries(stackFileConfig(stack))) {
    if (!key.startsWith("vmail:")) continue;
    const isEncrypted = typeof value === "object" && value !== null && "secure" in value;
    if (!isEncrypted) values[key.replace(/^vmail:/, "")] = asConfigString(value);
  }
  for (const [key, value] of Object.entries(overrides)) values[key] = asConfigString(value);
  return {
    values,
    get: (key) => values[key],
    isSecret: (key) => secretKeys.includes(key),
    // Encrypted values are set too, though their text is not here.
    keys: () => [
      ...new Set([
        ...Object.keys(values),
        ...Object.keys(stackFileConfig(stack)).map((k) => k.replace(/^vmail:/, "")),
      ]),
    ],
  };
}

/** The problems the dev stack with `overrides` is refused for, one a line; fails if it is not. */
export function refusalOf(overrides: Record<string, unknown>): string {
  try {
    parseConfig(rawConfigFor("dev", overrides));
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems.join("\n");
  }
  assert.fail("expected the config to be refused");
}

/** What a stack needs to converge a throwaway cluster and a private Postfix and Dovecot. */
export interface PrivateServer {
  cluster: { port: number; hbaFile: string };
  postfix: { configDir: string };
  dovecot: { configDir: string };
  /** The mail owner's account (made by vmail), its group of the same name. */
  owner: string;
  /** A 0755 folder for the maildirs and the map files. */
  dir: string;
}

/** The stack file's keys that point vmail at a private server (no accounts, no secrets). */
export function privateServerConfig(s: PrivateServer): Record<string, unknown> {
  return {
    "vmail:protect": false,
    "vmail:pgHost": "127.0.0.1",
    "vmail:pgPort": s.cluster.port,
    "vmail:pgHbaFile": s.cluster.hbaFile,
    "vmail:mailUser": s.owner,
    "vmail:mailGroup": s.owner,
    "vmail:mailboxBase": join(s.dir, "mail"),
    "vmail:postfixConfigDir": s.postfix.configDir,
    "vmail:postfixMapsDir": join(s.dir, "pgsql"),
    "vmail:dovecotConfigDir": s.dovecot.configDir,
  };
}
