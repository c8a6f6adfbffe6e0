// Properties of the pure functions, checked on generated input rather than picked examples:
// the managed block round-trips and never touches other lines, shellQuote survives a real
// /bin/sh, findAliasLoop answers exactly "is there a cycle", and the address rules accept their
// own grammar and refuse anything outside it.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import fc from "fast-check";
import { findAliasLoop } from "../../core/config";
import { blockBody, withBlock, withoutBlock, type BlockSpec } from "../../core/managedBlock";
import { addressRule, domainRule, normalizeAddress } from "../../core/rules";
import { shellQuote } from "../../core/scripts";

// --- managed block ------------------------------------------------------------------------------

// How the functions read text: one trailing "\n" ends the last line, and "" has no lines at all.
// So a file's lines, written back, are the text with a final newline added when it lacks one.
const normalized = (text: string) => (text === "" || text.endsWith("\n") ? text : text + "\n");
const joined = (lines: string[]) => (lines.length === 0 ? "" : lines.join("\n") + "\n");

const isMarkerLine = (line: string, marker: string) =>
  line.trim() === `# BEGIN ${marker}` || line.trim() === `# END ${marker}`;

// A marker is a constant in the code ("vmail (managed by Pulumi)"): non-empty, one line, no
// whitespace at its ends. Markers outside that never match their own line (findBlock trims the
// line, not the marker), so they are not part of the contract.
const markerArb = fc.oneof(
  fc.constant("vmail (managed by Pulumi)"),
  fc.constant("vmail"),
  fc
    .string({
      unit: fc.constantFrom("a", "b", "Z", "0", " ", "(", ")", "#", "-", "é"),
      minLength: 1,
    })
    .filter((m) => m.trim() === m && m !== ""),
);

// Lines of someone else's file: anything on one line, with extra weight on lines that look like
// markers (of this block or of another one), indented ones and CRLF endings.
const lineArb = fc.oneof(
  fc.string({ unit: "binary" }).map((s) => s.replace(/\n/g, "")),
  fc.constantFrom(
    "",
    " ",
    "# BEGIN vmail",
    "# END vmail",
    "  # BEGIN vmail (managed by Pulumi)\r",
    "# END vmail (managed by Pulumi)",
    "# BEGIN vmail-other",
    "# END",
    "#BEGIN vmail",
    "local all postgres peer",
    "host all all 127.0.0.1/32 md5\r",
  ),
);

/** Lines that no one would take for this block's markers; such a line would break the block. */
const linesArb = (marker: string) =>
  fc.array(lineArb, { maxLength: 8 }).map((lines) => lines.filter((l) => !isMarkerLine(l, marker)));

/** A text of such lines, with or without a final newline. */
const textArb = (marker: string) =>
  fc
    .tuple(linesArb(marker), fc.boolean())
    .map(([lines, nl]) => lines.join("\n") + (nl ? "\n" : ""));

const caseArb = markerArb.chain((marker) =>
  fc.record({
    spec: fc.record({
      marker: fc.constant(marker),
      position: fc.constantFrom("top" as const, "bottom" as const),
    }),
    text: textArb(marker),
    body: textArb(marker),
    other: textArb(marker),
  }),
);

const blockText = (spec: BlockSpec, body: string) =>
  `# BEGIN ${spec.marker}\n${normalized(body)}# END ${spec.marker}\n`;

