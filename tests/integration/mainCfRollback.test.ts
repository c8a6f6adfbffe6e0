// When `postfix check` refuses main.cf with vmail's settings, the apply fails and main.cf, and
// vmail's record of the operator's values beside it, are put back byte for byte: main.cf never
// holds what the Pulumi state says was not applied. The check runs whether Postfix runs or not
// (a stopped Postfix would refuse to start on such a main.cf), on a throwaway instance of its own.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { postfixMainCfProvider } from "../../providers/postfixMainCf";
import type { PostfixMainCfInputs } from "../../resources/postfixMainCf";
import { mainCfBackupFile } from "../../core/postfixConfig";
import { createPostfixInstance, type PostfixInstance } from "../support/postfixInstance";
import { useShellOnly } from "../support/providers";

const provider = postfixMainCfProvider as Required<pulumi.dynamic.ResourceProvider>;
let postfix: PostfixInstance;

const GOOD = {
  virtual_mailbox_base: "/home/mail/",
  virtual_uid_maps: "static:5000",
  virtual_gid_maps: "static:5000",
};
// A value `postfix check` refuses ("bad numerical configuration"), with vmail's own settings.
const REFUSED = { ...GOOD, virtual_mailbox_base: "/srv/mail/", default_process_limit: "plenty" };

const inputs = (settings: Record<string, string>): PostfixMainCfInputs => ({
  configDir: postfix.configDir,
  settings,
  domains: ["example.com"],
  proxiedMaps: [],
  backupFile: mainCfBackupFile(postfix.configDir),
  reloadAfter: [],
});

/** main.cf and the record as bytes, with main.cf's mode, owner and mtime. */
async function snapshot() {
  const mainCf = join(postfix.configDir, "main.cf");
  const record = mainCfBackupFile(postfix.configDir);
  const st = await stat(mainCf);
  return {
    mainCf: await readFile(mainCf),
    meta: { mode: st.mode, uid: st.uid, gid: st.gid, mtime: st.mtimeMs },
    record: existsSync(record) ? await readFile(record) : undefined,
  };
}

/** vmail's copies and temp files are gone, whatever happened. */
async function noLeftovers() {
  const left = (await readdir(postfix.configDir)).filter(
    (f) => f.startsWith(".vmail") || f.endsWith(".tmp"),
  );
  assert.deepEqual(left, [], "no copies or temp files left in the config directory");
}

async function refusedApply(run: () => Promise<unknown>) {
  const before = await snapshot();
  await assert.rejects(run, (e: Error) => {
    assert.match(e.message, /bad numerical configuration: default_process_limit = plenty/);
    assert.match(e.message, /postfix check failed on main\.cf/);
    assert.match(e.message, /put back exactly as they were before this run/);
    return true;
  });
  const afterwards = await snapshot();
  assert.ok(afterwards.mainCf.equals(before.mainCf), "main.cf is byte for byte what it was");
  assert.deepEqual(afterwards.meta, before.meta, "with its mode, owner and mtime");
  assert.deepEqual(afterwards.record, before.record, "the record is what it was (or absent)");
  await noLeftovers();
}

before(async () => {
  postfix = await createPostfixInstance();
  useShellOnly();
});

after(async () => {
  await postfix?.stop();
});

describe("main.cf when postfix check fails", () => {
  it("is put back when Postfix is stopped, and the record vmail would start is not left", async () => {
    assert.equal(await postfix.running(), false);
    assert.equal(existsSync(mainCfBackupFile(postfix.configDir)), false);
    await refusedApply(() => provider.create(inputs(REFUSED)));
    assert.equal(existsSync(mainCfBackupFile(postfix.configDir)), false);
  });

  it("is put back on a running Postfix, which keeps running; a good change then applies and reloads", async () => {
    await postfix.start();
    const created = await provider.create(inputs(GOOD));
    const recorded = await readFile(mainCfBackupFile(postfix.configDir), "utf8");
    assert.match(recorded, /^#unset virtual_uid_maps$/m);

    await refusedApply(() => provider.update(postfix.configDir, created.outs, inputs(REFUSED)));
    assert.equal(await postfix.running(), true, "Postfix still runs");
    assert.match(await postfix.rcptReply("postmaster@localhost"), /^250 /m);

    const reloads = postfix.reloads();
    const changed = { ...GOOD, virtual_mailbox_base: "/srv/mail/" };
    await provider.update(postfix.configDir, created.outs, inputs(changed));
    const read = await provider.read(postfix.configDir, inputs(changed));
    assert.deepEqual((read.props as PostfixMainCfInputs).settings, changed);
    assert.ok(await postfix.reloadedSince(reloads), `Postfix reloaded\n${postfix.log()}`);
    assert.equal(await readFile(mainCfBackupFile(postfix.configDir), "utf8"), recorded);
    await noLeftovers();
  });
});
