// Real Dovecot as the judge of a stored hash: `doveadm pw -t` with a throwaway test password.

import { spawnSync } from "node:child_process";

/** Whether doveadm verifies `password` against `hash` (test passwords only: it is an argument). */
export function doveadmVerifies(hash: string, password: string): boolean {
  const r = spawnSync("doveadm", ["pw", "-t", hash, "-p", password], { encoding: "utf8" });
  return r.status === 0 && /\(verified\)/.test(r.stdout + r.stderr);
}
