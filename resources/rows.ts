// One resource per row, named by its address, so a preview reads as a list of mail changes:
//   + vmail:index:MailUser  bob@example.com
// A row's columns and its database go to the engine as JSON text (core/rowWire.ts).

import * as pulumi from "@pulumi/pulumi";
import type { HashScheme } from "../core/passwords";
import { wireValue } from "../core/rowWire";
import type { DbIdentity } from "../core/target";
import { VmailResource } from "./vmailResource";

/**
 * The stack writing the rows, `organization/project/stack`, in each row's inputs: the provider
 * records it with the row and refuses or leaves alone a row another stack on the same database
 * wrote (providers/rows.ts). The engine gives the provider process the project, not the stack.
 */
export function writtenBy(): string {
  let organization = "organization"; // a DIY backend's, where the engine names none (mocks)
  try {
    organization = pulumi.getOrganization();
  } catch {
    // keep the default
  }
  return `${organization}/${pulumi.getProject()}/${pulumi.getStack()}`;
}

export interface MailDomainArgs {
  /** The database the row is in. */
  target: DbIdentity;
  gid: pulumi.Input<number>;
  /** How Postfix delivers the domain's mail: Dovecot's LMTP, or virtual(8) without Dovecot. */
  transport: string;
  /** false for a suspended domain: Postfix refuses mail to any of its addresses. */
  receive?: boolean;
  /** For an alias domain: the hosted domain whose addresses its addresses are. */
  aliasOf?: string;
}

/** A transports row: how mail for the domain is delivered, as the mail owner's group. */
export class MailDomain extends VmailResource {
  constructor(domain: string, args: MailDomainArgs, opts?: pulumi.CustomResourceOptions) {
    const transport = args.transport;
    const stack = writtenBy();
    // `receive` only when false (a suspended domain), as a user's flags: see MailUser.
    const suspended = args.receive === false ? { receive: false } : {};
    const alias = args.aliasOf === undefined ? {} : { alias_of: args.aliasOf };
    const row = pulumi
      .output(args.gid)
      .apply((gid) => wireValue({ domain, gid, transport, stack, ...suspended, ...alias }));
    const props = { row, target: wireValue(args.target) };
    super("MailDomain", domain, props, opts);
  }
}

export interface MailAliasArgs {
  /** The database the row is in. */
  target: DbIdentity;
  targets: string[];
}

/** An aliases row; `@domain` is the domain's catch-all. */
export class MailAlias extends VmailResource {
  constructor(alias: string, args: MailAliasArgs, opts?: pulumi.CustomResourceOptions) {
    const row = { alias, email: args.targets.join(", "), stack: writtenBy() };
    const props = { row: wireValue(row), target: wireValue(args.target) };
    super("MailAlias", alias, props, opts);
  }
}

export interface MailUserArgs {
  /** The database the row is in. */
  target: DbIdentity;
  realname: string | null;
  maildir: string;
  scheme: HashScheme;
  /** May log in; false refuses every Dovecot login while mail still arrives. */
  login: boolean;
  /** Accepts mail; false has Postfix refuse mail to the address at RCPT time. */
  receive: boolean;
  /** The mailbox's size limit in bytes; null for none. */
  quota: number | null;
  /** More senders it may use on the submission port (addresses, @domains). */
  sendAs: string[];
  /** Exactly one of these three: a doveadm hash, a clear-text secret, or a generation number. */
  passwordHash?: pulumi.Input<string>;
  password?: pulumi.Input<string>;
  generateVersion?: number;
}

/** A users row. The password is stored as a Dovecot hash; the clear text never reaches the table. */
export class MailUser extends VmailResource {
  /** The password vmail generated (secret); undefined when the password came from config. */
  declare readonly generatedPassword: pulumi.Output<string | undefined>;

  constructor(email: string, args: MailUserArgs, opts?: pulumi.CustomResourceOptions) {
    // Only the keys this user has: the SDK keeps an Output and four promises for every key, which
    // at thousands of rows is most of the program's memory.
    // `login` only when false, `quota` only when set: left out, each is its column's default, and
    // a state written before the column existed is unchanged.
    const row = {
      email,
      realname: args.realname,
      maildir: args.maildir,
      scheme: args.scheme,
      stack: writtenBy(),
      ...(args.login ? {} : { login: false }),
      ...(args.receive ? {} : { receive: false }),
      ...(args.quota === null ? {} : { quota: args.quota }),
      ...(args.sendAs.length === 0 ? {} : { send_as: args.sendAs.join(",") }),
      ...(args.generateVersion === undefined ? {} : { generateVersion: args.generateVersion }),
    };
    const props: Record<string, unknown> = { row: wireValue(row), target: wireValue(args.target) };
    if (args.passwordHash !== undefined) props.passwordHash = pulumi.secret(args.passwordHash);
    if (args.password !== undefined) props.password = pulumi.secret(args.password);
    if (args.generateVersion !== undefined) {
      props.generatedPassword = undefined; // an output, read by MailAccounts
    }
    super("MailUser", email, props, {
      ...opts,
      additionalSecretOutputs: [
        "generatedPassword",
        "storedHash",
        "writtenHash",
        "password",
        "passwordHash",
      ],
    });
  }
}
