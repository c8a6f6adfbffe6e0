// PULUMI_SKIP_CHECKPOINTS makes large runs fast (the engine writes the state once, at the end),
// and is safe for every step vmail can re-run: rows are upserts, files are overwritten, deletes
// accept what is gone. Creating a role or a database is not such a step: a run killed after the
// CREATE ROLE leaves a role the state never heard of, and the next `up` fails with "already
// exists". This guard refuses such a run before anything changes, naming what is missing.

import type * as pulumi from "@pulumi/pulumi";
import type { CheckpointGuardInputs } from "../resources/checkpointGuard";
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

export const checkpointGuardProvider: pulumi.dynamic.ResourceProvider = {
  configure: (req) => Promise.resolve(context.set(req.config)),
  async check(_olds, news: CheckpointGuardInputs) {
    if (!skipsCheckpoints()) return { inputs: news };
    const missing = await missingObjects(news);
    if (missing.length === 0) return { inputs: news };
    const reason =
      `PULUMI_SKIP_CHECKPOINTS is set, but ${missing.join(", ")} must be created first, and ` +
      "a create that is interrupted cannot be re-run without checkpoints. Run this `up` " +
      "without PULUMI_SKIP_CHECKPOINTS; later runs may set it.";
    return { inputs: news, failures: [{ property: "database", reason }] };
  },
  create: (inputs: CheckpointGuardInputs) =>
    Promise.resolve({ id: "checkpoint-guard", outs: inputs }),
  // Only what the guard checks: the serialized provider code beside it in the state is no change.
  diff: (_id, olds: CheckpointGuardInputs, news: CheckpointGuardInputs) =>
    Promise.resolve({
      changes:
        olds.database !== news.database ||
        JSON.stringify(olds.roles) !== JSON.stringify(news.roles),
    }),
  update: (_id, _olds, news: CheckpointGuardInputs) => Promise.resolve({ outs: news }),
  read: (id: string, props: CheckpointGuardInputs) => Promise.resolve({ id, props }),
  delete: () => Promise.resolve(),
};
