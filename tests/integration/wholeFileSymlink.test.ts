// A whole file vmail writes (a Postfix map .cf file, Dovecot's SQL file) may be a symlink the
// operator made, say to keep the file on another disk or in a config repository. vmail writes
// through it: the link stays a link, the file it points at gets the content, mode and owner.
// Deleting the resource removes the link only, never the operator's file it points at.

import assert from "node:assert/strict";
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { serverFileProvider } from "../../providers/serverFile";
import { useShellOnly } from "../support/providers";

const files = serverFileProvider as Required<pulumi.dynamic.ResourceProvider>;
// root's, with a group other than root's: the owner is really applied, not left as created.
const ownership = { mode: "0640", owner: "root", group: "daemon" };
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "vmail-symlink-"));
  useShellOnly();
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("a whole file that is a symlink", () => {
  it("is written through the link, which stays a link; delete removes the link only", async () => {
    const elsewhere = join(dir, "elsewhere");
    await mkdir(elsewhere);
    const target = join(elsewhere, "mailboxes.cf");
    const link = join(dir, "mailboxes.cf");
    // A relative link, as `ln -s ../elsewhere/x` makes: resolved from the link's directory.
    await symlink(join("elsewhere", "mailboxes.cf"), link);

    const first = "hosts = inet:127.0.0.1:5432\nuser = reader\n";
    const created = await files.create({ path: link, content: first, ownership });
    const check = async (content: string) => {
      assert.ok((await lstat(link)).isSymbolicLink(), "the link stays a link");
      assert.equal(
        await readlink(link),
        join("elsewhere", "mailboxes.cf"),
        "pointing where it did",
      );
      assert.equal(await readFile(target, "utf8"), content, "the target has the content");
      const st = await stat(target);
      assert.equal((st.mode & 0o7777).toString(8), "640");
      assert.equal(st.uid, 0);
      assert.equal(st.gid, 1, "group daemon");
    };
    await check(first);

    // refresh reads through the link and sees no drift
    const read = await files.read(link, created.outs);
    const hash = (props: unknown) => (props as { sha256: string }).sha256;
    assert.equal(read.id, link);
    assert.equal(hash(read.props), hash(created.outs));

    const second = "hosts = inet:127.0.0.1:5433\nuser = reader\n";
    const updated = await files.update(link, created.outs, {
      path: link,
      content: second,
      ownership,
    });
    await check(second);

    await files.delete(link, updated.outs);
    await assert.rejects(lstat(link), { code: "ENOENT" }, "the link is gone");
    assert.equal(await readFile(target, "utf8"), second, "the file it pointed at is kept");
  });

  it("writes through a link to a file that does not exist yet, making it", async () => {
    const target = join(dir, "dovecot-sql.conf.ext");
    const link = join(dir, "sql-link.conf");
    await symlink(target, link);
    await files.create({ path: link, content: "driver = pgsql\n", ownership });
    assert.ok((await lstat(link)).isSymbolicLink());
    assert.equal(await readFile(target, "utf8"), "driver = pgsql\n");
    assert.equal(((await stat(target)).mode & 0o7777).toString(8), "640");
  });

  it("still writes a plain file, making its directory, where there is no link", async () => {
    const path = join(dir, "new", "maps", "domains.cf");
    await files.create({ path, content: "query = x\n", ownership });
    const st = await lstat(path);
    assert.ok(st.isFile());
    assert.equal((st.mode & 0o7777).toString(8), "640");
    assert.equal(await readFile(path, "utf8"), "query = x\n");
  });
});
