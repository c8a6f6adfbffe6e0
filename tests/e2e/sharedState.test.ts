// State a team can share: the Pulumi CLI's PostgreSQL state backend (`pulumi login
// postgres://...`), on a throwaway cluster, its password in PGPASSWORD (never in the URL). Two
// `pulumi up` of one stack at once: the second is refused by the first one's lock, the first
// finishes, nothing is lost, and the state's secret stays encrypted in the backend's tables.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type * as auto from "@pulumi/pulumi/automation";
import { assertNoChanges, createTestStack, type TestStack } from "../support/engine";
import {
  startPgCluster,
  stateBackendOn,
  STATE_DB,
  superuserQuery,
  type PgCluster,
} from "../support/pgCluster";
import { pluginGate } from "../support/plugins";
import { installSystemDeps } from "../support/systemDeps";

const PLUGINS = pluginGate("e2e: the state in PostgreSQL");

/**
 * Holds its create until the file `gate` exists (a generous deadline guards against a hang), so
 * a test can start a second run while the first is under way. Runs in the provider process.
 */
const heldProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: { gate: string }) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require("node:fs") as typeof import("node:fs");
    const deadline = Date.now() + 300_000;
    while (!fs.existsSync(inputs.gate) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { id: "held", outs: inputs };
  },
};

class Held extends pulumi.dynamic.Resource {
  constructor(gate: string, opts: pulumi.CustomResourceOptions) {
    super(heldProvider, "held", { gate }, opts);
  }
}

/** A generated secret, exported as one, and a resource held until `gate` exists. */
const program = (gate: string) => () => {
  const secret = new random.RandomPassword("team-secret", { length: 32, special: false });
  new Held(gate, { dependsOn: [secret] });
  return Promise.resolve({ teamSecret: secret.result });
};

let cluster: PgCluster;
let dir: string;
let t: TestStack;

/** Every row of every table of the state database, as text, and the files they hold, decoded. */
async function stateTables(): Promise<string> {
  const tables = await superuserQuery<{ name: string }>(
    cluster,
    "SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
    [],
    STATE_DB,
  );
  const rows = await Promise.all(
    tables.map((x) =>
      superuserQuery<{ row: string }>(
        cluster,
        `SELECT t::text AS row FROM ${x.name} t`,
        [],
        STATE_DB,
      ),
    ),
  );
  assert.ok(tables.length > 0, "the backend made its tables");
  // Each file of the state is a row: its path, and {"data": base64 of the file}.
  const text = rows.flat().map((r) => r.row);
  const decoded = text.flatMap((row) =>
    [...row.matchAll(/""data"":""([A-Za-z0-9+/=]+)""/g)].map((m) =>
      Buffer.from(m[1], "base64").toString("utf8"),
    ),
  );
  return [...text, ...decoded].join("\n");
}

describe("the state in PostgreSQL, shared by a team", { skip: PLUGINS.skip }, () => {
  before(async () => {
    PLUGINS.assertPresent();
    installSystemDeps();
    cluster = await startPgCluster();
    dir = mkdtempSync(join(tmpdir(), "vmail-shared-state-"));
    t = await createTestStack(
      "shared",
      program(join(dir, "gate")),
      {},
      await stateBackendOn(cluster),
    );
  });

  after(async () => {
    await t?.remove();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a second up while one runs; the first finishes and nothing is lost", async () => {
    let started!: () => void;
    const holding = new Promise<void>((resolve) => (started = resolve));
    const first = t.stack.up(
      t.opts({
        onEvent: (e: auto.EngineEvent) => {
          if (e.resourcePreEvent?.metadata.urn.endsWith("::held")) started();
        },
      }),
    );
    await holding;
    await assert.rejects(t.stack.up(t.opts()), /locked/i, "the second up is refused by the lock");
    writeFileSync(join(dir, "gate"), "");
    const result = await first;
    assert.equal(result.summary.result, "succeeded");
    assert.equal(result.outputs.teamSecret.secret, true);
    assert.ok(existsSync(join(dir, "gate")));
    // Nothing lost: the next run (an admin's second `up`) finds everything in place.
    await assertNoChanges(t, "shared state: ");
  });

  it("keeps the secret encrypted in the backend's tables", async () => {
    const secret = (await t.stack.outputs()).teamSecret.value as string;
    assert.equal(secret.length, 32);
    const stored = await stateTables();
    assert.ok(stored.includes("team-secret"), "the state is in these tables");
    assert.ok(!stored.includes(secret), "the secret is not in the tables in clear");
  });
});
