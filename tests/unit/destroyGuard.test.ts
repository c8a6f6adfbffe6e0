// The destroy guard in the dev stack's graph, under Pulumi's mocks: it depends on every other
// resource of the stack (the components, which stand for all their children, and every row, through
// the rows' milestone), so
// a destroy deletes it before anything else and an `up` makes it last. Protected when
// vmail:protect is, it stops a destroy before anything is gone; its delete refuses a destroy
// without checkpoints (tests/integration/checkpointGuardDrops.test.ts).

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { parseConfig } from "../../core/config";
import { MockEngine } from "../support/mocks";
import { rawConfigFor } from "../support/stackFiles";

const engine = new MockEngine();
const VMAIL_TYPE = "vmail:index:";

before(async () => {
  await engine.install();
  await engine.registerMailServer(parseConfig(rawConfigFor("dev", { protect: true })));
});

describe("the destroy guard", () => {
  it("waits for every other resource of the stack: a destroy deletes it first", () => {
    const guard = engine.find(`${VMAIL_TYPE}DestroyGuard`, "mail-destroy-guard");
    assert.equal(engine.nameOf(guard.parent), "mail");
    assert.deepEqual(guard.props.roles, ["mailreader", "mailreader_admin", "maildovecot"]);
    assert.equal(guard.props.database, "mail");
    const others = engine.recorded.filter(
      (r) => r !== guard && !r.component, // components stand for their children
    );
    assert.ok(others.length > 30, `the stack's resources: ${others.length}`);
    for (const r of others) {
      assert.ok(engine.waitsFor(guard, r.resource), `the guard waits for ${r.type} ${r.name}`);
    }
  });

  it("is protected when vmail:protect is, so a destroy stops before anything is deleted", () => {
    const guard = engine.find(`${VMAIL_TYPE}DestroyGuard`, "mail-destroy-guard");
    assert.equal(guard.protect, true);
  });
});
