// Stack config -> a validated, normalized MailSpec. Pure: no Pulumi calls, so it runs the same in
// the program, in the dynamic providers (from the config they are handed) and in unit tests.
// Every problem is collected and reported at once, each naming its entry and the rule it breaks.
// This is the entry point: each part is read by the module of its job (configReader.ts,
// serverSettings.ts, accounts.ts, aliases.ts, unknownKeys.ts), and what other files import from
// here is re-exported, its types defined in those modules so none of them imports this one back.

import {
  entryAddresses,
  readDomains,
  readSuspendedDomains,
  readUsers,
  type UserSpec,
} from "./accounts";
import { readAliasDomains, type AliasDomainSpec } from "./aliasDomains";
import { readAliases, withCatchAllShields, withForwards, type AliasSpec } from "./aliases";
import { DEFAULTS } from "./configDefaults";
import { ConfigError, Reader, type AccountsFile, type RawConfig } from "./configReader";
import { HASH_SCHEMES, type HashScheme } from "./passwords";
import { readDomainQuotas } from "./quotas";
import {
  readDatabaseSettings,
  readRetiredTargets,
  refuseRetiringWhatIsInUse,
  type DatabaseSettings,
} from "./serverSettings";
import { suspendUsers } from "./suspension";
import type { ServerAccess } from "./target";
import { refuseUnknownKeys } from "./unknownKeys";
import { readOwnHost, readServers, type MailHostSpec } from "./servers";

export type { PasswordSource, UserSpec } from "./accounts";
export { findAliasLoop, withCatchAllShields, type AliasSpec } from "./aliases";
export { DEFAULTS } from "./configDefaults";
export { ConfigError, NAMESPACE, type AccountsFile, type RawConfig } from "./configReader";
export type {
  DatabaseSettings,
  DovecotSettings,
  MailOwnerSpec,
  PostfixSettings,
} from "./serverSettings";
export type { ServerAccess };
export type { DatabaseHost, MailHostSpec } from "./servers";

export interface MailSpec {
  protect: boolean;
  /**
   * The stack's own server (the top-level keys: its access, mail owner, Postfix, Dovecot,
   * submission, root's mail, database hosts), as vmail:servers describes the others.
   */
  own: MailHostSpec;
  database: DatabaseSettings;
  domains: string[];
  /** Domains whose users may not log in and whose mail is refused (a subset of domains). */
  suspendedDomains: string[];
  /** Domains whose addresses are those of a hosted domain (not in domains). */
  aliasDomains: AliasDomainSpec[];
  users: UserSpec[];
  aliases: AliasSpec[];
  /** The other mail servers (vmail:servers), each reading the same account database. */
  servers: MailHostSpec[];
}

/** Where a user's maildir is on one server: a rename moves it there. */
export interface MaildirHost {
  server: ServerAccess;
  mailboxBase: string;
}

/** Reads just what vmail's providers need to reach the database and the servers. */
export function parseConnectionSettings(raw: RawConfig): {
  database: DatabaseSettings;
  server: ServerAccess;
  retiredTargets: string[];
  /** Every server's maildirs (the stack's own first): a user's maildir moves on each. */
  maildirHosts: MaildirHost[];
} {
  const r = new Reader(raw);
  const database = readDatabaseSettings(r);
  const own = readOwnHost(r, database, DEFAULTS.passwordScheme);
  const servers = readServers(r, raw, database, DEFAULTS.passwordScheme, own);
  const result = {
    database,
    server: own.server,
    retiredTargets: readRetiredTargets(r),
    maildirHosts: [own, ...servers].map((h) => ({
      server: h.server,
      mailboxBase: h.owner.mailboxBase,
    })),
  };
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return result;
}

export function parseConfig(raw: RawConfig, accounts?: AccountsFile): MailSpec {
  const r = new Reader(raw);
  const database = readDatabaseSettings(r);
  const scheme = r.oneOf<HashScheme>("passwordScheme", DEFAULTS.passwordScheme, HASH_SCHEMES);
  const own = readOwnHost(r, database, scheme);
  const { dovecot, submission } = own;
  const servers = readServers(r, raw, database, scheme, own);
  const domains = readDomains(r, accounts);
  const suspendedDomains = readSuspendedDomains(r, domains);
  const aliasDomains = readAliasDomains(r, domains);
  const domainQuotas = readDomainQuotas(r, domains, dovecot.enabled);
  const userEntries = r.entries("users", accounts);
  const defaults = {
    scheme,
    domainQuotas,
    dovecot: dovecot.enabled,
    submission: submission.enabled,
  };
  const users = suspendUsers(
    readUsers(r, new Set(domains), defaults, userEntries),
    new Set(suspendedDomains),
  );
  // A refused user is reported once: an alias pointing at it is not refused for that too.
  const mentioned = new Set([...users.map((u) => u.address), ...entryAddresses(userEntries)]);
  const aliases = withForwards(
    r,
    readAliases(r, new Set(domains), mentioned, accounts),
    users,
    new Set(domains),
  );
  refuseUnknownKeys(r, raw);
  const protect = r.boolean("protect", DEFAULTS.protect);
  refuseRetiringWhatIsInUse(r, readRetiredTargets(r), database, [own, ...servers]);
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return {
    protect,
    own,
    database,
    domains,
    suspendedDomains,
    aliasDomains,
    users,
    aliases: withCatchAllShields(aliases, users),
    servers,
  };
}
