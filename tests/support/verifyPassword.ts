// Checks a clear password against a Dovecot hash in TypeScript, as a second opinion beside
// `doveadm pw -t`: the tests hold vmail's hashes to both. vmail itself never verifies.

import { timingSafeEqual } from "node:crypto";
import { argon2Verify, bcryptVerify } from "hash-wasm";
import {
  ARGON2_RE,
  parseScheme,
  sha512Crypt,
  SHA512_CRYPT_RE,
  storedHashProblem,
} from "../../core/passwords";

/** Costs past which a hash is refused unverified (a hostile hash could take minutes). */
const VERIFY_MAX = { bcryptCost: 16, sha512Rounds: 5_000_000 };
const ARGON2_MAX = { memorySize: 1 << 20, iterations: 64, parallelism: 16 };

/**
 * True if `clear` matches `hash` ({BLF-CRYPT}, {SHA512-CRYPT} or {ARGON2ID}).
 * False for a mismatch, a malformed hash, or a scheme we cannot check: the test then
 * fails.
 */
export async function verifyPassword(clear: string, hash: string): Promise<boolean> {
  const parsed = parseScheme(hash);
  if (!parsed || storedHashProblem(hash) !== undefined) return false;
  const { scheme, body } = parsed;
  try {
    switch (scheme) {
      case "BLF-CRYPT":
        // $2a$, $2b$ and $2y$ are one algorithm; the buggy-era $2x$ is refused.
        if (!/^\$2[aby]\$/.test(body) || Number(body.slice(4, 6)) > VERIFY_MAX.bcryptCost) {
          return false;
        }
        if (clear.length === 0) return false; // bcrypt hashes no empty password
        // bcrypt reads the first 72 bytes only, as doveadm did when it made a hash of a longer one.
        return await bcryptVerify({
          password: Buffer.from(clear, "utf8").subarray(0, 72),
          hash: body,
        });
      case "SHA512-CRYPT": {
        const m = SHA512_CRYPT_RE.exec(body);
        if (!m) return false;
        const rounds = m[1] === undefined ? 5000 : Number(m[1]);
        if (rounds > VERIFY_MAX.sha512Rounds) return false;
        const computed = sha512Crypt(clear, m[2], rounds, m[1] !== undefined);
        return safeEqual(computed, body);
      }
      case "ARGON2ID": {
        const m = ARGON2_RE.exec(body);
        if (!m || m[1] !== "argon2id") return false;
        const [mem, t, p] = [Number(m[2]), Number(m[3]), Number(m[4])];
        if (
          mem > ARGON2_MAX.memorySize ||
          t > ARGON2_MAX.iterations ||
          p > ARGON2_MAX.parallelism
        ) {
          return false;
        }
        return await argon2Verify({ password: clear, hash: body });
      }
      default:
        return false;
    }
  } catch {
    return false; // a body our libraries refuse to parse is a mismatch, not a crash
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
