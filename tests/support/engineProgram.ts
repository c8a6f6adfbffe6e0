// The part of vmail built on vmail's own providers (tables and pg_hba lines, one row per
// domain/user/alias, the Postfix map files, root's .forward), read from the stack config exactly
// as index.ts reads it. The engine suite (tests/e2e/engine.test.ts) and the benchmark run it
// without the command, random and postgresql plugins: the harness does their work instead with
// the same scripts and statements, and hands over what they would output (gid, reader password).
// tests/e2e/program.test.ts runs the whole program, plugins included.

import * as pulumi from "@pulumi/pulumi";
import type * as auto from "@pulumi/pulumi/automation";
import { VIRTUAL_TRANSPORT } from "../../core/dovecotDelivery";
import { MailAccounts } from "../../components/mailAccounts";
import { MailSchema } from "../../components/mailSchema";
import { PostfixMaps } from "../../components/postfixMaps";
import { RootForward } from "../../components/rootForward";
import { Server } from "../../resources/server";
import { readStackConfig } from "../../program/stackConfig";
import { dbIdentity } from "../../core/target";

export interface HarnessOutputs {
  /** What MailOwner reads back from the server. */
  gid: number;
  /** What MailDatabase's RandomPassword makes. */
  readerPassword: pulumi.Input<string>;
}

export function engineProgram(harness: HarnessOutputs): auto.PulumiFn {
  return () => {
    const { spec, sshPrivateKey } = readStackConfig();
    const server = new Server(spec.own.server, sshPrivateKey);
    const schema = new MailSchema("mail-database-schema", {
      server,
      settings: spec.database,
      clients: [],
    });
    const accounts = new MailAccounts("mail-accounts", {
      target: dbIdentity(spec.database),
      domains: spec.domains,
      suspendedDomains: spec.suspendedDomains,
      aliasDomains: spec.aliasDomains,
      users: spec.users,
      aliases: spec.aliases,
      gid: harness.gid,
      // No Dovecot here: Postfix delivers as the articles do.
      transport: VIRTUAL_TRANSPORT,
      domainsAfter: [],
      after: schema.ready,
    });
    new PostfixMaps("mail-postfix-maps", {
      server,
      mapsDir: spec.own.postfix.mapsDir,
      database: spec.database,
      databaseHosts: spec.own.databaseHosts,
      readerPassword: pulumi.secret(harness.readerPassword),
      after: schema.ready,
    });
    if (spec.own.rootForward.length > 0) {
      new RootForward("mail-root-forward", {
        server,
        targets: spec.own.rootForward,
        path: spec.own.rootForwardFile,
      });
    }
    return Promise.resolve({ generatedPasswords: accounts.generatedPasswords });
  };
}
