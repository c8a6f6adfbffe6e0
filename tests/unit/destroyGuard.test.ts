// The destroy guard in the dev stack's graph, under Pulumi's mocks: it depends on every role, the
// database and every grant and table MailDatabase makes, so a destroy deletes it before any of
// them (its delete refuses a destroy without checkpoints: tests/integration/
// checkpointGuardDrops.test.ts), and nothing depends on it, so an `up` makes it last.

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { parseConfig } from "../../spec/config";
import { MockEngine, valueOf } from "../support/mocks";
import { rawConfigFor } from "../support/stackFiles";

const engine = new MockEngine();
const DYN = "pulumi-nodejs:dynamic/vmail:";

before(async () => {
  await engine.install();
  // The components are loaded only now: Pulumi's mocks must be in place first.
  const { MailServer } = await import("../../components/mailServer");
  const pulumiSdk = await import("@pulumi/pulumi");
  const server = new MailServer(
    "mail",
    { spec: parseConfig(rawConfigFor("dev")), adminPassword: pulumiSdk.secret("admin-pw") },
    { transformations: [engine.record] },
  );
  await valueOf(server.generatedPasswords);
});

/** Whether `r` depends on `on`, directly or through what it depends on. */
function waitsFor(r: pulumi.Resource, on: pulumi.Resource): boolean {
  const deps = engine.recorded.find((x) => x.resource === r)?.dependsOn ?? [];
  return deps.some((d) => d === on || waitsFor(d, on));
}

describe("the destroy guard", () => {
  it("waits for every role, the database, every grant and the tables: a destroy deletes it first", () => {
    const guard = engine.find(`${DYN}DestroyGuard`, "mail-database-destroy-guard");
    assert.equal(engine.nameOf(guard.parent), "mail-database");
    assert.deepEqual(guard.props.roles, ["mailreader", "mailreader_admin", "maildovecot"]);
    assert.equal(guard.props.database, "mail");
    assert.equal(guard.props.guards, "destroy");
    const dropped = engine.recorded.filter(
      (r) =>
        /^postgresql:index\/(role:Role|database:Database|grant:Grant)$/.test(r.type) ||
        r.type === `${DYN}MailTables`,
    );
    assert.deepEqual(
      dropped.filter((r) => r.type === "postgresql:index/role:Role").map((r) => r.name),
      ["mail-database-reader", "mail-database-owner", "mail-database-dovecot"],
    );
    assert.ok(dropped.filter((r) => r.type === "postgresql:index/grant:Grant").length >= 9);
    for (const r of dropped) {
      assert.ok(waitsFor(guard.resource, r.resource), `the guard waits for ${r.type} ${r.name}`);
    }
  });

  it("is what nothing waits for, and comes after the checkpoint guard", () => {
    const guard = engine.find(`${DYN}DestroyGuard`, "mail-database-destroy-guard");
    const waiting = engine.recorded.filter((r) => waitsFor(r.resource, guard.resource));
    assert.deepEqual(
      waiting.map((r) => r.name),
      [],
    );
    const checkpointGuard = engine.find(`${DYN}CheckpointGuard`, "mail-database-checkpoint-guard");
    assert.ok(waitsFor(guard.resource, checkpointGuard.resource));
  });
});