describe("managed block (properties)", () => {
  it("gives back the body it was given, with a final newline added if it had none", () => {
    fc.assert(
      fc.property(caseArb, ({ spec, text, body }) => {
        assert.equal(blockBody(withBlock(text, spec, body), spec.marker), normalized(body));
      }),
      { numRuns: 500 },
    );
  });

  it("puts a new block on top of or below the other lines, which stay as they were", () => {
    fc.assert(
      fc.property(caseArb, ({ spec, text, body }) => {
        const expected =
          spec.position === "top"
            ? blockText(spec, body) + normalized(text)
            : normalized(text) + blockText(spec, body);
        assert.equal(withBlock(text, spec, body), expected);
      }),
      { numRuns: 500 },
    );
  });

  it("is idempotent: setting the same body again changes nothing", () => {
    fc.assert(
      fc.property(caseArb, ({ spec, text, body }) => {
        const once = withBlock(text, spec, body);
        assert.equal(withBlock(once, spec, body), once);
      }),
      { numRuns: 500 },
    );
  });

  it("is removed to give back the file's own lines", () => {
    fc.assert(
      fc.property(caseArb, ({ spec, text, body }) => {
        assert.equal(withoutBlock(withBlock(text, spec, body), spec.marker), normalized(text));
      }),
      { numRuns: 500 },
    );
  });

  it("changing the body changes only the block: same result as writing the new body at once", () => {
    fc.assert(
      fc.property(caseArb, ({ spec, text, body, other }) => {
        assert.equal(
          withBlock(withBlock(text, spec, body), spec, other),
          withBlock(text, spec, other),
        );
      }),
      { numRuns: 500 },
    );
  });

  // A block found anywhere in a file (someone moved it, indented its markers or saved the file
  // with CRLF) is replaced where it stands, whatever `position` says; the lines around it are
  // kept byte for byte.
  it("replaces an existing block in place, wherever it is and however its markers are padded", () => {
    const padArb = fc.constantFrom("", " ", "\t", "\r", "  ");
    fc.assert(
      fc.property(
        markerArb.chain((marker) =>
          fc.record({
            spec: fc.record({
              marker: fc.constant(marker),
              position: fc.constantFrom("top" as const, "bottom" as const),
            }),
            before: linesArb(marker),
            oldBody: linesArb(marker),
            after: linesArb(marker),
            pads: fc.tuple(padArb, padArb, padArb, padArb),
            body: textArb(marker),
          }),
        ),
        ({ spec, before, oldBody, after, pads: [b1, b2, e1, e2], body }) => {
          const file = joined([
            ...before,
            `${b1}# BEGIN ${spec.marker}${b2}`,
            ...oldBody,
            `${e1}# END ${spec.marker}${e2}`,
            ...after,
          ]);
          assert.equal(blockBody(file, spec.marker), joined(oldBody));
          assert.equal(
            withBlock(file, spec, body),
            joined(before) + blockText(spec, body) + joined(after),
          );
          assert.equal(withoutBlock(file, spec.marker), joined([...before, ...after]));
        },
      ),
      { numRuns: 500 },
    );
  });
});

// --- shellQuote -----------------------------------------------------------------------------------

// Characters a shell gives meaning to, and whole snippets that would run a command if they ever
// escaped the quotes (the round trip would then print something else, or nothing).
const shellSpecial = fc.constantFrom(
  "'",
  '"',
  "\\",
  "$",
  "`",
  "\n",
  "\r",
  "\t",
  " ",
  "!",
  "*",
  "?",
  "~",
  "#",
  ";",
  "&",
  "|",
  "<",
  ">",
  "(",
  ")",
  "{",
  "}",
  "[",
  "]",
  "%",
  "-",
  "=",
  "'\\''",
  "$(echo pwned)",
  "`echo pwned`",
  "${HOME}",
  "$'\\x41'",
  "é",
  "😀",
  "\u202e",
);

// No NUL: no shell argument (a C string) can hold one.
const shellValue = fc.string({
  unit: fc.oneof(
    shellSpecial,
    fc.string({ unit: "binary", minLength: 1, maxLength: 1 }).filter((c) => c !== "\0"),
  ),
  maxLength: 40,
});

describe("shellQuote (properties)", () => {
  it("makes any string without NUL one word that /bin/sh hands on unchanged, running nothing", () => {
    fc.assert(
      fc.property(shellValue, (value) => {
        // printf %s prints its argument as bytes; the format itself is fixed, so only the
        // quoting decides what reaches it.
        const out = execFileSync("/bin/sh", ["-c", `printf %s ${shellQuote(value)}`]);
        assert.deepEqual(out, Buffer.from(value, "utf8"));
      }),
      { numRuns: 200 },
    );
  });
});

