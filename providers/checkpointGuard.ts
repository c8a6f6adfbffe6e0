// Guards the PostgreSQL objects vmail cannot make again at will: the roles and the database.
// PULUMI_SKIP_CHECKPOINTS makes large runs fast (the engine writes the state once, at the end),
// and is safe for every step vmail can re-run: rows are upserts, files are overwritten, deletes
// accept what is gone. Creating a role or a database is not such a step: a run killed after the
// CREATE ROLE leaves a role the state never heard of, and the next `up` fails with "already
// exists". And a new pgHost or pgPort moves the rows, not the roles, the database and its grants
// (@pulumi/postgresql resources, which would only be pointed at the new server). The guard
// refuses both before anything changes, naming what is missing.

import type * as pulumi from "@pulumi/pulumi";
import type { CheckpointGuardInputs } from "../resources/checkpointGuard";
import { describeTarget, targetChanged, targetMoved } from "../spec/target";
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

/** Why a move to a server without the stack's roles and database is refused. */
function movedReason(from: string, to: string, missing: string[]): string {
  return (
    `vmail:pgHost or vmail:pgPort moved from ${from} to ${to}, which has no ` +
    `${missing.join(", ")}. vmail moves the rows, but not the roles, the database and its ` +
    `grants: make them on ${to} first (pg_dumpall --roles-only and pg_dump of the database, ` +
    "restored there), or point vmail:pgHost and vmail:pgPort back."
  );
}

export const checkpointGuardProvider: pulumi.dynamic.ResourceProvider = {
  configure: (req) => Promise.resolve(context.set(req.config)),
  async check(olds: Partial<CheckpointGuardInputs>, news: CheckpointGuardInputs) {
    const [from, to] = [olds.server, news.server];
    const moved = from !== undefined && to !== undefined && targetMoved(from, to);
    if (!moved && !skipsCheckpoints()) return { inputs: news };
    const missing = await missingObjects(news);
    if (missing.length === 0) return { inputs: news };
    const reason = moved
      ? movedReason(describeTarget(from), describeTarget(to), missing)
      : `PULUMI_SKIP_CHECKPOINTS is set, but ${missing.join(", ")} must be created first, and ` +
        "a create that is interrupted cannot be re-run without checkpoints. Run this `up` " +
        "without PULUMI_SKIP_CHECKPOINTS; later runs may set it.";
    return { inputs: news, failures: [{ property: moved ? "server" : "database", reason }] };
  },
  create: (inputs: CheckpointGuardInputs) =>
    Promise.resolve({ id: "checkpoint-guard", outs: inputs }),
  // Only what the guard checks: the serialized provider code beside it in the state is no change.
  // A state without the server records it (one update).
  diff: (_id, olds: CheckpointGuardInputs, news: CheckpointGuardInputs) =>
    Promise.resolve({
      changes:
        olds.database !== news.database ||
        JSON.stringify(olds.roles) !== JSON.stringify(news.roles) ||
        targetChanged(olds.server, news.server),
    }),
  update: (_id, _olds, news: CheckpointGuardInputs) => Promise.resolve({ outs: news }),
  read: (id: string, props: CheckpointGuardInputs) => Promise.resolve({ id, props }),
  delete: () => Promise.resolve(),
};
