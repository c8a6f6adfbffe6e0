// Guards the PostgreSQL objects vmail cannot make again at will: the roles and the database.
// PULUMI_SKIP_CHECKPOINTS makes large runs fast (the engine writes the state once, at the end),
// and is safe for every step vmail can re-run: rows are upserts, files are overwritten, deletes
// accept what is gone. Creating a role or a database is not such a step: a run killed after the
// CREATE ROLE leaves a role the state never heard of, and the next `up` fails with "already
// exists". Nor is dropping one (a role the stack no longer has, the database and the roles in a
// destroy): @pulumi/postgresql's delete runs REASSIGN OWNED BY, DROP ROLE, DROP DATABASE without
// IF EXISTS, so after a kill the state still lists what is gone, and the next run fails with
// "does not exist". And a new pgHost or pgPort moves the rows, not the roles, the database and
// its grants (@pulumi/postgresql resources, which would only be pointed at the new server).
// The CheckpointGuard refuses these in its check, before anything changes, naming what would be
// made or dropped. A role the stack had and no longer has stays in its inputs (`dropping`) until
// a run without checkpoints finds it gone from the server: a run that failed after the guard
// recorded the new list, but before the DROP, does not let the next one drop it unguarded.
// A destroy calls no check: the DestroyGuard, which depends on the roles, the database and their
// grants, is deleted before them, and its delete refuses.

import type * as pulumi from "@pulumi/pulumi";
import type { CheckpointGuardInputs, DestroyGuardInputs } from "../core/providerInputs";
import { describeTarget, targetChanged, targetMoved } from "../core/target";
import { poolFor } from "./db";
import { providerContext as context } from "./context";

/** The engine's own reading of the variable (cmdutil.IsTruthy). */
function skipsCheckpoints(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.PULUMI_SKIP_CHECKPOINTS ?? "";
  return v === "1" || v.toLowerCase() === "true";
}

/** The roles and the database of `inputs` that the server does not have yet. */
async function missingObjects(inputs: CheckpointGuardInputs): Promise<string[]> {
  const pool = poolFor(context.get().db, "postgres");
  const roles = await pool.query<{ rolname: string }>(
    "SELECT rolname FROM pg_roles WHERE rolname = ANY($1)",
    [inputs.roles],
  );
  const dbs = await pool.query("SELECT 1 FROM pg_database WHERE datname = $1", [inputs.database]);
  const have = new Set(roles.rows.map((r) => r.rolname));
  return [
    ...inputs.roles.filter((r) => !have.has(r)).map((r) => `role ${r}`),
    ...(dbs.rows.length === 0 ? [`database ${inputs.database}`] : []),
  ];
}

/** The roles of `names` that the server still has. */
async function existingRoles(names: string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const pool = poolFor(context.get().db, "postgres");
  const found = await pool.query<{ rolname: string }>(
    "SELECT rolname FROM pg_roles WHERE rolname = ANY($1)",
    [names],
  );
  const have = new Set(found.rows.map((r) => r.rolname));
  return names.filter((r) => have.has(r));
}

/**
 * The roles the stack had (its previous inputs, and what they still listed as dropping) and no
 * longer has: the ones this run, or an earlier one that failed before its DROP, drops (or renames).
 */
function unwantedRoles(
  olds: Partial<CheckpointGuardInputs>,
  news: CheckpointGuardInputs,
): string[] {
  const wanted = new Set(news.roles);
  const before = new Set([...(olds.roles ?? []), ...(olds.dropping ?? [])]);
  return [...before].filter((r) => !wanted.has(r));
}

/** The inputs to record: `news`, and the roles still to be dropped, if any. */
function withDropping(news: CheckpointGuardInputs, dropping: string[]): CheckpointGuardInputs {
  const recorded: CheckpointGuardInputs = { ...news };
  delete recorded.dropping; // the check's alone to set
  return dropping.length > 0 ? { ...recorded, dropping } : recorded;
}

/** Why a run without checkpoints is refused: what it would make, and what it would drop. */
function skipReason(missing: string[], dropping: string[]): string {
  const make = missing.length > 0 ? `${missing.join(", ")} must be created first` : "";
  const unwanted = dropping.map((r) => `role ${r}`).join(", ");
  const drop =
    dropping.length === 0
      ? ""
      : missing.length === 0
        ? `${unwanted}, which the stack no longer has, must be dropped (or renamed) first`
        : `${unwanted}, which the stack no longer has, dropped (or renamed)`;
  const what = [make, drop].filter((x) => x !== "").join(" and ");
  const steps =
    missing.length > 0 && dropping.length > 0
      ? "a create or a drop"
      : missing.length > 0
        ? "a create"
        : "a drop";
  return (
    `PULUMI_SKIP_CHECKPOINTS is set, but ${what}, and ${steps} that is interrupted cannot be ` +
    "re-run without checkpoints. Run this `up` without PULUMI_SKIP_CHECKPOINTS; later runs may " +
    "set it."
  );
}

