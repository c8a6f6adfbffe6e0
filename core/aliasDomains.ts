// Alias domains (vmail:aliasDomains): every address of one is the same local part of its target
// domain, without listing each. Each is a transports row that names its target (alias_of); the
// aliases map does the rest (core/postfixConfig.ts). Pure.

import type { Reader } from "./configReader";
import { domainRule, normalizeAddress } from "./rules";

export interface AliasDomainSpec {
  domain: string;
  /** One of vmail:domains. */
  target: string;
}

const bare = (d: string) => normalizeAddress(d).replace(/\.$/, "");

/** [{domain, target}]: a new domain each, once, whose target is a hosted (not an alias) domain. */
export function readAliasDomains(r: Reader, domains: string[]): AliasDomainSpec[] {
  const read: AliasDomainSpec[] = [];
  r.list("aliasDomains").forEach((entry, i) => {
    const where = `aliasDomains[${i}]`;
    const pair = r.stringPair(
      where,
      entry,
      ["domain", "target"],
      "{domain: example.org, target: example.com}",
    );
    if (!pair) return;
    const [domain, target] = [bare(pair.domain), bare(pair.target)];
    const label = `${where} (${domain})`;
    const error = domainRule(domain);
    if (error) return r.fail(label, `${JSON.stringify(pair.domain)}: ${error}`);
    if (domains.includes(domain)) {
      return r.fail(
        label,
        `${domain} is in vmail:domains: an alias domain has no mailboxes of its own`,
      );
    }
    if (read.some((a) => a.domain === domain)) return r.fail(label, `${domain} is there twice`);
    if (!domains.includes(target)) {
      return r.fail(label, `its target ${target} is not in vmail:domains`);
    }
    read.push({ domain, target });
  });
  return read;
}
