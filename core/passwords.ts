// Dovecot-compatible password hashes: make them, and vet operator-made ones.
// Pure: no I/O but crypto. Every message here names a rule, never a password or hash.
import { createHash, hash as digest, randomBytes } from "node:crypto";
import { argon2id, bcrypt } from "hash-wasm";

/** The schemes this program writes (and can verify). */
export const HASH_SCHEMES = ["BLF-CRYPT", "SHA512-CRYPT", "ARGON2ID"] as const;
export type HashScheme = (typeof HASH_SCHEMES)[number];

// bcrypt cost 10 (2^10 rounds, ~80 ms in hash-wasm); doveadm's default is 5.
const BCRYPT_COST = 10;
// 20 times glibc's and doveadm's default of 5000: ~40 ms for libxcrypt at each Dovecot
// login, ~130 ms here (node:crypto one digest at a time), about bcrypt cost 10's work.
const SHA512_CRYPT_ROUNDS = 100_000;
// What doveadm 2.3 writes for ARGON2ID (libsodium, 64 MiB, 3 passes, 1 lane).
const ARGON2 = { memorySize: 65536, iterations: 3, parallelism: 1, hashLength: 32, saltLength: 16 };

/** Splits "{SCHEME}body"; the scheme is upper-cased (Dovecot looks schemes up case-insensitively). */
export function parseScheme(hash: string): { scheme: string; body: string } | undefined {
  const m = /^\{([^{}]*)\}(.*)$/s.exec(hash);
  return m ? { scheme: m[1].toUpperCase(), body: m[2] } : undefined;
}

/** Why a clear password cannot be hashed, or undefined if it can. */
function clearPasswordProblem(clear: string, scheme: HashScheme): string | undefined {
  if (clear.length === 0) return "a password must not be empty";
  // Dovecot handles passwords as C strings: a NUL would cut the password short.
  if (clear.includes("\0")) return "a password must not contain a NUL character";
  // bcrypt ignores every byte past the 72nd: a longer password would be silently cut.
  const bytes = Buffer.byteLength(clear, "utf8");
  if (scheme === "BLF-CRYPT" && bytes > 72) {
    return `BLF-CRYPT uses only the first 72 bytes of a password and this one has ${bytes}: use SHA512-CRYPT or ARGON2ID, or a shorter password`;
  }
  return undefined;
}

/** Hashes a clear password as Dovecot's `{SCHEME}...` string. Throws on a password the scheme cannot hold. */
export async function hashPassword(clear: string, scheme: HashScheme): Promise<string> {
  const problem = clearPasswordProblem(clear, scheme);
  if (problem) throw new Error(problem);
  switch (scheme) {
    case "BLF-CRYPT": {
      const encoded = await bcrypt({
        password: clear,
        salt: randomBytes(16),
        costFactor: BCRYPT_COST,
        outputType: "encoded",
      });
      // hash-wasm writes $2a$; $2y$ is the same algorithm and what doveadm writes.
      return `{BLF-CRYPT}${encoded.replace(/^\$2[ab]\$/, "$2y$")}`;
    }
    case "SHA512-CRYPT": {
      const salt = cryptBase64(randomBytes(12)); // 16 salt characters, the maximum
      return `{SHA512-CRYPT}${sha512Crypt(clear, salt, SHA512_CRYPT_ROUNDS, true)}`;
    }
    case "ARGON2ID": {
      const encoded = await argon2id({
        password: clear,
        salt: randomBytes(ARGON2.saltLength),
        iterations: ARGON2.iterations,
        parallelism: ARGON2.parallelism,
        memorySize: ARGON2.memorySize,
        hashLength: ARGON2.hashLength,
        outputType: "encoded",
      });
      return `{ARGON2ID}${encoded}`;
    }
  }
}

// ---- Vetting hashes made by the operator with `doveadm pw -s SCHEME` ----

