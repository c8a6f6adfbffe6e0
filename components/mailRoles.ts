// The mail database's roles: a read-only login role for Postfix (the reader), one for Dovecot,
// and the owner. A role that logs in gets a random password, held as a secret.

import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { DatabaseSettings } from "../core/config";
import type { DatabaseChildren } from "./databaseChildren";

/** Whose role it is: it names the role's resources. */
type RoleUser = "reader" | "owner" | "dovecot";

export interface MailRole {
  readonly role: postgresql.Role;
  /** Its password (a secret), when it logs in. */
  readonly password?: pulumi.Output<string>;
}

interface Login {
  readonly password: pulumi.Output<string>;
  readonly version: number;
}

/** Every role of the stack: the ones the checkpoint guard checks and a destroy drops. */
export function roleNames(s: DatabaseSettings): string[] {
  return [s.readerRole, s.ownerRole, ...(s.dovecotRole ? [s.dovecotRole] : [])];
}

export function readerRole(at: DatabaseChildren, s: DatabaseSettings): Required<MailRole> {
  return loginRole(at, "reader", s.readerRole, s.readerPasswordVersion, s.readerRole);
}

// vmail only SET ROLEs to the owner: it logs in (with a password) only when asked to.
export function ownerRole(at: DatabaseChildren, s: DatabaseSettings): MailRole {
  return s.ownerLogin
    ? loginRole(at, "owner", s.ownerRole, s.ownerPasswordVersion, s.ownerRole)
    : { role: role(at, "owner", s.ownerRole, undefined, s.ownerRole) };
}

export function dovecotRole(
  at: DatabaseChildren,
  roleName: string,
  version: number,
): Required<MailRole> {
  return loginRole(at, "dovecot", roleName, version);
}

/** A role with a password of its own; `formerly` is the role's resource name in earlier versions. */
function loginRole(
  at: DatabaseChildren,
  who: RoleUser,
  roleName: string,
  version: number,
  formerly?: string,
): Required<MailRole> {
  const password = rolePassword(at, who, roleName, version);
  return { role: role(at, who, roleName, { password, version }, formerly), password };
}

// Letters and digits only: safe in a Postfix .cf file, a libpq string and Dovecot's config.
function rolePassword(
  at: DatabaseChildren,
  who: RoleUser,
  roleName: string,
  version: number,
): pulumi.Output<string> {
  return pulumi.secret(
    new random.RandomPassword(
      `${at.name}-${who}-password`,
      { length: 32, special: false, keepers: { version: String(version) } },
      at.child(`${roleName}-password`),
    ).result,
  );
}

/**
 * A login's password is write-only: it reaches PostgreSQL, never the Role's state. Its version
 * is what makes the provider set it again (raised with the config's counter).
 */
function role(
  at: DatabaseChildren,
  who: RoleUser,
  roleName: string,
  login: Login | undefined,
  formerly?: string,
): postgresql.Role {
  return new postgresql.Role(
    `${at.name}-${who}`,
    {
      name: roleName,
      login: login !== undefined,
      ...(login ? { passwordWo: login.password, passwordWoVersion: String(login.version) } : {}),
    },
    at.pg(formerly),
  );
}
