// A shared file vmail keeps a block in (pg_hba.conf, root's .forward, Dovecot's 10-auth.conf) may
// hold bytes that are not UTF-8: a Latin-1 comment, say. vmail's edits keep every such byte, and
// its own reading of the file does not mistake them for a change made while it was editing.

import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { serverFileProvider } from "../../providers/serverFile";
import { HBA_BLOCK } from "../../core/pgHba";
import { useShellOnly } from "../support/providers";

const files = serverFileProvider as Required<pulumi.dynamic.ResourceProvider>;
/** "# Réseau local: ne pas toucher" in Latin-1, then a line of the operator's. */
const OPERATORS_LINES = Buffer.concat([
  Buffer.from("# R\xe9seau local: ne pas toucher\n", "latin1"),
  Buffer.from("local all postgres peer\n", "ascii"),
]);
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "vmail-bytes-"));
  useShellOnly();
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("a shared file that is not UTF-8", () => {
  it("keeps its bytes through a block's create, refresh, update and removal", async () => {
    const file = join(dir, "pg_hba.conf");
    await writeFile(file, OPERATORS_LINES);
    // vmail's own text may be non-ASCII too: it is written as UTF-8.
    const first = "# vmail: Zugriff für Postfix\nhost mail mailreader 127.0.0.1/32 scram-sha-256\n";
    const created = await files.create({ path: file, content: first, block: HBA_BLOCK });
    const written = await readFile(file);
    assert.ok(written.subarray(-OPERATORS_LINES.length).equals(OPERATORS_LINES), "bytes kept");
    assert.ok(written.includes(Buffer.from(first, "utf8")), "vmail's block is UTF-8");

    const read = await files.read(file, created.outs);
    const hashOf = (props: unknown) => (props as { sha256: string }).sha256;
    assert.equal(hashOf(read.props), hashOf(created.outs), "a refresh sees no change");

    const second = "host mail mailreader ::1/128 scram-sha-256\n";
    const news = { path: file, content: second, block: HBA_BLOCK };
    const diff = await files.diff(file, created.outs, news);
    assert.equal(diff.changes, true);
    const updated = await files.update(file, created.outs, news);
    const rewritten = await readFile(file);
    assert.ok(rewritten.subarray(-OPERATORS_LINES.length).equals(OPERATORS_LINES));
    assert.ok(rewritten.includes(Buffer.from(second, "utf8")));

    await files.delete(file, updated.outs);
    assert.ok((await readFile(file)).equals(OPERATORS_LINES), "exactly the operator's bytes");
  });
});
