// One resource per row, named by its address, so a preview reads as a list of mail changes:
//   + pulumi-nodejs:dynamic/vmail:MailUser  bob@example.com

import * as pulumi from "@pulumi/pulumi";
import type { HashScheme } from "./passwords";
import { providerShim } from "./providerShim";

export interface MailDomainArgs {
  gid: pulumi.Input<number>;
  transport?: pulumi.Input<string>;
}

/** A transports row: mail for the domain is delivered by virtual(8) as the mail owner's group. */
export class MailDomain extends pulumi.dynamic.Resource {
  declare readonly domain: pulumi.Output<string>;

  constructor(domain: string, args: MailDomainArgs, opts?: pulumi.CustomResourceOptions) {
    const props = { domain, gid: args.gid, transport: args.transport ?? "virtual:" };
    super(providerShim("domain"), domain, props, opts, "vmail", "MailDomain");
  }
}

export interface MailAliasArgs {
  targets: string[];
}

/** An aliases row; `@domain` is the domain's catch-all. */
export class MailAlias extends pulumi.dynamic.Resource {
  declare readonly email: pulumi.Output<string>;

  constructor(alias: string, args: MailAliasArgs, opts?: pulumi.CustomResourceOptions) {
    const props = { alias, email: args.targets.join(", ") };
    super(providerShim("alias"), alias, props, opts, "vmail", "MailAlias");
  }
}

export interface MailUserArgs {
  realname: string | null;
  maildir: string;
  scheme: HashScheme;
  /** Exactly one of these three: a doveadm hash, a clear-text secret, or a generation number. */
  passwordHash?: pulumi.Input<string>;
  password?: pulumi.Input<string>;
  generateVersion?: number;
}

/** A users row. The password is stored as a Dovecot hash; the clear text never reaches the table. */
export class MailUser extends pulumi.dynamic.Resource {
  /** The password vmail generated (secret); undefined when the password came from config. */
  declare readonly generatedPassword: pulumi.Output<string | undefined>;
  declare readonly storedHash: pulumi.Output<string>;

  constructor(email: string, args: MailUserArgs, opts?: pulumi.CustomResourceOptions) {
    const props = {
      email,
      realname: args.realname,
      maildir: args.maildir,
      scheme: args.scheme,
      passwordHash: args.passwordHash === undefined ? undefined : pulumi.secret(args.passwordHash),
      password: args.password === undefined ? undefined : pulumi.secret(args.password),
      generateVersion: args.generateVersion,
      generatedPassword: undefined,
      storedHash: undefined,
      writtenHash: undefined,
    };
    super(
      providerShim("user"),
      email,
      props,
      {
        ...opts,
        additionalSecretOutputs: [
          "generatedPassword",
          "storedHash",
          "writtenHash",
          "password",
          "passwordHash",
        ],
      },
      "vmail",
      "MailUser",
    );
  }
}
