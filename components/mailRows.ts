// One resource per row, named by its address, so a preview reads as a list of mail changes:
//   + pulumi-nodejs:dynamic/vmail:MailUser  bob@example.com

import * as pulumi from "@pulumi/pulumi";
import type { AliasSpec, UserSpec } from "./config";
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

export interface MailAccountsArgs {
  domains: string[];
  users: UserSpec[];
  aliases: AliasSpec[];
  /** The mail owner's group: every domain is delivered as it. */
  gid: pulumi.Input<number>;
  /** The tables and grants the rows need first. */
  after: pulumi.Input<pulumi.Resource>[];
}

/** Every row of the spec: one MailDomain, MailUser or MailAlias per entry. */
export class MailAccounts extends pulumi.ComponentResource {
  readonly domains: MailDomain[];
  /** Generated mail passwords by address (secret), for the operator to hand over. */
  readonly generatedPasswords: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: MailAccountsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:MailAccounts", name, {}, opts);
    const rowOpts = { parent: this, dependsOn: args.after };
    this.domains = args.domains.map((d) => new MailDomain(d, { gid: args.gid }, rowOpts));
    const generated: { address: string; user: MailUser }[] = [];
    for (const u of args.users) {
      const user = new MailUser(
        u.address,
        {
          realname: u.realname,
          maildir: u.maildir,
          scheme: u.scheme,
          passwordHash: u.password.kind === "hash" ? u.password.hash : undefined,
          password: u.password.kind === "clear" ? pulumi.secret(u.password.clear) : undefined,
          generateVersion: u.password.kind === "generated" ? u.password.version : undefined,
        },
        rowOpts,
      );
      if (u.password.kind === "generated") generated.push({ address: u.address, user });
    }
    for (const a of args.aliases) new MailAlias(a.address, { targets: a.targets }, rowOpts);
    this.generatedPasswords = pulumi.secret(
      pulumi
        .all(generated.map((g) => g.user.generatedPassword))
        .apply((pws) => Object.fromEntries(generated.map((g, i) => [g.address, pws[i] ?? ""]))),
    );
    this.registerOutputs({});
  }
}
