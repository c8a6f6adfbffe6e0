// vmail: converge one mail server's virtual mail accounts from this stack's config.
import "./program/fastStackTraces";
import * as pulumi from "@pulumi/pulumi";
import { readStackConfig } from "./program/stackConfig";
import { MailServer } from "./components/mailServer";

const { spec, adminPassword, sshPrivateKey } = readStackConfig();
const mail = new MailServer("mail", { spec, adminPassword, sshPrivateKey });

export const mailUid = mail.uid;
export const mailGid = mail.gid;
export const readerPassword = mail.readerPassword;
export const ownerPassword = mail.ownerPassword;
export const dovecotPassword = mail.dovecotPassword;
/** Generated mail passwords by address: `pulumi stack output --show-secrets generatedPasswords`. */
export const generatedPasswords = mail.generatedPasswords;
export const domains = pulumi.output(spec.domains);
