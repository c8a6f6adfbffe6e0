// vmail:dovecotConfigDir must be the running Dovecot's: `doveadm -c CONF reload` signals the
// master that runs for CONF's base_dir, and that master re-reads the config it was started with,
// not CONF. So a config dir that is a copy of the running one (same base_dir) made a reload that
// "succeeded" and loaded nothing of vmail's. The reload now refuses it, naming both configs.
// Judged by a real, throwaway Dovecot and vmail's reload provider on this machine (`sh`).

import assert from "node:assert/strict";
import { cp, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { dovecotReloadProvider } from "../../providers/dovecotReload";
import { makeDovecotInstance, type DovecotInstance } from "../support/dovecotInstance";
import { installSystemDeps } from "../support/systemDeps";
import { useShellOnly } from "../support/providers";

type Provider = Required<pulumi.dynamic.ResourceProvider>;
const reload = dovecotReloadProvider as Provider;
const server = { kind: "local" } as const;
const RELOAD_LINE = "SIGHUP received - reloading configuration";

let dovecot: DovecotInstance;
let scratch: string;

/** How many reloads the instance's master has logged (its whole log file, not a tail). */
async function reloads(): Promise<number> {
  // tests/support/dovecotInstance.ts keeps its log at <base>/log/dovecot.log, beside config/.
  const log = await readFile(join(dirname(dovecot.configDir), "log", "dovecot.log"), "utf8");
  return log.split(RELOAD_LINE).length - 1;
}

before(async () => {
  installSystemDeps();
  useShellOnly({ access: server });
  scratch = await mkdtemp(join(tmpdir(), "vmail-dovecot-running-"));
  dovecot = await makeDovecotInstance();
  await dovecot.start();
});

after(async () => {
  await dovecot?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe("the reload and the running Dovecot's config", () => {
  it("reloads when vmail:dovecotConfigDir is the running instance's, also through a symlink", async () => {
    const before = await reloads();
    await dovecot.reloadedBy(() =>
      reload.create({ server, configDir: dovecot.configDir, trigger: ["a"] }),
    );
    const linked = join(scratch, "linked");
    await symlink(dovecot.configDir, linked);
    await dovecot.reloadedBy(() => reload.create({ server, configDir: linked, trigger: ["b"] }));
    assert.equal(await reloads(), before + 2);
    assert.equal(await dovecot.running(), true);
  });

  it("refuses a copy of the running instance's config dir: same base_dir, another config", async () => {
    const copy = join(scratch, "copy");
    await cp(dovecot.configDir, copy, { recursive: true });
    const before = await reloads();
    const running = join(dovecot.configDir, "dovecot.conf");
    await assert.rejects(reload.create({ server, configDir: copy, trigger: ["c"] }), (e: Error) => {
      assert.ok(
        e.message.includes(
          `was started with ${running}, not with vmail's ${join(copy, "dovecot.conf")}`,
        ),
        e.message,
      );
      assert.ok(e.message.includes("load nothing of vmail's files"), e.message);
      assert.ok(
        e.message.includes(
          `Set vmail:dovecotConfigDir to the running instance's directory (${dovecot.configDir})`,
        ),
        e.message,
      );
      return true;
    });
    // A reload would be logged within milliseconds (see dovecotInstance.ts).
    await sleep(500);
    assert.equal(await reloads(), before, dovecot.log());
    assert.equal(await dovecot.running(), true);
  });
});
