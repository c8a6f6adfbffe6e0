// How mail reaches the maildirs when vmail sets Dovecot up: Postfix hands it to Dovecot's LMTP
// (each domain's transports row says so), so Dovecot's quota plugin sees every message, and
// Postfix asks Dovecot's quota-status service at RCPT time, so mail to a full mailbox is refused
// there (552 5.2.2) instead of bounced later. Both sockets are in Postfix's queue directory, where
// its chrooted smtpd and lmtp reach them by the relative paths below. Pure.

import { shellQuote } from "./scripts";
import { SASL_SOCKET } from "./submission";

/** Relative to Postfix's queue directory, as Postfix names them. */
export const LMTP_SOCKET = "private/dovecot-lmtp";
export const QUOTA_STATUS_SOCKET = "private/vmail-quota-status";

/** The transports rows' transport when Dovecot delivers; virtual(8) without Dovecot. */
export const LMTP_TRANSPORT = `lmtp:unix:${LMTP_SOCKET}`;
export const VIRTUAL_TRANSPORT = "virtual:";

/** The restriction that asks quota-status about each recipient (smtpd_recipient_restrictions). */
export const QUOTA_STATUS_CHECK = `check_policy_service unix:${QUOTA_STATUS_SOCKET}`;

/** What a sender of mail to a full mailbox is told at RCPT time. */
export const OVER_QUOTA_REPLY = "552 5.2.2 Mailbox is full";

/** Prints Postfix's queue directory and its mail owner, one per line (see parsePostfixQueue). */
export function postfixQueueScript(postfixConfigDir: string): string {
  return `postconf -c ${shellQuote(postfixConfigDir)} -h queue_directory mail_owner`;
}

export interface PostfixQueue {
  /** Where Postfix's private sockets are: Dovecot's listeners go in its private/. */
  dir: string;
  /** The user Postfix's daemons run as: it owns the listeners. */
  owner: string;
}

export function parsePostfixQueue(stdout: string): PostfixQueue {
  const [dir, owner] = stdout.trim().split("\n");
  if (!dir?.startsWith("/") || !owner || !/^[a-z_][a-z0-9_-]*$/.test(owner.trim())) {
    throw new Error(`vmail: unexpected postconf answer for queue_directory, mail_owner: ${stdout}`);
  }
  return { dir: dir.trim(), owner: owner.trim() };
}

/** A unix_listener Postfix's daemons may use, and nobody else. */
function listener(queue: PostfixQueue, socket: string): string[] {
  return [
    `  unix_listener ${queue.dir}/${socket} {`,
    "    mode = 0600",
    `    user = ${queue.owner}`,
    `    group = ${queue.owner}`,
    "  }",
  ];
}

/**
 * conf.d/95-vmail-delivery.conf: the quota plugin (the `count` backend, which needs the mailbox
 * list index and virtual sizes), IMAP's quota commands, and the LMTP and quota-status listeners,
 * and with `sasl` the auth listener the submission service logs users in through.
 * A user's limit is the quota_rule of the user query (core/dovecotConfig.ts); a user without one
 * has no limit.
 */
export function renderDeliveryConf(queue: PostfixQueue, sasl = false): string {
  return [
    "# Written by vmail (Pulumi). Edits here are overwritten by the next `pulumi up`.",
    "# Postfix delivers to the mail users over LMTP, so that Dovecot enforces their quotas.",
    "mail_plugins = $mail_plugins quota",
    "mailbox_list_index = yes",
    "protocol imap {",
    "  mail_plugins = $mail_plugins imap_quota",
    "}",
    "plugin {",
    "  quota = count:User quota",
    "  quota_vsizes = yes",
    // A recipient that is not a mail user (an alias, a system user) is for Postfix to judge.
    "  quota_status_success = DUNNO",
    "  quota_status_nouser = DUNNO",
    `  quota_status_overquota = "${OVER_QUOTA_REPLY}"`,
    "}",
    "service lmtp {",
    ...listener(queue, LMTP_SOCKET),
    "}",
    "service quota-status {",
    "  executable = quota-status -p postfix",
    ...listener(queue, QUOTA_STATUS_SOCKET),
    "  client_limit = 1",
    "}",
    // The submission service's logins (core/submission.ts), checked by Dovecot's passdb.
    ...(sasl ? ["service auth {", ...listener(queue, SASL_SOCKET), "}"] : []),
    "",
  ].join("\n");
}
