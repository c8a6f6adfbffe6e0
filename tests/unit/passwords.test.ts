// Tests of core/passwords.ts: spec vectors, round trips, refusals. vmail's own SHA512-CRYPT code
// is judged by published vectors and by OpenSSL's (`openssl passwd -6`), never by itself.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  HASH_SCHEMES,
  hashPassword,
  parseScheme,
  sha512Crypt,
  SHA512_CRYPT_RE,
  storedHashProblem,
} from "../../core/passwords";
import { verifyPassword } from "../support/verifyPassword";

/**
 * The {SHA512-CRYPT} hash OpenSSL makes of `clear` with the salt and rounds of `hash`: an
 * implementation vmail does not share (tests/support/verifyPassword.ts uses vmail's sha512Crypt).
 * The password goes on stdin, one line.
 */
function opensslSha512Crypt(clear: string, hash: string): string {
  const m = SHA512_CRYPT_RE.exec(parseScheme(hash)?.body ?? "");
  assert.ok(m, `not a SHA512-CRYPT hash: ${hash}`);
  assert.ok(!clear.includes("\n"), "openssl passwd -stdin reads one line");
  const salt = m[1] === undefined ? m[2] : `rounds=${m[1]}$${m[2]}`;
  const r = spawnSync("openssl", ["passwd", "-6", "-salt", salt, "-stdin"], {
    input: `${clear}\n`,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, `openssl passwd -6: ${r.error?.message ?? r.stderr}`);
  return `{SHA512-CRYPT}${r.stdout.trim()}`;
}

/**
 * Whether `clear` matches a hash vmail made, judged without vmail's hashing code: OpenSSL for
 * SHA512-CRYPT, hash-wasm's verifiers for the others (doveadm judges all three in
 * tests/integration/passwords.test.ts).
 */
async function judge(clear: string, hash: string): Promise<boolean> {
  if (parseScheme(hash)?.scheme !== "SHA512-CRYPT") return verifyPassword(clear, hash);
  return opensslSha512Crypt(clear, hash) === `{SHA512-CRYPT}${parseScheme(hash)?.body}`;
}

// Test vectors from Ulrich Drepper's SHA-crypt specification (SHA-512 part).
const SPEC_VECTORS: { salt: string; rounds?: number; clear: string; expected: string }[] = [
  {
    salt: "saltstring",
    clear: "Hello world!",
    expected:
      "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
  },
  {
    salt: "saltstringsaltstring",
    rounds: 10000,
    clear: "Hello world!",
    expected:
      "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
  },
  {
    salt: "toolongsaltstring",
    rounds: 5000,
    clear: "This is just a test",
    expected:
      "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0",
  },
  {
    salt: "anotherlongsaltstring",
    rounds: 1400,
    clear: "a very much longer text to encrypt.  This one even stretches over morethan one line.",
    expected:
      "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1",
  },
  {
    salt: "short",
    rounds: 77777,
    clear: "we have a short salt string but not a short password",
    expected:
      "$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0",
  },
  {
    salt: "asaltof16chars..",
    rounds: 123456,
    clear: "a short string",
    expected:
      "$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1",
  },
  {
    // Not in the spec's list but in glibc's and libxcrypt's: an empty salt.
    salt: "",
    clear: "foo",
    expected:
      "$6$$QMXjqd7rHQZPQ1yHsXkQqC1FBzDiVfTHXL.LaeDAeVV.IzMaV9VU4MQ8kPuZa2SOP1A0RPm772EaFYjpEJtdu.",
  },
];

// Made by `doveadm pw -s SCHEME -p 'sample pw'` (Dovecot 2.3.19, Debian 12).
const SAMPLE_CLEAR = "sample pw";
const DOVEADM_SAMPLES: Record<string, string> = {
  ARGON2ID:
    "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$e0pek3JklUVTt4cKI7oR9Q$68JsY9KGut+mXuJcBNGuwQrUjXEgy5HqQ17Q0D+KoRA",
  ARGON2I:
    "{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$t6VwEbPbId53Yo+GN/LXdA$NAVV5TtgvM/n6PqAKhqmwOK2zkQJ8zEI3ZO2hJuiulU",
  "BLF-CRYPT": "{BLF-CRYPT}$2y$05$q3Ak//dNmA3AUvtOVHmXXOpc/1iYzD2iM8FwTfO9Tu0/s/p9p0yua",
  "SHA512-CRYPT":
    "{SHA512-CRYPT}$6$SRpQHMZnLc16Efuv$Mgm8xbl45V58FfOR.jvAOWTh1DfoPbAQ/VSQh6.Lejs6aW8Ev8KsNTt4k54e139gBPVeauqT3w35aDc4ejuSj0",
  "SHA256-CRYPT": "{SHA256-CRYPT}$5$VeyOCcmQEsHEfq6T$XJR2r3.E1iICkdI1Wt69t5/b9txLvemyNXI7WK4w9C4",
  PBKDF2: "{PBKDF2}$1$bjxDpfvHc7aJHcLS$5000$7a1ae10ef3ba899145a40ca14ef9b9d1ee5c4acc",
  "SCRAM-SHA-256":
    "{SCRAM-SHA-256}4096,vVcqkYHC1dakJFPumF0Qyg==,BZspt3qhPJomJlhVyq4bujizT3uB04ob2/MqW4x6hI8=,2Rjf4xNZL8RC+MDV/S0J0ijCb9EjjzLNc3S9kViLDJs=",
  SSHA512:
    "{SSHA512}vlwyYmA/eg7kQDPmdGePTLbA/zfEWz3Y7JEZPkqG3OgXFsWEH6ejtYixtrY/qp+nzNBlGuEZfLtNNvBZqpFibwXym+4=",
  SSHA256: "{SSHA256}knvRzY82vdfdr7doAxf6rIJ9qmACuoSpfZqIYW/BK7fqTDP3",
};

// Passwords that break naive quoting, shells, SQL and byte-vs-character code.
// (The integration test runs a longer list against the real doveadm.)
const AWKWARD = [
  `it's "quoted"; back\\slash\\ $6$ {BLF-CRYPT}`,
  "  spaces inside and around  ",
  "ünïcödé ßtraße 日本語 😀🔑",
  "x", // one byte
];

void describe("scheme helpers", () => {
  void it("lists exactly the three schemes we write", () => {
    assert.deepEqual([...HASH_SCHEMES], ["BLF-CRYPT", "SHA512-CRYPT", "ARGON2ID"]);
  });

  void it("parses {SCHEME}body, upper-casing the scheme like Dovecot's lookup", () => {
    assert.deepEqual(parseScheme("{blf-crypt}$2y$x"), { scheme: "BLF-CRYPT", body: "$2y$x" });
    assert.deepEqual(parseScheme("{PLAIN}"), { scheme: "PLAIN", body: "" });
    assert.equal(parseScheme("$2y$10$abc"), undefined);
    assert.equal(parseScheme("BLF-CRYPT}x"), undefined);
  });
});

void describe("SHA512-CRYPT (spec vectors)", () => {
  for (const v of SPEC_VECTORS) {
    void it(`crypt(${JSON.stringify(v.clear)}, ${JSON.stringify(v.salt)}, rounds=${v.rounds ?? "default"})`, async () => {
      assert.equal(
        sha512Crypt(v.clear, v.salt, v.rounds ?? 5000, v.rounds !== undefined),
        v.expected,
      );
      assert.equal(await verifyPassword(v.clear, `{SHA512-CRYPT}${v.expected}`), true);
      assert.equal(await verifyPassword(v.clear + "!", `{SHA512-CRYPT}${v.expected}`), false);
    });
  }

  void it("OpenSSL, the judge of vmail's own SHA512-CRYPT hashes below, agrees with the vectors", () => {
    for (const v of SPEC_VECTORS.filter((x) => x.salt !== "")) {
      assert.equal(
        opensslSha512Crypt(v.clear, `{SHA512-CRYPT}${v.expected}`),
        `{SHA512-CRYPT}${v.expected}`,
      );
    }
  });

  void it("refuses rounds below 1000 as libxcrypt does (the spec would clamp them)", () => {
    assert.throws(
      () => sha512Crypt("the minimum number is still observed", "roundstoolow", 10),
      /rounds must be an integer from 1000 to 999999999/,
    );
  });
});

// Each hash vmail makes, judged by another implementation (see judge()).
void describe("hashPassword round trips", () => {
  const shapes: Record<string, RegExp> = {
    "BLF-CRYPT": /^\{BLF-CRYPT\}\$2y\$10\$[./A-Za-z0-9]{53}$/,
    "SHA512-CRYPT": /^\{SHA512-CRYPT\}\$6\$rounds=100000\$[./A-Za-z0-9]{16}\$[./A-Za-z0-9]{86}$/,
    ARGON2ID:
      /^\{ARGON2ID\}\$argon2id\$v=19\$m=65536,t=3,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/,
  };
  for (const scheme of HASH_SCHEMES) {
    void it(`${scheme}: right shape, fresh salt, verifies only the right password`, async () => {
      const a = await hashPassword("correct horse", scheme);
      const b = await hashPassword("correct horse", scheme);
      assert.match(a, shapes[scheme]);
      assert.notEqual(a, b, "each hash has its own salt");
      assert.equal(await judge("correct horse", a), true);
      assert.equal(await judge("correct horse", b), true);
      assert.equal(await judge("correct hors", a), false);
      assert.equal(await judge("Correct horse", a), false);
      assert.equal(await judge("", a), false);
      assert.equal(storedHashProblem(a), undefined, "our own hashes pass the operator vetting");
    });

    void it(`${scheme}: awkward passwords round-trip, byte for byte`, async () => {
      for (const clear of AWKWARD) {
        const h = await hashPassword(clear, scheme);
        assert.equal(await judge(clear, h), true, JSON.stringify(clear));
        // No Unicode normalization (Dovecot does none): another byte sequence is another password.
        if (clear.normalize("NFD") !== clear) {
          assert.equal(await judge(clear.normalize("NFD"), h), false);
        }
      }
    });
  }

  void it("the verifier accepts a lower-case scheme prefix, as Dovecot does", async () => {
    const { clear, expected } = SPEC_VECTORS[0];
    assert.equal(await verifyPassword(clear, `{sha512-crypt}${expected}`), true);
  });

  void it("verifies bcrypt's $2a$ and $2b$ forms, which Dovecot also verifies", async () => {
    const h = (await hashPassword("pw", "BLF-CRYPT")).slice("{BLF-CRYPT}".length);
    for (const prefix of ["$2a$", "$2b$", "$2y$"]) {
      assert.equal(await verifyPassword("pw", `{BLF-CRYPT}${prefix}${h.slice(4)}`), true, prefix);
    }
    // crypt_blowfish's published vector.
    const vector = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
    assert.equal(await verifyPassword("U*U", `{BLF-CRYPT}${vector}`), true);
    assert.equal(await verifyPassword("U*V", `{BLF-CRYPT}${vector}`), false);
  });

  void it("verifies hashes doveadm made for our schemes", async () => {
    for (const scheme of HASH_SCHEMES) {
      assert.equal(await verifyPassword(SAMPLE_CLEAR, DOVEADM_SAMPLES[scheme]), true, scheme);
      assert.equal(await verifyPassword("sample pw ", DOVEADM_SAMPLES[scheme]), false, scheme);
    }
  });

  void it("says false, never throws, for hashes it cannot check", async () => {
    const cases = [
      "",
      "nonsense",
      "{PLAIN}sample pw", // clear text is never accepted as a match
      DOVEADM_SAMPLES.ARGON2I, // ours is ARGON2ID only
      DOVEADM_SAMPLES["SHA256-CRYPT"],
      "{ARGON2ID}" + DOVEADM_SAMPLES.ARGON2I.slice("{ARGON2I}".length), // body of the other variant
      "{SHA512-CRYPT}$6$salt$tooshort",
      "{BLF-CRYPT}$2y$10$truncated",
      DOVEADM_SAMPLES["SHA512-CRYPT"].slice(0, -1),
      // Costs past what verification will spend: false at once, not a hang.
      DOVEADM_SAMPLES["BLF-CRYPT"].replace("$2y$05$", "$2y$31$"),
      DOVEADM_SAMPLES["SHA512-CRYPT"].replace("$6$", "$6$rounds=999999999$"),
      DOVEADM_SAMPLES["SHA512-CRYPT"].replace("$6$", "$6$rounds=999$"), // libxcrypt refuses it too
      "{ARGON2ID}$argon2id$v=19$m=4194304,t=3,p=1$e0pek3JklUVTt4cKI7oR9Q$68JsY9KGut+mXuJcBNGuwQrUjXEgy5HqQ17Q0D+KoRA", // 4 GiB
    ];
    for (const h of cases) assert.equal(await verifyPassword(SAMPLE_CLEAR, h), false, h);
  });

  void it("refuses passwords a scheme cannot hold, without echoing them", async () => {
    const long = "y".repeat(73);
    await assert.rejects(hashPassword(long, "BLF-CRYPT"), (e: Error) => {
      assert.match(e.message, /BLF-CRYPT uses only the first 72 bytes.*this one has 73/);
      assert.ok(!e.message.includes(long));
      return true;
    });
    // 72 bytes is fine, and so is a long password in the other schemes.
    assert.equal(
      await judge("é".repeat(36), await hashPassword("é".repeat(36), "BLF-CRYPT")),
      true,
    );
    await assert.rejects(hashPassword("é".repeat(37), "BLF-CRYPT"), /this one has 74/);
    assert.equal(await judge(long, await hashPassword(long, "SHA512-CRYPT")), true);
    await assert.rejects(hashPassword("", "ARGON2ID"), /must not be empty/);
    await assert.rejects(hashPassword("a\0b", "SHA512-CRYPT"), /must not contain a NUL/);
  });
});

void describe("storedHashProblem (hashes made with doveadm pw)", () => {
  void it("accepts what doveadm writes for each vetted scheme", () => {
    for (const [scheme, hash] of Object.entries(DOVEADM_SAMPLES)) {
      assert.equal(storedHashProblem(hash), undefined, scheme);
      assert.equal(parseScheme(hash)?.scheme, scheme);
    }
    const lower = DOVEADM_SAMPLES.PBKDF2.replace("{PBKDF2}", "{pbkdf2}");
    assert.equal(storedHashProblem(lower), undefined);
  });

  const refusals: [string, string, RegExp][] = [
    [
      "no scheme",
      "$2y$05$q3Ak//dNmA3AUvtOVHmXXOpc/1iYzD2iM8FwTfO9Tu0/s/p9p0yua",
      /must start with \{SCHEME\}/,
    ],
    ["clear text", "{PLAIN}sample pw", /\{PLAIN\} is refused: it stores the password in clear/],
    ["clear text", "{CLEARTEXT}x", /\{CLEARTEXT\} is refused: it stores the password in clear/],
    [
      "unsalted",
      "{SHA512}KF3icbSeAO9oGc8Ku/AxXpfCXLo2FhZ8dw78Umxki03hH0sA3HH67TOjEse6g2kNPtFKqq32tiKqSJlv8H7IpA==",
      /\{SHA512\} is refused: it is an unsalted fast hash/,
    ],
    [
      "weak",
      "{MD5-CRYPT}$1$n3n89NfF$.8Y/l0CFqStWmkwVhZI0f.",
      /\{MD5-CRYPT\} is refused: it is built on a broken or weak primitive/,
    ],
    [
      "ambiguous",
      "{CRYPT}$2y$05$lEd2UcaRPUBaSYtIeG/MCO8aS2uBtspnJhF6klh5CffrmlNJVff/W",
      /\{CRYPT\} is refused: it does not say which crypt\(\) algorithm/,
    ],
    [
      "unknown",
      "{ROT13}fnzcyr",
      /\{ROT13\} is not one of the accepted schemes: ARGON2ID, ARGON2I, BLF-CRYPT/,
    ],
    ["unprintable scheme", "{my secret}x", /its scheme is not one of the accepted schemes/],
    ["empty body", "{SHA512-CRYPT}", /\{SHA512-CRYPT\} password hash is empty after the scheme/],
    [
      "whitespace",
      DOVEADM_SAMPLES["BLF-CRYPT"] + "\n",
      /contains whitespace or a control character/,
    ],
    [
      "inner space",
      DOVEADM_SAMPLES.SSHA512.replace("A/", "A /"),
      /contains whitespace or a control character/,
    ],
    [
      "control char",
      DOVEADM_SAMPLES.ARGON2ID.replace("$v=", "\x07$v="),
      /contains whitespace or a control character/,
    ],
    [
      "truncated",
      DOVEADM_SAMPLES["SHA512-CRYPT"].slice(0, -3),
      /\{SHA512-CRYPT\} password hash does not have the shape `doveadm pw -s SHA512-CRYPT` writes/,
    ],
    [
      "wrong body",
      "{BLF-CRYPT}" + DOVEADM_SAMPLES["SHA512-CRYPT"].slice(14),
      /\{BLF-CRYPT\} password hash does not have the shape/,
    ],
    [
      "bare sha512 as ssha",
      "{SSHA512}KF3icbSeAO9oGc8Ku/AxXpfCXLo2FhZ8dw78Umxki03hH0sA3HH67TOjEse6g2kNPtFKqq32tiKqSJlv8H7IpA==",
      /\{SSHA512\} password hash does not have the shape/,
    ],
  ];
  for (const [what, hash, message] of refusals) {
    void it(`refuses ${what}, naming the rule and not the hash`, () => {
      const problem = storedHashProblem(hash);
      assert.ok(problem !== undefined);
      assert.match(problem, message);
      const body = parseScheme(hash)?.body ?? hash;
      if (body.length > 3) assert.ok(!problem.includes(body.trim()), problem);
    });
  }
});
