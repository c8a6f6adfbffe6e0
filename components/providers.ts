// Every dynamic provider vmail has, by name: what providerShim loads in the provider process.

import type * as pulumi from "@pulumi/pulumi";
import { aliasProvider, domainProvider, userProvider } from "./rowProvider";
import { mailTablesProvider, pgReloadProvider } from "./schemaProvider";
import { serverFileProvider } from "./serverFile";

export const PROVIDERS = {
  domain: domainProvider,
  alias: aliasProvider,
  user: userProvider,
  serverFile: serverFileProvider,
  mailTables: mailTablesProvider,
  pgReload: pgReloadProvider,
} satisfies Record<string, pulumi.dynamic.ResourceProvider>;

export type ProviderName = keyof typeof PROVIDERS;
