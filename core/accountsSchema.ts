// The shape of one user, one alias, and of the accounts file, as zod schemas: the types and
// fields of each entry are checked here, and the same schemas give the accounts file its JSON
// Schema (accounts.schema.json, for editors). Rules across entries (duplicates, domains, loops)
// are plain functions in config.ts. Pure.

import { z } from "zod";
import { HASH_SCHEMES } from "./passwords";

/** One address (or @domain, where the field takes it) or a non-empty list of them. */
const addressList = (field: string, what: string) =>
  z.union(
    [
      z.string(),
      z
        .array(z.string({ error: `${field} holds ${what} (strings)` }))
        .min(1, `${field} is ${article(what)} or a non-empty list of ${what}`),
    ],
    { error: `${field} is ${article(what)} or a non-empty list of ${what}` },
  );

/** "addresses" -> "an address", "addresses or @domains" -> "an address or an @domain". */
const article = (what: string) =>
  what.replace(/addresses/, "an address").replace(/@domains/, "an @domain");

export const userEntrySchema = z
  .strictObject({
    address: z.string({ error: "address is a string" }).describe("The mailbox's address."),
    realname: z
      .string({ error: "realname is a string" })
      .nullish()
      .describe("The user's real name (printable text)."),
    maildir: z
      .string({ error: "maildir is a string" })
      .optional()
      .describe("The maildir below the mailbox base, ending in '/' (default domain/local/)."),
    password: z
      .string({ error: "password is a non-empty string" })
      .min(1, "password is a non-empty string")
      .optional()
      .describe("A clear-text password, hashed by vmail; stack config only, set as a secret."),
    passwordHash: z
      .string({ error: "passwordHash is a string made by `doveadm pw`" })
      .optional()
      .describe("A hash made by `doveadm pw -s SCHEME`, stored as it is."),
    passwordVersion: z
      .number({ error: "passwordVersion is a whole number from 1 up" })
      .int("passwordVersion is a whole number from 1 up")
      .min(1, "passwordVersion is a whole number from 1 up (raise it to generate a new password)")
      .optional()
      .describe("Raise it to generate a new password (users without password or hash)."),
    scheme: z
      .enum(HASH_SCHEMES, { error: `scheme must be one of ${HASH_SCHEMES.join(", ")}` })
      .optional()
      .describe("The hash scheme for this user (default vmail:passwordScheme)."),
    login: z
      .boolean({ error: "login is true or false" })
      .optional()
      .describe(
        "false keeps the user from logging in (IMAP and every Dovecot service); mail still arrives. Default true.",
      ),
    receive: z
      .boolean({ error: "receive is true or false" })
      .optional()
      .describe(
        "false refuses mail to this address at RCPT time (550), aliases and catch-alls included. Default true.",
      ),
    formerly: z
      .string({ error: "formerly is the address the user had before (a string)" })
      .optional()
      .describe(
        "The address this user had before: a rename that keeps the password and moves the maildir, shown as an update.",
      ),
    forwardTo: addressList("forwardTo", "addresses")
      .optional()
      .describe("Where a copy of the user's mail is forwarded: an address or a list."),
    keepCopy: z
      .boolean({ error: "keepCopy is true or false" })
      .optional()
      .describe(
        "With forwardTo: false delivers the forwarded mail only there, keeping no copy in the mailbox. Default true.",
      ),
    sendAs: addressList("sendAs", "addresses or @domains")
      .optional()
      .describe(
        "More senders this user may use on the submission port besides their own address and the aliases that deliver to them: addresses, or @domain for every address of a domain.",
      ),
    quota: z
      .string({ error: 'quota is a string such as "500M" or "2G"' })
      .optional()
      .describe(
        'The mailbox\'s size limit ("500M", "2G"; K, M, G, T are 1024-based), or "none"; default the domain\'s (vmail:domainQuotas), else no limit. Needs Dovecot.',
      ),
  })
  .describe("A mailbox: one row of the users table.");

export const aliasEntrySchema = z
  .strictObject({
    address: z
      .string({ error: "address is a string" })
      .describe("The alias, local@domain, or @domain for the domain's catch-all."),
    to: addressList("`to`", "addresses").describe(
      "Where its mail goes: an address or a list of addresses.",
    ),
  })
  .describe("An alias: one row of the aliases table.");

export const accountsFileSchema = z
  .strictObject({
    domains: z.array(z.string()).optional().describe("More virtual mailbox domains."),
    // No clear-text password here: the file is not encrypted (config.ts says so, by entry).
    users: z
      .array(userEntrySchema.omit({ password: true }))
      .optional()
      .describe("More mailboxes."),
    aliases: z.array(aliasEntrySchema).optional().describe("More aliases."),
  })
  .describe("vmail:accountsFile: domains, users and aliases kept out of the stack config.");

export type UserEntry = z.infer<typeof userEntrySchema>;
export type AliasEntry = z.infer<typeof aliasEntrySchema>;

/** The JSON Schema of the accounts file, as committed in accounts.schema.json. */
export function accountsJsonSchema(): object {
  return z.toJSONSchema(accountsFileSchema, { target: "draft-2020-12" });
}

/** zod's verdict on one entry, as vmail words a rule: the first problem, naming its field. */
export function entryProblem(error: z.ZodError, known: readonly string[]): string {
  const issue = error.issues[0];
  if (issue.code === "unrecognized_keys") {
    return `unknown field(s) ${issue.keys.join(", ")}; known: ${known.join(", ")}`;
  }
  return issue.message;
}

export const USER_FIELDS = Object.keys(userEntrySchema.shape);
export const ALIAS_FIELDS = Object.keys(aliasEntrySchema.shape);
