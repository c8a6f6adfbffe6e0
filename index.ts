// vmail: converge one mail server's virtual mail accounts from this stack's config.
import "./program/fastStackTraces";
import "./program/quietSdkDebug";
import * as pulumi from "@pulumi/pulumi";
import { readStackConfig } from "./program/stackConfig";
import { MailServer } from "./components/mailServer";

const { spec, adminPassword, sshPrivateKey } = readStackConfig();
const mail = new MailServer("mail", { spec, adminPassword, sshPrivateKey });

// The stack's outputs. A role that does not log in (the owner unless ownerLogin, Dovecot's when
// vmail:dovecot is false) has no password, and no output: an undefined one would be warned about
// on every run.
export = {
  mailUid: mail.uid,
  mailGid: mail.gid,
  readerPassword: mail.readerPassword,
  ...(mail.ownerPassword ? { ownerPassword: mail.ownerPassword } : {}),
  ...(mail.dovecotPassword ? { dovecotPassword: mail.dovecotPassword } : {}),
  /** Generated mail passwords by address: `pulumi stack output --show-secrets generatedPasswords`. */
  generatedPasswords: mail.generatedPasswords,
  domains: pulumi.output(spec.domains),
};
