// Reloads Dovecot after vmail wrote its files, once `doveconf -n` accepts the configuration.
// At preview, a server without Dovecot (or without its config where the stack says) is refused
// before anything changes.

import type * as pulumi from "@pulumi/pulumi";
import type { DovecotReloadInputs } from "../resources/dovecotReload";
import { dovecotPaths, dovecotPresenceScript, dovecotReloadScript } from "../spec/dovecotConfig";
import { providerContext as context } from "./context";
import { mustRunOnServer } from "./shell";

async function reload(inputs: DovecotReloadInputs): Promise<DovecotReloadInputs> {
  await mustRunOnServer(
    context.shellAt(inputs.server),
    `checking and reloading Dovecot (${dovecotPaths(inputs.configDir).main})`,
    dovecotReloadScript(inputs.configDir),
  );
  return inputs;
}

export const dovecotReloadProvider: pulumi.dynamic.ResourceProvider = {
  configure: (req) => Promise.resolve(context.set(req.config)),
  async check(_olds, news: DovecotReloadInputs) {
    if (typeof news.configDir !== "string" || typeof news.server !== "object") {
      return { inputs: news };
    }
    // A server the preview cannot reach passes here; the reload's own doveconf fails loudly.
    const found = await mustRunOnServer(
      context.shellAt(news.server),
      `looking for Dovecot in ${news.configDir}`,
      dovecotPresenceScript(news.configDir),
    ).catch(() => "ok");
    if (found.trim() === "ok") return { inputs: news };
    const reason =
      `the server has ${found.trim()} (vmail:dovecotConfigDir is ${news.configDir}): install ` +
      "Dovecot (dovecot-core, dovecot-pgsql, dovecot-imapd) or set vmail:dovecot to false";
    return { inputs: news, failures: [{ property: "configDir", reason }] };
  },
  async create(inputs: DovecotReloadInputs) {
    return { id: inputs.configDir, outs: await reload(inputs) };
  },
  // Its own inputs only: the state also holds the serialized provider, which is not a change.
  diff: (_id, olds: DovecotReloadInputs, news: DovecotReloadInputs) => {
    const fields = ({ server, configDir, trigger }: DovecotReloadInputs) =>
      JSON.stringify([server, configDir, trigger]);
    return Promise.resolve({ changes: fields(olds) !== fields(news) });
  },
  async update(_id, _olds, news: DovecotReloadInputs) {
    return { outs: await reload(news) };
  },
  read: (id: string, props: DovecotReloadInputs) => Promise.resolve({ id, props }),
  // Destroy runs this before the files are removed, so a reload here would be early.
  delete: () => Promise.resolve(),
};
