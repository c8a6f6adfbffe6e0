// Postfix's main.cf settings as a resource with `read`, so `pulumi refresh` sees a setting changed
// behind vmail's back and `up` sets it again (and reloads Postfix). The work is done by the
// postconf scripts in scripts.ts; this file decides when they run.

import type * as pulumi from "@pulumi/pulumi";
import type { PostfixMainCfInputs } from "../core/providerInputs";
import { providerContext as context } from "./context";
import {
  domainsInMydestination,
  mydestinationScript,
  parsePostconfValues,
  postconfApplyScript,
  postconfReadScript,
  postconfRemoveScript,
  RECIPIENT_RESTRICTIONS,
  recipientChecksPresent,
} from "../core/mainCfScripts";
import { mustRunOnServer } from "./shell";
import { mainCfBackupFile } from "../core/postfixConfig";
import { targetMoved } from "../core/target";
import { mailboxBaseHoldsScript, mailboxBaseRefusal } from "../core/maildirMove";

async function apply(
  inputs: PostfixMainCfInputs,
  olds?: PostfixMainCfInputs,
): Promise<PostfixMainCfInputs> {
  await mustRunOnServer(
    context.shellAt(inputs.server),
    `setting main.cf in ${inputs.configDir}`,
    postconfApplyScript(inputs, {
      legacyBackupFile: legacyBackupFile(olds),
      dropProxiedMaps: olds?.proxiedMaps.filter((m) => !inputs.proxiedMaps.includes(m)),
      dropRecipientChecks: (olds?.recipientChecks ?? []).filter(
        (e) => !(inputs.recipientChecks ?? []).includes(e),
      ),
    }),
  );
  return inputs;
}

/** The backup a state written before it moved beside main.cf names (see PostconfCleanup). */
function legacyBackupFile(props?: PostfixMainCfInputs): string | undefined {
  if (!props) return undefined;
  const beside = mainCfBackupFile(props.configDir);
  return props.backupFile === beside ? undefined : props.backupFile;
}

/** Why a changed virtual_mailbox_base is refused (the old one still holds maildirs), if it is. */
async function strandedMail(
  olds: PostfixMainCfInputs | undefined,
  news: PostfixMainCfInputs,
): Promise<string | undefined> {
  const [from, to] = [olds?.settings?.[BASE], news.settings?.[BASE]];
  if (typeof from !== "string" || typeof to !== "string" || from === to) return undefined;
  if (targetMoved(olds?.server, news.server)) return undefined; // another server: its own maildirs
  const found = await mustRunOnServer(
    context.shellAt(news.server),
    `looking at ${from}`,
    mailboxBaseHoldsScript(from),
  ).catch(() => "empty");
  return mailboxBaseRefusal(found, from.replace(/\/+$/, ""), to.replace(/\/+$/, ""));
}

const BASE = "virtual_mailbox_base";

export const postfixMainCfProvider: pulumi.dynamic.ResourceProvider = {
  configure: (req) => Promise.resolve(context.set(req.config)),
  /**
   * At preview, before anything changes: a virtual domain Postfix also lists in mydestination
   * would be delivered to local(8), never to its mailboxes; a new mailbox base would strand the
   * mail still under the old one.
   */
  async check(olds: PostfixMainCfInputs | undefined, news: PostfixMainCfInputs) {
    if (typeof news.configDir !== "string" || !Array.isArray(news.domains)) return { inputs: news };
    const stranded = await strandedMail(olds, news);
    if (stranded) return { inputs: news, failures: [{ property: "settings", reason: stranded }] };
    // A server the preview cannot reach (a new one, a tunnel not open yet) is checked again by
    // the apply script, before main.cf changes.
    const expanded = await mustRunOnServer(
      context.shellAt(news.server),
      `reading mydestination in ${news.configDir}`,
      mydestinationScript(news.configDir),
    ).catch(() => undefined);
    if (expanded === undefined) return { inputs: news };
    const clashing = domainsInMydestination(expanded, news.domains);
    if (clashing.length === 0) return { inputs: news };
    const reason = `${clashing.join(", ")} ${clashing.length > 1 ? "are" : "is"} in Postfix's mydestination (${expanded.trim()}); a virtual mailbox domain must not be: take it out of mydestination`;
    return { inputs: news, failures: [{ property: "domains", reason }] };
  },
  async create(inputs: PostfixMainCfInputs) {
    return { id: inputs.configDir, outs: await apply(inputs) };
  },
  diff(_id, olds: PostfixMainCfInputs, news: PostfixMainCfInputs) {
    const same = (k: keyof PostfixMainCfInputs) =>
      JSON.stringify(olds[k] ?? null) === JSON.stringify(news[k] ?? null);
    const keys: (keyof PostfixMainCfInputs)[] = [
      "server",
      "configDir",
      "settings",
      "domains",
      "proxiedMaps",
      "recipientChecks",
      "backupFile",
      "reloadAfter",
    ];
    // Another Postfix instance: set the new one up before the old one is put back. Another
    // server: put the old one back first (it may be this one, reached another way).
    const moved = targetMoved(olds.server, news.server);
    const replaces = [...(same("configDir") ? [] : ["configDir"]), ...(moved ? ["server"] : [])];
    return Promise.resolve({ changes: !keys.every(same), replaces, deleteBeforeReplace: moved });
  },
  async update(_id, olds: PostfixMainCfInputs, news: PostfixMainCfInputs) {
    return { outs: await apply(news, olds) };
  },
  /** The settings as main.cf has them now; a changed one shows as a diff on the next `up`. */
  async read(id: string, props: PostfixMainCfInputs) {
    if (context.retired(props.server)) return { id, props };
    const names = Object.keys(props.settings);
    const stdout = await mustRunOnServer(
      context.shellAt(props.server),
      `reading main.cf in ${props.configDir}`,
      postconfReadScript(props.configDir, [...names, RECIPIENT_RESTRICTIONS]),
    );
    const settings = parsePostconfValues(stdout, names);
    // vmail's checks as smtpd_recipient_restrictions has them: one taken out shows as a change.
    const restrictions = parsePostconfValues(stdout, [RECIPIENT_RESTRICTIONS]);
    const checks = props.recipientChecks;
    const recipientChecks =
      checks && recipientChecksPresent(restrictions[RECIPIENT_RESTRICTIONS], checks);
    return { id, props: { ...props, settings, recipientChecks } };
  },
  async delete(_id, props: PostfixMainCfInputs) {
    if (context.retired(props.server)) return; // left as it is, on a server vmail gave up on
    await mustRunOnServer(
      context.shellAt(props.server),
      `restoring main.cf in ${props.configDir}`,
      postconfRemoveScript(
        { ...props, backupFile: mainCfBackupFile(props.configDir) },
        { legacyBackupFile: legacyBackupFile(props) },
      ),
    );
  },
};