/** Why a destroy without checkpoints is refused. */
function destroyReason({ database, roles }: DestroyGuardInputs): string {
  return (
    `vmail: PULUMI_SKIP_CHECKPOINTS is set, but this run would drop database ${database}, ` +
    `${roles.map((r) => `role ${r}`).join(", ")} and their grants, and a drop that is ` +
    "interrupted cannot be re-run without checkpoints (the state would still list what is gone, " +
    'and the next run fail with "does not exist"). No grant, role or database was dropped: run this ' +
    "`pulumi destroy` without PULUMI_SKIP_CHECKPOINTS."
  );
}

/** Why a move to a server without the stack's roles and database is refused. */
function movedReason(from: string, to: string, missing: string[]): string {
  return (
    `vmail:pgHost or vmail:pgPort moved from ${from} to ${to}, which has no ` +
    `${missing.join(", ")}. vmail moves the rows, but not the roles, the database and its ` +
    `grants: make them on ${to} first (pg_dumpall --roles-only and pg_dump of the database, ` +
    "restored there), or point vmail:pgHost and vmail:pgPort back."
  );
}

/** The destroy guard's inputs carry this mark; the checkpoint guard's never do. */
function isDestroyGuard(inputs: object): inputs is DestroyGuardInputs {
  return (inputs as Partial<DestroyGuardInputs>).guards === "destroy";
}

/** What a guard's diff compares: what it checks, never the serialized provider beside it. */
function guarded(inputs: CheckpointGuardInputs | DestroyGuardInputs): string {
  return JSON.stringify([
    inputs.database,
    inputs.roles,
    isDestroyGuard(inputs) ? [] : (inputs.dropping ?? []),
  ]);
}

/** One provider for both guards: the DestroyGuard is the one marked `guards: "destroy"`. */
export const checkpointGuardProvider: pulumi.dynamic.ResourceProvider = {
  configure: (req) => Promise.resolve(context.set(req.config)),
  async check(olds: Partial<CheckpointGuardInputs>, news: CheckpointGuardInputs) {
    if (isDestroyGuard(news)) return { inputs: news };
    const [from, to] = [olds.server, news.server];
    const moved = from !== undefined && to !== undefined && targetMoved(from, to);
    const skip = skipsCheckpoints();
    const unwanted = unwantedRoles(olds, news);
    // Without checkpoints, a role found gone from the server is dropped already: forgotten.
    const dropping = skip ? await existingRoles(unwanted) : unwanted;
    const inputs = withDropping(news, dropping);
    if (!moved && !skip) return { inputs };
    const missing = await missingObjects(news);
    if (moved && missing.length > 0) {
      const reason = movedReason(describeTarget(from), describeTarget(to), missing);
      return { inputs, failures: [{ property: "server", reason }] };
    }
    if (!skip || (missing.length === 0 && dropping.length === 0)) return { inputs };
    return { inputs, failures: [{ property: "database", reason: skipReason(missing, dropping) }] };
  },
  create: (inputs: CheckpointGuardInputs | DestroyGuardInputs) =>
    Promise.resolve({
      id: isDestroyGuard(inputs) ? "destroy-guard" : "checkpoint-guard",
      outs: inputs,
    }),
  // Only what the guard checks: the serialized provider code beside it in the state is no change.
  // A state without the server records it (one update).
  diff: (_id, olds: CheckpointGuardInputs, news: CheckpointGuardInputs) =>
    Promise.resolve({
      changes:
        guarded(olds) !== guarded(news) ||
        (!isDestroyGuard(news) && targetChanged(olds.server, news.server)),
    }),
  update: (_id, _olds, news: CheckpointGuardInputs) => Promise.resolve({ outs: news }),
  read: (id: string, props: CheckpointGuardInputs) => Promise.resolve({ id, props }),
  // A destroy deletes the DestroyGuard before the roles, the database and their grants (they are
  // what it depends on): without checkpoints, it refuses, and the destroy stops before a DROP.
  delete: (_id, props: CheckpointGuardInputs | DestroyGuardInputs) =>
    isDestroyGuard(props) && skipsCheckpoints()
      ? Promise.reject(new Error(destroyReason(props)))
      : Promise.resolve(),
};
