// The Debian packages the tests use (PostgreSQL, Postfix, Dovecot, sshd, ...) come from
// scripts/install-system-deps, so a fresh machine gets them on first use.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";

/** Runs scripts/install-system-deps (apt-get on a machine that lacks a package). */
export function installSystemDeps(): void {
  const script = path.join(__dirname, "../../scripts/install-system-deps");
  const r = spawnSync("bash", [script], { stdio: "inherit" });
  if (r.status !== 0) throw new Error("scripts/install-system-deps failed");
}

/** installSystemDeps unless every one of `files` exists: otherwise one existsSync each. */
export function ensureInstalled(files: string[]): void {
  if (!files.every((f) => existsSync(f))) installSystemDeps();
}
