// The checkpoint guards against a real PostgreSQL 15 cluster, for drops (issue 14 item 8): a run
// without checkpoints that would drop a role the stack no longer has is refused by the
// CheckpointGuard's check, before anything changes, also when an earlier run failed after the
// guard recorded the new roles but before the DROP; a destroy without checkpoints is refused by
// the DestroyGuard's delete, which a destroy runs before any grant, role or database is dropped
// (tests/unit/destroyGuard.test.ts holds that order). @pulumi/postgresql's DROP ROLE and DROP
// DATABASE cannot be re-run after a kill: the state would still list what is gone.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { checkpointGuardProvider } from "../../providers/checkpointGuard";
import { closePools } from "../../providers/db";
import type { CheckpointGuardInputs } from "../../resources/checkpointGuard";
import { startPgCluster, superuserQuery, type PgCluster } from "../support/pgCluster";
import { useLocalContext } from "../support/providers";

type Provider = Required<pulumi.dynamic.ResourceProvider>;
const guard = checkpointGuardProvider as Provider;
let cluster: PgCluster;

const KEPT = ["mailreader", "mailreader_admin"];
const ALL = [...KEPT, "maildovecot"];

before(async () => {
  cluster = await startPgCluster();
  useLocalContext(cluster);
  for (const role of ALL) await superuserQuery(cluster, `CREATE ROLE ${role}`);
  await superuserQuery(cluster, "CREATE DATABASE mail OWNER mailreader_admin");
});

after(async () => {
  await closePools();
  await cluster?.stop();
});

async function withSkip<T>(value: string | undefined, work: () => Promise<T>): Promise<T> {
  const before = process.env.PULUMI_SKIP_CHECKPOINTS;
  if (value === undefined) delete process.env.PULUMI_SKIP_CHECKPOINTS;
  else process.env.PULUMI_SKIP_CHECKPOINTS = value;
  try {
    return await work();
  } finally {
    if (before === undefined) delete process.env.PULUMI_SKIP_CHECKPOINTS;
    else process.env.PULUMI_SKIP_CHECKPOINTS = before;
  }
}

// The test cluster, where the guard looks (started in a `before` hook: read when a test runs).
const inputs = (roles: string[], dropping?: string[]): CheckpointGuardInputs => ({
  database: "mail",
  roles,
  server: { host: cluster.host, port: cluster.port },
  ...(dropping ? { dropping } : {}),
});

