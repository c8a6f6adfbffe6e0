// core/passwords.ts against the real Dovecot: every hash we write must pass
// `doveadm pw -t`, and every hash `doveadm pw -s` writes must be vetted (and, for our
// schemes, verified) by us. Passwords go to doveadm on stdin; the hashes are of throwaway
// test passwords, so passing them as arguments is fine here.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { HASH_SCHEMES, hashPassword, parseScheme, storedHashProblem } from "../../core/passwords";
import { verifyPassword } from "../support/verifyPassword";
import { installSystemDeps } from "../support/systemDeps";

function have(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

function doveadm(args: string[], input: string): { status: number | null; out: string } {
  const r = spawnSync("doveadm", args, { input, encoding: "utf8", timeout: 30_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** `doveadm pw -t HASH`, the password on stdin (doveadm reads one line there when no TTY). */
function doveadmVerifies(hash: string, clear: string): boolean {
  const r = doveadm(["pw", "-t", hash], `${clear}\n`);
  if (r.status === 0) {
    assert.match(r.out, /\(verified\)/);
    return true;
  }
  assert.match(r.out, /mismatch/i, `doveadm failed for another reason: ${r.out}`);
  return false;
}

/** `doveadm pw -s SCHEME`, the password typed twice on stdin. */
function doveadmHash(scheme: string, clear: string): string {
  const r = doveadm(["pw", "-s", scheme], `${clear}\n${clear}\n`);
  assert.equal(r.status, 0, `doveadm pw -s ${scheme}: ${r.out}`);
  return r.out.trim();
}

// Quotes, shell and SQL metacharacters, backslashes, spaces at the ends, non-ASCII.
// No newline (doveadm reads one line) and at most 511 bytes (its stdin buffer).
const AWKWARD = [
  "simple",
  `single ' and double " quotes`,
  "semi;colon; DROP TABLE users;--",
  "back\\slash\\\\ and \\n literally",
  " leading and trailing spaces ",
  "tab\tinside",
  "$dollar `backtick` $(subshell) {BLF-CRYPT}",
  "ünïcödé ßtraße",
  "日本語のパスワード",
  "emoji 😀🔑",
  "%s %n %x 100%",
];
const LONG = "long password ".repeat(30); // 420 bytes: over bcrypt's 72, under doveadm's 511

void describe("passwords against the real doveadm", () => {
  before(() => {
    if (!have("doveadm")) installSystemDeps();
  });

  for (const scheme of HASH_SCHEMES) {
    void it(`doveadm verifies every ${scheme} hash we write, and refuses wrong passwords`, async (t) => {
      const list = scheme === "BLF-CRYPT" ? AWKWARD : [...AWKWARD, LONG];
      let ms = 0;
      for (const clear of list) {
        const start = performance.now();
        const hash = await hashPassword(clear, scheme);
        ms += performance.now() - start;
        assert.equal(doveadmVerifies(hash, clear), true, `${scheme} ${JSON.stringify(clear)}`);
        assert.equal(doveadmVerifies(hash, clear.trimEnd() + "x"), false);
      }
      t.diagnostic(`${scheme}: ${(ms / list.length).toFixed(0)} ms per hashPassword`);
    });
  }

  void it("doveadm looks the scheme up case-insensitively, as parseScheme assumes", async () => {
    const hash = await hashPassword("case test", "SHA512-CRYPT");
    assert.equal(
      doveadmVerifies(hash.replace("{SHA512-CRYPT}", "{sha512-crypt}"), "case test"),
      true,
    );
  });

  void it("doveadm verifies every bcrypt prefix ($2a$ $2b$ $2x$ $2y$) and cuts at 72 bytes", async () => {
    const body = (await hashPassword("prefix test", "BLF-CRYPT")).slice("{BLF-CRYPT}$2y$".length);
    for (const prefix of ["$2a$", "$2b$", "$2x$", "$2y$"]) {
      assert.equal(doveadmVerifies(`{BLF-CRYPT}${prefix}${body}`, "prefix test"), true, prefix);
    }
    // Why hashPassword refuses BLF-CRYPT passwords over 72 bytes: the rest is ignored.
    const cut = doveadmHash("BLF-CRYPT", "a".repeat(80));
    assert.equal(doveadmVerifies(cut, "a".repeat(72)), true);
  });

  void it("vets and verifies hashes made by doveadm pw -s for our schemes", async () => {
    for (const scheme of HASH_SCHEMES) {
      for (const clear of [`it's "q"; \\ x`, " ünï 😀 "]) {
        const hash = doveadmHash(scheme, clear);
        assert.equal(storedHashProblem(hash), undefined, `${scheme} as doveadm writes it`);
        assert.equal(await verifyPassword(clear, hash), true, scheme);
        assert.equal(await verifyPassword(clear + " ", hash), false, scheme);
      }
    }
  });

  void it("puts every scheme doveadm lists in a vetted or a refused list, never 'unknown'", (t) => {
    const listed = doveadm(["pw", "-l"], "").out.trim().split(/\s+/).sort();
    t.diagnostic(`doveadm pw -l: ${listed.join(" ")}`);
    assert.ok(listed.includes("ARGON2ID") && listed.includes("BLF-CRYPT"));
    const accepted: string[] = [];
    for (const scheme of listed) {
      const problem = storedHashProblem(`{${scheme}}x`);
      assert.ok(problem !== undefined);
      assert.doesNotMatch(problem, /not one of the accepted/, `${scheme} is in neither list`);
      if (!/is refused/.test(problem)) accepted.push(scheme);
    }
    t.diagnostic(`accepted: ${accepted.join(" ")}`);
  });

  void it("accepts doveadm's output for each accepted scheme and refuses the others", (t) => {
    const listed = doveadm(["pw", "-l"], "").out.trim().split(/\s+/);
    const checked = { accepted: [] as string[], refused: [] as string[] };
    for (const scheme of listed) {
      const r = doveadm(["pw", "-s", scheme], "vet me\nvet me\n");
      if (r.status !== 0) {
        t.diagnostic(`doveadm pw -s ${scheme} cannot generate (${r.out.trim()})`);
        continue;
      }
      const hash = r.out.trim();
      const problem = storedHashProblem(hash);
      const refused = /is refused/.test(storedHashProblem(`{${scheme}}x`) ?? "");
      if (refused) {
        assert.match(problem ?? "", /is refused/, scheme);
        checked.refused.push(scheme);
      } else {
        assert.equal(problem, undefined, `${scheme}: ${problem}`);
        assert.equal(parseScheme(hash)?.scheme, scheme);
        checked.accepted.push(scheme);
      }
    }
    // Something was judged: at least vmail's own schemes and one doveadm makes that vmail refuses.
    for (const scheme of HASH_SCHEMES) {
      assert.ok(checked.accepted.includes(scheme), `doveadm made no ${scheme} hash to vet`);
    }
    assert.ok(checked.refused.length > 0, "doveadm made no hash of a refused scheme to vet");
  });
});
