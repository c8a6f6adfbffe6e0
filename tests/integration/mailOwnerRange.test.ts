// The mail owner's uid and gid are regular ones: from UID_MIN to UID_MAX (GID_MIN to GID_MAX) of
// /etc/login.defs. Above the range are nobody (65534) and ids kept for other uses: a fixed id
// there is refused before any account is made, and an existing account there is refused too.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runOnServer } from "../../providers/shell";
import { mailOwnerScript } from "../../core/scripts";

const local = { access: { kind: "local" as const } };
const USER = "vmailrangeowner";
const GROUP = "vmailrangegroup";
let dir: string;

/** A key of /etc/login.defs, or the default the script uses where it is missing. */
function loginDefs(key: string, fallback: number): number {
  const text = existsSync("/etc/login.defs") ? readFileSync("/etc/login.defs", "utf8") : "";
  const values = [...text.matchAll(new RegExp(`^${key}\\s+(\\d+)\\s*$`, "gm"))];
  return values.length > 0 ? Number(values[values.length - 1][1]) : fallback;
}
const exists = (db: "passwd" | "group", name: string) =>
  spawnSync("getent", [db, name]).status === 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "vmail-owner-range-"));
});

after(async () => {
  spawnSync("userdel", [USER]);
  spawnSync("groupdel", [GROUP]);
  await rm(dir, { recursive: true, force: true });
});

describe("the mail owner's ids", () => {
  const account = () => ({ user: USER, group: GROUP, mailboxBase: join(dir, "mail") });
  const uidRange = `${loginDefs("UID_MIN", 1000)} to ${loginDefs("UID_MAX", 60000)}`;
  const gidRange = `${loginDefs("GID_MIN", 1000)} to ${loginDefs("GID_MAX", 60000)}`;

  it("refuses a fixed uid above UID_MAX before making anything, naming the range", async () => {
    const uid = loginDefs("UID_MAX", 60000) + 5000; // 65000 on Debian
    const result = await runOnServer(local, mailOwnerScript({ ...account(), uid }));
    assert.equal(result.code, 3, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(
        `config asks for uid ${uid} for the mail owner, outside the regular uids ${uidRange}`,
      ),
    );
    assert.equal(exists("group", GROUP), false, "no group was made");
    assert.equal(exists("passwd", USER), false, "no user was made");
  });

  it("refuses a fixed gid just above GID_MAX", async () => {
    const gid = loginDefs("GID_MAX", 60000) + 1;
    const result = await runOnServer(local, mailOwnerScript({ ...account(), gid }));
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, new RegExp(`gid ${gid} .*regular gids ${gidRange}`));
    assert.equal(exists("group", GROUP), false, "no group was made");
  });

  it("refuses an existing account above the range: nobody:nogroup", async () => {
    const mailboxBase = join(dir, "nobody");
    const result = await runOnServer(
      local,
      mailOwnerScript({ user: "nobody", group: "nogroup", mailboxBase }),
    );
    assert.equal(result.code, 3, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(
        `nobody:nogroup is a system account \\(uid 65534, gid 65534; regular uids are ${uidRange}, gids ${gidRange}`,
      ),
    );
    assert.equal(existsSync(mailboxBase), false, "no mailbox base was made for it");
  });

  it("accepts the top of the range", async () => {
    const uid = loginDefs("UID_MAX", 60000);
    const gid = loginDefs("GID_MAX", 60000);
    const free = (db: "passwd" | "group", id: number) =>
      spawnSync("getent", [db, String(id)]).status !== 0;
    if (!free("passwd", uid) || !free("group", gid)) return; // taken here: nothing to learn
    const result = await runOnServer(local, mailOwnerScript({ ...account(), uid, gid }));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), `${uid} ${gid}`);
  });
});
