// The marked block vmail keeps in shared files: other lines are never touched.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { blockBody, withBlock, withoutBlock } from "../../core/managedBlock";

const top = { marker: "vmail", position: "top" } as const;
const theirs = "# their comment\nlocal all postgres peer\nhost all all 127.0.0.1/32 md5\n";

describe("managed block", () => {
  it("goes on top of a file, and replaces itself in place later", () => {
    const once = withBlock(theirs, top, "host mail r 127.0.0.1/32 scram-sha-256\n");
    assert.equal(
      once,
      `# BEGIN vmail\nhost mail r 127.0.0.1/32 scram-sha-256\n# END vmail\n${theirs}`,
    );
    const moved = "x y z\n" + once; // someone added a line above it: the block stays where it is
    const twice = withBlock(moved, top, "host mail r ::1/128 md5\n");
    assert.equal(twice, `x y z\n# BEGIN vmail\nhost mail r ::1/128 md5\n# END vmail\n${theirs}`);
    assert.equal(blockBody(twice, "vmail"), "host mail r ::1/128 md5\n");
  });

  it("goes at the bottom when asked, and into an empty or new file", () => {
    assert.equal(
      withBlock("a\n", { marker: "m", position: "bottom" }, "b\n"),
      "a\n# BEGIN m\nb\n# END m\n",
    );
    assert.equal(withBlock("", top, "b\n"), "# BEGIN vmail\nb\n# END vmail\n");
  });

  it("is removed without touching the other lines", () => {
    const text = withBlock(theirs, top, "line\n");
    assert.equal(withoutBlock(text, "vmail"), theirs);
    assert.equal(withoutBlock(theirs, "vmail"), theirs);
    assert.equal(blockBody(theirs, "vmail"), undefined);
  });

  it("refuses to guess when its markers are broken", () => {
    assert.throws(() => withBlock("# BEGIN vmail\nx\n", top, "y\n"), /markers are broken/);
    assert.throws(
      () => withoutBlock("# END vmail\n# BEGIN vmail\n", "vmail"),
      /markers are broken/,
    );
  });
});
