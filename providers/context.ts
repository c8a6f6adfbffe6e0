// What every dynamic provider needs from the stack config: how to reach the server and the
// database. Read in `configure`, so no credential is ever stored in a resource's state.

import type * as pulumi from "@pulumi/pulumi";
import { DEFAULTS, NAMESPACE, parseConnectionSettings } from "../core/config";
import type { DbIdentity, ServerIdentity } from "../core/target";
import { isRetired } from "../core/retiredTargets";
import type { DbTarget } from "./db";
import type { ShellTarget } from "./shell";

export interface ProviderContext {
  shell: ShellTarget;
  db: DbTarget;
  /** Databases and servers the operator gave up on (core/retiredTargets.ts). */
  retiredTargets?: string[];
  /**
   * Each server's maildirs (the stack's own first): a user's maildir moves on every one when its
   * path changes. None given: the stack's own server, at the default mailbox base.
   */
  maildirs?: MaildirsAt[];
}

/** Where one server keeps the maildirs, and how vmail reaches it. */
export interface MaildirsAt {
  shell: ShellTarget;
  mailboxBase: string;
}

export function contextFromConfig(config: pulumi.dynamic.Config): ProviderContext {
  const get = (key: string) => config.get(`${NAMESPACE}:${key}`);
  const { database, server, retiredTargets, maildirHosts } = parseConnectionSettings({
    get,
    isSecret: () => true,
  });
  const privateKey = get("sshPrivateKey");
  return {
    shell: { access: server, privateKey },
    db: { settings: database, adminPassword: get("pgAdminPassword") ?? "" },
    retiredTargets,
    maildirs: maildirHosts.map((h) => ({
      shell: { access: h.server, privateKey },
      mailboxBase: h.mailboxBase,
    })),
  };
}

/**
 * Holds the context the providers were configured with. The engine calls `configure` on each
 * provider before any other method, always with the same stack config, so they share one.
 */
export class ContextHolder {
  private ctx?: ProviderContext;

  set(config: pulumi.dynamic.Config): void {
    this.ctx = contextFromConfig(config);
  }

  /** For tests and tools that drive a provider directly. */
  use(ctx: ProviderContext): void {
    this.ctx = ctx;
  }

  get(): ProviderContext {
    if (!this.ctx) throw new Error("vmail: provider used before configure()");
    return this.ctx;
  }

  /**
   * The database a row records (its old one, on a delete after a move), reached with the
   * stack's admin credentials; the configured database when the state predates targets.
   */
  dbAt(target: DbIdentity | undefined): DbTarget {
    const db = this.get().db;
    if (!target) return db;
    const settings = {
      ...db.settings,
      host: target.host,
      port: target.port,
      name: target.database,
    };
    return { ...db, settings };
  }

  /**
   * Whether the database or server a resource records is one the operator retired: vmail then
   * leaves what is there as it is and does not try to reach it. A state without a target is
   * at the configured one, which cannot be retired.
   */
  retired(target: DbIdentity | ServerIdentity | undefined): boolean {
    return target !== undefined && isRetired(this.get().retiredTargets ?? [], target);
  }

  /** Every server's maildirs, the stack's own first. */
  maildirs(): MaildirsAt[] {
    const ctx = this.get();
    return ctx.maildirs ?? [{ shell: ctx.shell, mailboxBase: DEFAULTS.mailboxBase }];
  }

  /** The server a file records, reached with the stack's SSH key; the configured one if none. */
  shellAt(server: ServerIdentity | undefined): ShellTarget {
    const shell = this.get().shell;
    return server ? { ...shell, access: server } : shell;
  }
}

/** The one context every vmail provider in this process reads. */
export const providerContext = new ContextHolder();
