// Dovecot's guard: under Pulumi's mocks, every file vmail writes into Dovecot waits for it (so
// its check refuses a server before any of them is written); and the refusals it gives.

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { parseConfig } from "../../core/config";
import { dovecotRefusal } from "../../core/dovecotConfig";
import { MockEngine } from "../support/mocks";
import { rawConfigFor } from "../support/stackFiles";

const engine = new MockEngine();
const VMAIL_TYPE = "vmail:index:";

before(async () => {
  await engine.install();
  await engine.registerMailServer(parseConfig(rawConfigFor("dev")));
});

/** Whether `r` depends on `on`, directly or through what it depends on. */
function waitsFor(r: pulumi.Resource, on: pulumi.Resource): boolean {
  const deps = engine.recorded.find((x) => x.resource === r)?.dependsOn ?? [];
  return deps.some((d) => d === on || waitsFor(d, on));
}

describe("Dovecot's guard", () => {
  it("comes before every Dovecot file and the reload", () => {
    const guard = engine.find(`${VMAIL_TYPE}DovecotGuard`, "mail-dovecot-auth-guard");
    assert.equal(engine.nameOf(guard.parent), "mail-dovecot-auth");
    assert.equal(guard.props.configDir, "/etc/dovecot");
    const dovecotFiles = engine.recorded.filter(
      (r) => r.type === `${VMAIL_TYPE}ServerFile` && r.name.startsWith("mail-dovecot-auth-"),
    );
    assert.deepEqual(dovecotFiles.map((r) => r.name).sort(), [
      "mail-dovecot-auth-auth-block",
      "mail-dovecot-auth-auth-include",
      "mail-dovecot-auth-sql",
    ]);
    const reload = engine.find(`${VMAIL_TYPE}DovecotReload`, "mail-dovecot-auth-reload");
    for (const r of [...dovecotFiles, reload]) {
      assert.ok(waitsFor(r.resource, guard.resource), `${r.name} waits for the guard`);
    }
  });

  it("says what is missing and how to fix it", () => {
    assert.equal(dovecotRefusal("ok\n", "/etc/dovecot"), undefined);
    assert.equal(
      dovecotRefusal("no pgsql driver: /usr/lib/dovecot/modules/auth/libdriver_pgsql.so\n", "/x"),
      "the server's Dovecot has no pgsql driver (no " +
        "/usr/lib/dovecot/modules/auth/libdriver_pgsql.so): its auth process would die at every " +
        "start with vmail's SQL passdb, and every login fail, system users' too. Install " +
        "dovecot-pgsql, or set vmail:dovecot to false",
    );
    assert.equal(
      dovecotRefusal("no conf.d/10-auth.conf", "/srv/dovecot"),
      "the server has no conf.d/10-auth.conf (vmail:dovecotConfigDir is /srv/dovecot): install " +
        "Dovecot (dovecot-core, dovecot-pgsql, dovecot-imapd, dovecot-lmtpd) or set vmail:dovecot to false",
    );
  });
});