// Accepted: salted schemes Dovecot 2.3 verifies that cost an attacker real work per guess,
// plus salted SHA-2 (SSHA256/SSHA512), which is fast but salted, so accounts moved from an
// older server keep working until the user's password is next set here. Each body shape is
// what doveadm writes; a body that does not fit was cut or mangled on its way to the config.
const B64 = "[A-Za-z0-9+/]";
const CRYPT64 = "[./0-9A-Za-z]";
export const SHA512_CRYPT_RE = new RegExp(
  `^\\$6\\$(?:rounds=([1-9][0-9]{0,8})\\$)?([^$:\\s]{0,16})\\$${CRYPT64}{86}$`,
);
export const ARGON2_RE = new RegExp(
  `^\\$(argon2id|argon2i)\\$v=19\\$m=([1-9][0-9]{0,9}),t=([1-9][0-9]{0,9}),p=([1-9][0-9]{0,2})\\$${B64}{11,}\\$${B64}{22,}$`,
);
const ACCEPTED: Record<string, RegExp> = {
  ARGON2ID: ARGON2_RE,
  ARGON2I: ARGON2_RE,
  "BLF-CRYPT": new RegExp(`^\\$2[abxy]\\$(0[4-9]|[12][0-9]|3[01])\\$${CRYPT64}{53}$`),
  "SHA512-CRYPT": SHA512_CRYPT_RE,
  "SHA256-CRYPT": new RegExp(
    `^\\$5\\$(?:rounds=[1-9][0-9]{0,8}\\$)?[^$:\\s]{0,16}\\$${CRYPT64}{43}$`,
  ),
  // Dovecot's PBKDF2: $1$salt$rounds$hex (PBKDF2-HMAC-SHA1, 5000 rounds by default).
  PBKDF2: /^\$1\$[^$\s]+\$[1-9][0-9]*\$[0-9a-f]{40}$/,
  // iterations,salt,StoredKey,ServerKey: PBKDF2-SHA256, and it lets clients use SCRAM.
  "SCRAM-SHA-256": new RegExp(`^[1-9][0-9]*,${B64}+={0,2},${B64}{43}=,${B64}{43}=$`),
  // base64 of SHA-2 digest + salt: longer than the bare digest (88 / 44 characters).
  SSHA512: new RegExp(`^${B64}{88,}={0,2}$`),
  SSHA256: new RegExp(`^${B64}{44,}={0,2}$`),
};

// Refused with the reason, so the operator knows what to use instead.
const CLEAR = "stores the password in clear or reversibly";
const UNSALTED = "is an unsalted fast hash (one table lookup cracks common passwords)";
const WEAK = "is built on a broken or weak primitive (DES, MD4, MD5 or SHA-1)";
const REFUSED: Record<string, string> = {
  PLAIN: CLEAR,
  CLEAR: CLEAR,
  CLEARTEXT: CLEAR,
  "PLAIN-TRUNC": CLEAR,
  OTP: "is a one-time-password scheme, not a login password hash",
  SHA512: UNSALTED,
  SHA256: UNSALTED,
  SHA: UNSALTED,
  SHA1: UNSALTED,
  MD5: UNSALTED,
  "PLAIN-MD5": UNSALTED,
  "LDAP-MD5": UNSALTED,
  "PLAIN-MD4": WEAK,
  "CRAM-MD5": WEAK,
  "HMAC-MD5": WEAK,
  "DIGEST-MD5": WEAK,
  SMD5: WEAK,
  SSHA: WEAK,
  "MD5-CRYPT": WEAK,
  "DES-CRYPT": WEAK,
  "SCRAM-SHA-1": WEAK,
  // {CRYPT} takes whatever crypt() format follows, DES included: say which one instead.
  CRYPT:
    "does not say which crypt() algorithm is used (it may be DES): use BLF-CRYPT or SHA512-CRYPT",
};

/**
 * Why an operator-supplied hash is refused, or undefined if it is acceptable.
 * The message names the rule and at most the scheme, never the hash itself.
 */
