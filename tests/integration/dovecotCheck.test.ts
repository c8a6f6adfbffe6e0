// vmail's Dovecot files are checked by Dovecot itself (`doveconf -n`) right after each write, on a
// throwaway Dovecot's config directory: a file that makes the configuration fail is put back as
// it was (or removed, if it was new) and the write refused with Dovecot's message, so the server
// never keeps a configuration its next reload or restart would refuse.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { DOVECOT_AUTH_BLOCK, dovecotCheckScript, dovecotPaths } from "../../core/dovecotConfig";
import { serverFileProvider } from "../../providers/serverFile";
import { makeDovecotInstance, type DovecotInstance } from "../support/dovecotInstance";
import { useShellOnly } from "../support/providers";
import { installSystemDeps } from "../support/systemDeps";

const files = serverFileProvider as Required<pulumi.dynamic.ResourceProvider>;
const ROOT_0644 = { mode: "0644", owner: "root", group: "root" };
/** A setting Dovecot does not know: `doveconf -n` fails on it, naming it. */
const BROKEN = "vmail_no_such_setting = yes\n";
let dovecot: DovecotInstance;

const doveconfPasses = () => {
  try {
    execFileSync("sh", ["-c", dovecotCheckScript(dovecot.configDir)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

before(async () => {
  installSystemDeps();
  useShellOnly();
  dovecot = await makeDovecotInstance();
});

after(async () => {
  await dovecot?.stop();
});

describe("a Dovecot file checked by doveconf after each write", () => {
  it("a new file that breaks the configuration is removed again, and the write refused", async () => {
    const path = dovecotPaths(dovecot.configDir).delivery;
    assert.ok(doveconfPasses(), "the instance's own configuration passes");
    await assert.rejects(
      files.create({
        path,
        content: BROKEN,
        ownership: ROOT_0644,
        verify: dovecotCheckScript(dovecot.configDir),
      }),
      /95-vmail-delivery\.conf: the server's check refused .*vmail_no_such_setting.*the file is back as it was/s,
    );
    assert.equal(existsSync(path), false, "the new file is gone");
    assert.ok(doveconfPasses(), "the configuration passes again");
  });

  it("a file that was there gets its bytes and mode back; a good write goes through", async () => {
    const path = dovecotPaths(dovecot.configDir).delivery;
    const verify = dovecotCheckScript(dovecot.configDir);
    const good = "# vmail: first\nmail_max_userip_connections = 20\n";
    const created = await files.create({ path, content: good, ownership: ROOT_0644, verify });
    assert.equal(readFileSync(path, "utf8"), good);

    const news = { path, content: good + BROKEN, ownership: ROOT_0644, verify };
    await assert.rejects(files.update(path, created.outs, news), /vmail_no_such_setting/);
    assert.equal(readFileSync(path, "utf8"), good, "the last good content is back");
    assert.equal((statSync(path).mode & 0o777).toString(8), "644");
    assert.ok(doveconfPasses());
    // The state still holds the last good write: the next run tries the new content again.
    const diff = await files.diff(path, created.outs, news);
    assert.equal(diff.changes, true);
  });

  it("a block in a shared file is taken out again, the operator's lines kept byte for byte", async () => {
    const path = dovecotPaths(dovecot.configDir).authConf;
    const operators = readFileSync(path);
    await assert.rejects(
      files.create({
        path,
        content: BROKEN,
        block: DOVECOT_AUTH_BLOCK,
        verify: dovecotCheckScript(dovecot.configDir),
      }),
      /10-auth\.conf: the server's check refused/,
    );
    assert.ok(readFileSync(path).equals(operators), "exactly the operator's bytes");
  });

  it("a configuration that failed already keeps the write: it may be what was missing", async () => {
    // As in a replacement, where the include file is deleted before it is written again: the
    // block in 10-auth.conf names a file that is not there, so doveconf fails until it is back.
    const include = dovecotPaths(dovecot.configDir).authInclude;
    const auth = dovecotPaths(dovecot.configDir).authConf;
    const verify = dovecotCheckScript(dovecot.configDir);
    const operators = readFileSync(auth);
    await files.create({
      path: auth,
      content: "!include auth-vmail-sql.conf.ext\n",
      block: DOVECOT_AUTH_BLOCK,
    });
    try {
      assert.equal(doveconfPasses(), false, "the include names a missing file");
      const content = "# vmail: the include, back\n";
      await files.create({ path: include, content, ownership: ROOT_0644, verify });
      assert.equal(readFileSync(include, "utf8"), content, "kept");
      assert.ok(doveconfPasses(), "and the configuration passes again");
    } finally {
      writeFileSync(auth, operators);
    }
  });
});
