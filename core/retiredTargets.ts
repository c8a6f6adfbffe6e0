// Databases and servers the operator has given up on (a dead host, a decommissioned cluster):
// `vmail:retiredTargets` names each as vmail's messages describe it (`postgres HOST:PORT/DB`,
// `ssh USER@HOST:PORT`). A row or file recorded there is moved without touching it, is read back
// as the state has it, and is forgotten on delete: whatever is left there is left. Pure.

import { describeTarget, type DbIdentity, type ServerIdentity } from "./target";

const DESCRIBED = /^(postgres [^\s:/]+:\d+\/\S+|ssh [^\s@]+@[^\s:]+:\d+)$/;

/** The rule for one entry: it reads as vmail describes a database or an SSH server. */
export function retiredTargetRule(entry: string): string | undefined {
  return DESCRIBED.test(entry)
    ? undefined
    : "a retired target reads as vmail's messages name it: 'postgres HOST:PORT/DATABASE' or 'ssh USER@HOST:PORT'";
}

/** Whether `target` (a row's database, a file's server) is one the operator retired. */
export function isRetired(
  retired: readonly string[],
  target: DbIdentity | ServerIdentity,
): boolean {
  return retired.includes(describeTarget(target));
}

/** The hint added to a failure to reach `target`: how to leave it behind for good. */
export function retireHint(target: DbIdentity | ServerIdentity): string {
  return (
    `If ${describeTarget(target)} is gone for good, add "${describeTarget(target)}" to ` +
    "vmail:retiredTargets: vmail then leaves whatever is there as it is and stops reaching it."
  );
}
