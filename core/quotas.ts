// Mailbox quotas: a size as an operator writes it ("500M", "2G"), the default of each domain
// (vmail:domainQuotas), and each user's resulting limit in bytes. Dovecot enforces it (its quota
// plugin, at delivery over LMTP and at RCPT through quota-status), so a server without Dovecot
// takes none. Pure.

import type { Reader } from "./configReader";
import { normalizeAddress } from "./rules";

/** K, M, G and T are powers of 1024, as Dovecot reads them. */
const UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** A user's quota that lifts the domain's default. */
export const NO_QUOTA = "none";

const SIZE_RULE =
  'a quota is a whole number with an optional unit K, M, G or T (1024-based), from 1K up ("500M", "2G")';

const isNone = (text: string) => text.trim().toLowerCase() === NO_QUOTA;

/** The rule a user's quota breaks, in words; undefined when it is a size or "none". */
export function quotaRule(text: string): string | undefined {
  return parseSize(text) === undefined && !isNone(text)
    ? `${SIZE_RULE}, or "${NO_QUOTA}" (no limit, whatever the domain's default)`
    : undefined;
}

/** "2G" -> 2147483648; undefined when it is no size vmail takes (see quotaRule). */
export function parseSize(text: string): number | undefined {
  const m = /^([1-9][0-9]*)([KMGT]?)$/i.exec(text.trim());
  if (!m) return undefined;
  const bytes = Number(m[1]) * UNITS[m[2].toUpperCase()];
  // At least 1K (a quota below Dovecot's smallest message is a typo), and exact in a BIGINT.
  return bytes >= 1024 && Number.isSafeInteger(bytes) ? bytes : undefined;
}

/**
 * A user's limit: their own `quota` ("none" lifts the domain's default), else the domain's default,
 * else none (null). Undefined `own` means the entry leaves it out.
 */
export function userQuota(
  own: string | undefined,
  domainDefault: number | undefined,
): number | null {
  if (own === undefined) return domainDefault ?? null;
  if (isNone(own)) return null;
  return parseSize(own) ?? null;
}

/**
 * vmail:domainQuotas: [{domain, quota}], each domain one of vmail:domains, once, its quota a size.
 * Refused without Dovecot, which is what enforces them.
 */
export function readDomainQuotas(
  r: Reader,
  domains: string[],
  dovecot: boolean,
): Map<string, number> {
  const quotas = new Map<string, number>();
  const entries = r.list("domainQuotas");
  if (entries.length > 0 && !dovecot) {
    r.fail("domainQuotas", "quotas are enforced by Dovecot, and vmail:dovecot is false");
    return quotas;
  }
  entries.forEach((entry, i) => {
    const where = `domainQuotas[${i}]`;
    const pair = r.stringPair(
      where,
      entry,
      ["domain", "quota"],
      '{domain: example.com, quota: "1G"}',
    );
    if (!pair) return;
    const domain = normalizeAddress(pair.domain).replace(/\.$/, "");
    const label = `${where} (${domain})`;
    if (!domains.includes(domain)) return r.fail(label, `${domain} is not in vmail:domains`);
    if (quotas.has(domain)) return r.fail(label, `${domain} has a quota already`);
    const bytes = parseSize(pair.quota);
    if (bytes === undefined) {
      return r.fail(label, `quota ${JSON.stringify(pair.quota)}: ${SIZE_RULE}`);
    }
    quotas.set(domain, bytes);
  });
  return quotas;
}