// --- findAliasLoop --------------------------------------------------------------------------------

// A handful of addresses, so random alias graphs have cycles often enough, and targets that are
// no alias (mailboxes, outside addresses) as well as self-aliases.
const NODES = ["a@x.org", "b@x.org", "c@x.org", "d@x.org", "e@x.org", "@x.org", "out@y.net"];

const aliasesArb = fc.uniqueArray(
  fc.record({
    address: fc.constantFrom(...NODES),
    targets: fc.uniqueArray(fc.constantFrom(...NODES), { minLength: 1, maxLength: 3 }),
  }),
  { selector: (a) => a.address, maxLength: NODES.length },
);

type Alias = { address: string; targets: string[] };

/** The reference answer, by brute force: some address reaches itself through other addresses. */
function hasCycle(aliases: Alias[]): boolean {
  // A self-alias is how a mailbox opts out of a catch-all, not a loop: those edges do not count.
  const next = (node: string) =>
    (aliases.find((a) => a.address === node)?.targets ?? []).filter((t) => t !== node);
  return aliases.some(({ address }) => {
    const seen = new Set<string>();
    const queue = next(address);
    while (queue.length > 0) {
      const node = queue.shift()!;
      if (node === address) return true;
      if (!seen.has(node)) {
        seen.add(node);
        queue.push(...next(node));
      }
    }
    return false;
  });
}

describe("findAliasLoop (properties)", () => {
  it("reports a loop exactly when the alias graph has a cycle, and the loop is one", () => {
    const seen = { loop: 0, none: 0 };
    fc.assert(
      fc.property(aliasesArb, (aliases) => {
        const loop = findAliasLoop(aliases);
        assert.equal(loop !== undefined, hasCycle(aliases));
        if (loop === undefined) {
          seen.none++;
          return;
        }
        seen.loop++;
        // a -> b -> ... -> a: closed, at least two addresses, none twice, each step an alias edge
        // that is not a self-alias.
        assert.equal(loop[0], loop[loop.length - 1]);
        assert.ok(loop.length >= 3, `too short: ${loop.join(" -> ")}`);
        assert.equal(new Set(loop.slice(1)).size, loop.length - 1);
        for (let i = 0; i + 1 < loop.length; i++) {
          const [from, to] = [loop[i], loop[i + 1]];
          assert.notEqual(from, to);
          const alias = aliases.find((a) => a.address === from);
          assert.ok(alias?.targets.includes(to), `${from} -> ${to} is no alias edge`);
        }
      }),
      { numRuns: 1000 },
    );
    // Both answers were exercised, or the property proves little.
    assert.ok(seen.loop > 50 && seen.none > 50, JSON.stringify(seen));
  });
});

// --- address rules --------------------------------------------------------------------------------

const chars = (s: string) => fc.constantFrom(...s.split(""));
const DIGITS = "0123456789";
const ALNUM = "abcdefghijklmnopqrstuvwxyz" + DIGITS;

// domainRule's grammar: labels of a-z, 0-9 and inner '-', 1 to 63 characters (some long ones, to
// reach the limits), at least two, the last one not numeric, at most 253 characters in all.
const labelArb = fc.oneof(
  chars(ALNUM),
  fc
    .tuple(
      chars(ALNUM),
      fc.oneof(
        fc.string({ unit: chars(ALNUM + "-"), maxLength: 61 }),
        fc.string({ unit: chars(ALNUM + "-"), minLength: 50, maxLength: 61 }),
      ),
      chars(ALNUM),
    )
    .map(([a, inner, z]) => a + inner + z),
);
const domainArb = fc
  .tuple(
    fc.array(labelArb, { minLength: 1, maxLength: 4 }),
    labelArb.filter((l) => !/^[0-9]+$/.test(l)),
  )
  .map(([labels, last]) => [...labels, last].join("."))
  .filter((d) => d.length <= 253);

