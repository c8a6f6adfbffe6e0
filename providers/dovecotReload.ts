// Dovecot's guard and reload, one provider for both (the guard is the one without a trigger).
// Both check, at every preview and every `up`, that the server's Dovecot can use vmail's files
// (installed, its config where the stack says, its pgsql driver there). The guard comes before
// the files, so a refusal stops the run before any is written; its create and update check
// again, strictly, so a server the preview could not reach is refused before anything changes
// too. The reload comes after the files: it checks again, then reloads once `doveconf -n`
// accepts the configuration, refusing a running Dovecot that was started with another config
// file (it would reload that one and load nothing of vmail's).

import type * as pulumi from "@pulumi/pulumi";
import type { DovecotGuardInputs, DovecotReloadInputs } from "../core/providerInputs";
import {
  dovecotPaths,
  dovecotPresenceScript,
  dovecotRefusal,
  dovecotReloadScript,
} from "../core/dovecotConfig";
import { providerContext as context } from "./context";
import { mustRunOnServer } from "./shell";

/** Why the server's Dovecot cannot take vmail's files, or undefined; throws when unreachable. */
async function refusal({ server, configDir }: DovecotGuardInputs): Promise<string | undefined> {
  const found = await mustRunOnServer(
    context.shellAt(server),
    `looking for Dovecot in ${configDir}`,
    dovecotPresenceScript(configDir),
  );
  return dovecotRefusal(found, configDir);
}

/** The guard's and the reload's create and update: the check, strict; then the reload, if one. */
async function apply(
  inputs: DovecotGuardInputs | DovecotReloadInputs,
): Promise<DovecotGuardInputs | DovecotReloadInputs> {
  const refused = await refusal(inputs);
  if (refused !== undefined) throw new Error(`vmail: ${refused}`);
  if ("trigger" in inputs) {
    await mustRunOnServer(
      context.shellAt(inputs.server),
      `checking and reloading Dovecot (${dovecotPaths(inputs.configDir).main})`,
      dovecotReloadScript(inputs.configDir),
    );
  }
  return inputs;
}

export const dovecotReloadProvider: pulumi.dynamic.ResourceProvider = {
  configure: (req) => Promise.resolve(context.set(req.config)),
  async check(_olds, news: DovecotGuardInputs) {
    if (typeof news.configDir !== "string" || typeof news.server !== "object") {
      return { inputs: news };
    }
    // A server the preview cannot reach (a new one, a tunnel not open yet) passes here; the
    // guard's create and the reload check again, strictly, before they go on.
    const reason = await refusal(news).catch(() => undefined);
    if (reason === undefined) return { inputs: news };
    return { inputs: news, failures: [{ property: "configDir", reason }] };
  },
  async create(inputs: DovecotGuardInputs) {
    return { id: inputs.configDir, outs: await apply(inputs) };
  },
  // Its own inputs only: the state also holds the serialized provider, which is not a change.
  diff: (_id, olds: DovecotReloadInputs, news: DovecotReloadInputs) => {
    const fields = ({ server, configDir, trigger }: DovecotReloadInputs) =>
      JSON.stringify([server, configDir, trigger]);
    return Promise.resolve({ changes: fields(olds) !== fields(news) });
  },
  async update(_id, _olds, news: DovecotGuardInputs) {
    return { outs: await apply(news) };
  },
  read: (id: string, props: DovecotGuardInputs) => Promise.resolve({ id, props }),
  // Destroy runs the reload's delete before the files are removed, so a reload here would be early.
  delete: () => Promise.resolve(),
};