describe("the checkpoint guard, for a role the stack no longer has", () => {
  it("refuses a run without checkpoints that drops it (vmail:dovecot: false), naming it", async () => {
    const result = await withSkip("true", () => guard.check(inputs(ALL), inputs(KEPT)));
    assert.equal(result.failures?.length, 1);
    assert.equal(result.failures?.[0].property, "database");
    assert.equal(
      result.failures?.[0].reason,
      "PULUMI_SKIP_CHECKPOINTS is set, but role maildovecot, which the stack no longer has, must " +
        "be dropped (or renamed) first, and a drop that is interrupted cannot be re-run without " +
        "checkpoints. Run this `up` without PULUMI_SKIP_CHECKPOINTS; later runs may set it.",
    );
  });

  it("lets a run with checkpoints drop it, and records it as dropping without looking", async () => {
    const result = await withSkip(undefined, () =>
      guard.check(inputs(ALL), inputs(KEPT, ["not-looked-up"])),
    );
    assert.equal(result.failures, undefined);
    // What the program passes as `dropping` is never taken: only the olds say what was there.
    assert.deepEqual(result.inputs, inputs(KEPT, ["maildovecot"]));
    assert.deepEqual(await guard.diff("checkpoint-guard", inputs(ALL), result.inputs), {
      changes: true,
    });
  });

  it("still refuses it without checkpoints after a run that recorded the new roles failed before the DROP", async () => {
    // The state of the guard after that run: the new roles, and the one still to be dropped.
    const olds = inputs(KEPT, ["maildovecot"]);
    const result = await withSkip("1", () => guard.check(olds, inputs(KEPT)));
    assert.match(
      result.failures?.[0].reason ?? "",
      /^PULUMI_SKIP_CHECKPOINTS is set, but role maildovecot, which the stack no longer has, must be dropped/,
    );
    assert.deepEqual(result.inputs, olds);
  });

  it("forgets it once a run without checkpoints finds it gone from the server", async () => {
    await superuserQuery(cluster, "CREATE ROLE mail_gone");
    await superuserQuery(cluster, "DROP ROLE mail_gone");
    const olds = inputs(KEPT, ["mail_gone"]);
    const result = await withSkip("true", () => guard.check(olds, inputs(KEPT)));
    assert.equal(result.failures, undefined);
    assert.deepEqual(result.inputs, inputs(KEPT));
    assert.deepEqual(await guard.diff("checkpoint-guard", olds, inputs(KEPT)), { changes: true });
  });

  it("names what a rename would make and drop", async () => {
    const result = await withSkip("true", () =>
      guard.check(inputs(ALL), inputs(["mailreader_next", "mailreader_admin", "maildovecot"])),
    );
    assert.equal(
      result.failures?.[0].reason,
      "PULUMI_SKIP_CHECKPOINTS is set, but role mailreader_next must be created first and role " +
        "mailreader, which the stack no longer has, dropped (or renamed), and a create or a drop " +
        "that is interrupted cannot be re-run without checkpoints. Run this `up` without " +
        "PULUMI_SKIP_CHECKPOINTS; later runs may set it.",
    );
  });

  it("has nothing to say when the roles stay", async () => {
    const result = await withSkip("true", () => guard.check(inputs(ALL), inputs(ALL)));
    assert.equal(result.failures, undefined);
    assert.deepEqual(result.inputs, inputs(ALL));
  });
});

describe("the destroy guard", () => {
  const destroyGuard = { guards: "destroy", database: "mail", roles: ALL };

  it("refuses, in its delete, a destroy without checkpoints, naming what it would drop", async () => {
    await withSkip("true", () =>
      assert.rejects(guard.delete("destroy-guard", destroyGuard), {
        message:
          "vmail: PULUMI_SKIP_CHECKPOINTS is set, but this run would drop database mail, role " +
          "mailreader, role mailreader_admin, role maildovecot and their grants, and a drop that " +
          "is interrupted cannot be re-run without checkpoints (the state would still list what " +
          'is gone, and the next run fail with "does not exist"). No grant, role or database was dropped: run this ' +
          "`pulumi destroy` without PULUMI_SKIP_CHECKPOINTS.",
      }),
    );
    const [left] = await superuserQuery<{ n: string }>(
      cluster,
      "SELECT count(*) AS n FROM pg_roles WHERE rolname = ANY($1)",
      [ALL],
    );
    assert.equal(Number(left.n), ALL.length);
  });

  it("lets a destroy with checkpoints go on; the checkpoint guard's own delete never refuses", async () => {
    await withSkip(undefined, () => guard.delete("destroy-guard", destroyGuard));
    await withSkip("false", () => guard.delete("destroy-guard", destroyGuard));
    await withSkip("true", () => guard.delete("checkpoint-guard", inputs(ALL)));
  });

  it("is made and updated without a check; what it would drop is its only change", async () => {
    const result = await withSkip("true", () =>
      guard.check({}, { guards: "destroy", database: "absent", roles: ["nobody"] }),
    );
    assert.equal(result.failures, undefined);
    assert.equal((await guard.create(destroyGuard)).id, "destroy-guard");
    assert.deepEqual(await guard.diff("destroy-guard", destroyGuard, destroyGuard), {
      changes: false,
    });
    const fewer = { ...destroyGuard, roles: KEPT };
    assert.deepEqual(await guard.diff("destroy-guard", destroyGuard, fewer), { changes: true });
  });
});
