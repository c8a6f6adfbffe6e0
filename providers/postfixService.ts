// A service in Postfix's master.cf that vmail keeps (the submission service): written with
// postconf -M, checked with `postfix check` (master.cf put back on failure), Postfix reloaded;
// read back on refresh, so an edit or a removal shows as drift and the next `up` puts it back;
// removed on destroy. An entry of the same name vmail did not write is refused, at preview too.

import type * as pulumi from "@pulumi/pulumi";
import type { PostfixServiceInputs, PostfixServiceOutputs } from "../core/providerInputs";
import {
  masterApplyScript,
  masterForeignRefusal,
  masterForeignScript,
  masterReadScript,
  masterRemoveScript,
  tlsFilesScript,
} from "../core/submission";
import { targetMoved } from "../core/target";
import { providerContext as context } from "./context";
import { mustRunOnServer } from "./shell";

const run = (i: PostfixServiceInputs, what: string, script: string) =>
  mustRunOnServer(context.shellAt(i.server), `${what} (master.cf in ${i.configDir})`, script);

async function apply(inputs: PostfixServiceInputs): Promise<PostfixServiceOutputs> {
  const written = (
    await run(inputs, `writing ${inputs.service}/inet`, masterApplyScript(inputs))
  ).trim();
  return { ...inputs, written, entry: written };
}

/** Why the server cannot take the service (a TLS file it cannot read, a foreign entry), if so. */
async function refusal(news: PostfixServiceInputs, creating: boolean): Promise<string | undefined> {
  const tls = (await run(news, "looking for the TLS files", tlsFilesScript(news))).trim();
  if (tls !== "ok") {
    return `the server has no readable ${tls.replace(/^missing /, "")}: the submission service needs vmail:tlsCertFile and vmail:tlsKeyFile there`;
  }
  if (!creating) return undefined;
  const found = await run(news, "looking at master.cf", masterForeignScript(news));
  return masterForeignRefusal(found, news);
}

export const postfixServiceProvider: pulumi.dynamic.ResourceProvider = {
  configure: (req) => Promise.resolve(context.set(req.config)),
  /** At preview: a server the preview cannot reach passes; the apply script refuses the same. */
  async check(olds: PostfixServiceInputs | undefined, news: PostfixServiceInputs) {
    if (typeof news.configDir !== "string" || typeof news.certFile !== "string") {
      return { inputs: news };
    }
    const creating = olds?.service !== news.service || olds.configDir !== news.configDir;
    const reason = await refusal(news, creating).catch(() => undefined);
    return {
      inputs: news,
      failures: reason ? [{ property: "service", reason: `vmail: ${reason}` }] : [],
    };
  },
  async create(inputs: PostfixServiceInputs) {
    return { id: `${inputs.service}/inet`, outs: await apply(inputs) };
  },
  diff(_id, olds: PostfixServiceOutputs, news: PostfixServiceInputs) {
    const keys: (keyof PostfixServiceInputs)[] = [
      "server",
      "configDir",
      "service",
      "options",
      "certFile",
      "keyFile",
    ];
    const changed = keys.some((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
    const renamed = olds.service !== news.service || olds.configDir !== news.configDir;
    // Another server: the old entry removed first (it may be this one, reached another way).
    // Another service name or Postfix: the new entry first, then the old one removed.
    const moved = targetMoved(olds.server, news.server);
    return Promise.resolve({
      changes: changed || olds.entry !== olds.written,
      replaces: renamed || moved ? ["service"] : [],
      deleteBeforeReplace: moved,
    });
  },
  async update(_id, _olds: PostfixServiceOutputs, news: PostfixServiceInputs) {
    return { outs: await apply(news) };
  },
  async read(id: string, props: PostfixServiceOutputs) {
    if (context.retired(props.server)) return { id, props };
    const entry = (await run(props, "reading the service", masterReadScript(props))).trim();
    return { id, props: { ...props, entry } };
  },
  async delete(_id, props: PostfixServiceOutputs) {
    if (context.retired(props.server)) return;
    await run(props, `removing ${props.service}/inet`, masterRemoveScript(props));
  },
};