export function storedHashProblem(hash: string): string | undefined {
  const accepted = Object.keys(ACCEPTED).join(", ");
  const parsed = parseScheme(hash);
  if (!parsed) {
    return `a password hash must start with {SCHEME}, as \`doveadm pw -s SCHEME\` prints it (accepted schemes: ${accepted})`;
  }
  const { scheme, body } = parsed;
  const shown = /^[A-Z0-9.-]{1,32}$/.test(scheme) ? `{${scheme}}` : "its scheme";
  const reason = REFUSED[scheme];
  if (reason !== undefined)
    return `password hash scheme ${shown} is refused: it ${reason}; accepted: ${accepted}`;
  const shape = ACCEPTED[scheme];
  if (shape === undefined)
    return `password hash scheme ${shown} is not one of the accepted schemes: ${accepted}`;
  if (body.length === 0) return `the ${shown} password hash is empty after the scheme`;
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(body)) {
    return `the ${shown} password hash contains whitespace or a control character (cut and paste damage?)`;
  }
  if (!shape.test(body))
    return `the ${shown} password hash does not have the shape \`doveadm pw -s ${scheme}\` writes`;
  return undefined;
}

// ---- SHA-512 crypt, as specified in Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512" ----

const CRYPT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** crypt's base64 of whole 3-byte groups (used for salts). */
function cryptBase64(bytes: Buffer): string {
  let out = "";
  for (let i = 0; i + 2 < bytes.length; i += 3) {
    out += b64From24(bytes[i], bytes[i + 1], bytes[i + 2], 4);
  }
  return out;
}

function b64From24(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let out = "";
  for (let i = 0; i < n; i++, w >>= 6) out += CRYPT_ALPHABET[w & 0x3f];
  return out;
}

/** `len` bytes of `block` repeated (steps 11-12, 16, 20 of the spec). */
function repeatTo(block: Buffer, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i += block.length)
    block.copy(out, i, 0, Math.min(block.length, len - i));
  return out;
}

const sha512 = (...parts: Buffer[]): Buffer => {
  const h = createHash("sha512");
  for (const p of parts) h.update(p);
  return h.digest();
};

/**
 * `$6$[rounds=N$]salt$hash`. Rounds outside 1000..999999999 throw: the spec clamps them,
 * but libxcrypt (what Dovecot calls on Debian 12) refuses such hashes, so neither do we.
 */
export function sha512Crypt(
  clear: string,
  saltIn: string,
  rounds = 5000,
  showRounds = rounds !== 5000,
): string {
  if (!Number.isInteger(rounds) || rounds < 1000 || rounds > 999_999_999) {
    throw new Error("SHA512-CRYPT rounds must be an integer from 1000 to 999999999");
  }
  const p = Buffer.from(clear, "utf8");
  const s = Buffer.from(saltIn, "utf8").subarray(0, 16);
  const b = sha512(p, s, p);
  const actx = createHash("sha512").update(p).update(s);
  actx.update(repeatTo(b, p.length));
  for (let n = p.length; n > 0; n >>= 1) actx.update(n & 1 ? b : p);
  const a = actx.digest();
  const pBytes = repeatTo(sha512(...Array<Buffer>(p.length).fill(p)), p.length);
  const sBytes = repeatTo(sha512(...Array<Buffer>(16 + a[0]).fill(s)), s.length);
  // The rounds loop, with one-shot digests into a reused buffer (half again as fast).
  const buf = Buffer.alloc(64 + sBytes.length + 2 * pBytes.length);
  let c = a;
  for (let i = 0; i < rounds; i++) {
    let n = (i & 1 ? pBytes : c).copy(buf, 0);
    if (i % 3) n += sBytes.copy(buf, n);
    if (i % 7) n += pBytes.copy(buf, n);
    n += (i & 1 ? c : pBytes).copy(buf, n);
    c = digest("sha512", buf.subarray(0, n), "buffer");
  }
  let out = "";
  // Byte order of the final encoding: groups (i, i+21, i+42), rotated by one each step.
  for (let i = 0; i < 21; i++) {
    const g = [c[i], c[i + 21], c[i + 42]];
    const r = i % 3;
    out += b64From24(g[r], g[(r + 1) % 3], g[(r + 2) % 3], 4);
  }
  out += b64From24(0, 0, c[63], 2);
  return `$6$${showRounds ? `rounds=${rounds}$` : ""}${s.toString("utf8")}$${out}`;
}