// The local part's grammar (rules.ts): a dot-atom of a-z, 0-9 and _ + = -, at most 64 characters.
const localArb = fc
  .array(fc.string({ unit: chars(ALNUM + "_+=-"), minLength: 1, maxLength: 20 }), {
    minLength: 1,
    maxLength: 5,
  })
  .map((atoms) => atoms.join("."))
  .filter((l) => l.length <= 64);

// ... and at most 254 characters for the whole address.
const addressArb = fc
  .record({ local: localArb, domain: domainArb })
  .filter(({ local, domain }) => local.length + 1 + domain.length <= 254);

const ALLOWED = /[a-z0-9._+=@-]/;
// Characters outside everything an address may hold. addressRule sees normalized input, so
// upper case counts as outside too.
const badCharArb = fc
  .oneof(
    fc.constantFrom(
      " ",
      '"',
      "'",
      ";",
      "|",
      "/",
      "\\",
      "`",
      "$",
      "(",
      ",",
      "<",
      "!",
      "#",
      "%",
      "*",
      "\t",
      "\n",
      "\0",
      "\x7f",
      "A",
      "é",
      "ı",
      "\u212a",
      "\u00a0",
      "😀",
    ),
    fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
  )
  .filter((c) => !ALLOWED.test(c));

// Non-ASCII characters, with the one whose lower case is ASCII: U+212A KELVIN SIGN -> "k".
const nonAsciiArb = fc.oneof(
  fc.constantFrom("\u212a", "é", "İ", "ß", "ı", "😀"),
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }).filter((c) => c.codePointAt(0)! > 0x7f),
);

/** `domain` with labels of "y" put in front until it is `length` characters long. */
function grownTo(domain: string, length: number): string {
  let grown = domain;
  while (grown.length < length) {
    const room = length - grown.length - 1; // one goes to the dot
    // Labels of at most 63, and never leave room for just a dot (an empty label).
    const label = room <= 63 ? room : room - 63 >= 2 ? 63 : 61;
    if (label < 1) break;
    grown = `${"y".repeat(label)}.${grown}`;
  }
  return grown;
}

/** Non-ASCII shown as \u{...}, so a Kelvin sign is not read as a "K" in a failure message. */
const shown = (s: string) =>
  s.replace(/[^\x20-\x7e]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);

const insertAt = (s: string, i: number, c: string) => s.slice(0, i) + c + s.slice(i);

describe("address rules (properties)", () => {
  it("accept every address of their grammar and parse it into its two parts", () => {
    fc.assert(
      fc.property(addressArb, fc.boolean(), ({ local, domain }, allowCatchAll) => {
        assert.equal(domainRule(domain), undefined);
        const result = addressRule(`${local}@${domain}`, allowCatchAll);
        assert.equal(result.error, undefined);
        assert.deepEqual(result.parsed, { local, domain });
      }),
      { numRuns: 500 },
    );
  });

  // Off-by-one bugs live at the limits, which random addresses seldom reach.
  it("accept addresses at the limits: 64 before @, 254 in all, 253-character domains", () => {
    fc.assert(
      fc.property(addressArb, ({ local, domain }) => {
        // grownTo only adds labels, each after a dot: the domain must leave room for one.
        fc.pre(domain.length <= 254 - 65 - 2);
        const longest = local.padEnd(64, "x");
        const rest = grownTo(domain, 254 - 65);
        assert.equal(`${longest}@${rest}`.length, 254);
        assert.deepEqual(addressRule(`${longest}@${rest}`, false), {
          parsed: { local: longest, domain: rest },
        });
        const widest = grownTo(domain, 253);
        assert.equal(widest.length, 253);
        assert.equal(domainRule(widest), undefined);
        assert.equal(typeof domainRule(`y${widest}`), "string");
        assert.equal(typeof addressRule(`${longest}@y${rest}`, false).error, "string");
      }),
      { numRuns: 200 },
    );
  });

  it("accept a catch-all (@domain) only where asked to, and say why otherwise", () => {
    fc.assert(
      fc.property(domainArb, (domain) => {
        assert.deepEqual(addressRule(`@${domain}`, true), { parsed: { local: "", domain } });
        const refused = addressRule(`@${domain}`, false);
        assert.equal(refused.parsed, undefined);
        assert.equal(typeof refused.error, "string");
      }),
      { numRuns: 200 },
    );
  });

  it("refuse, with a message, an address with one character outside the allowed set", () => {
    fc.assert(
      fc.property(addressArb, fc.nat(), badCharArb, ({ local, domain }, n, bad) => {
        const address = `${local}@${domain}`;
        const wrong = insertAt(address, n % (address.length + 1), bad);
        for (const allowCatchAll of [true, false]) {
          const result = addressRule(wrong, allowCatchAll);
          assert.equal(result.parsed, undefined, JSON.stringify(wrong));
          assert.equal(typeof result.error, "string");
          assert.notEqual(result.error, "");
        }
      }),
      { numRuns: 500 },
    );
  });

  it("refuse a local part over 64 characters and a label over 63", () => {
    fc.assert(
      fc.property(
        addressArb,
        fc.integer({ min: 65, max: 100 }),
        fc.integer({ min: 64, max: 80 }),
        ({ local, domain }, localLength, labelLength) => {
          const longLocal = local.padEnd(localLength, "x");
          assert.equal(typeof addressRule(`${longLocal}@${domain}`, false).error, "string");
          const longLabel = `${"y".repeat(labelLength)}.${domain}`;
          assert.equal(typeof domainRule(longLabel), "string");
          assert.equal(typeof addressRule(`${local}@${longLabel}`, false).error, "string");
        },
      ),
      { numRuns: 200 },
    );
  });

  // Only ASCII letters fold: a non-ASCII one is left for addressRule to refuse.
  it("normalizeAddress is idempotent and leaves no ASCII upper case or outer whitespace", () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.oneof(fc.string({ unit: "binary", maxLength: 1 }), chars(" \t\nAZİΣ")),
        }),
        (raw) => {
          const once = normalizeAddress(raw);
          assert.equal(normalizeAddress(once), once);
          assert.doesNotMatch(once, /[A-Z]/);
          assert.equal(once.trim(), once);
          assert.equal(once.length, raw.trim().length, "nothing but case and outer space changes");
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("an address as written (any ASCII case, spaces around it) normalizes to the one it names", () => {
    fc.assert(
      fc.property(
        addressArb,
        fc.infiniteStream(fc.boolean()),
        fc.string({ unit: chars(" \t\n") }),
        fc.string({ unit: chars(" \t\n") }),
        ({ local, domain }, upper, lead, trail) => {
          const address = `${local}@${domain}`;
          const written = [...address].map((c) => (upper.next().value ? c.toUpperCase() : c));
          const result = addressRule(normalizeAddress(lead + written.join("") + trail), false);
          assert.deepEqual(result, { parsed: { local, domain } });
        },
      ),
      { numRuns: 300 },
    );
  });

  // What config.ts does with a raw address is normalizeAddress, then addressRule. Found by this
  // property: U+212A KELVIN SIGN lower-cases to an ASCII "k", so folding every letter let
  // "a\u212Ate@example.com" through as "akte@example.com"; only ASCII letters are folded now.
  it("refuse a raw address with a non-ASCII character inside it, after normalization", () => {
    fc.assert(
      fc.property(addressArb, fc.nat(), nonAsciiArb, ({ local, domain }, n, odd) => {
        const address = `${local}@${domain}`;
        // Strictly inside, so it is not whitespace that trim() may take away at the ends.
        const raw = insertAt(address, 1 + (n % (address.length - 1)), odd);
        const result = addressRule(normalizeAddress(raw), false);
        assert.equal(result.parsed, undefined, `accepted ${shown(raw)}`);
        assert.equal(typeof result.error, "string");
      }),
      { numRuns: 300, examples: [[{ local: "ate", domain: "example.com" }, 0, "\u212a"]] },
    );
  });
});
