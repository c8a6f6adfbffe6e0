// A file (or a marked block inside a shared file) on the mail server, as a resource with `read`,
// so `pulumi refresh` sees a file deleted or edited behind vmail's back and `up` puts it back.
// Content reaches the server on stdin; state keeps only its sha256, never the text.

import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import type { ServerFileInputs } from "../core/providerInputs";
import { blockBody, withBlock, withoutBlock, type BlockSpec } from "../core/managedBlock";
import { providerContext as context } from "./context";
import {
  deleteFileScript,
  editSharedFileScript,
  parseFileState,
  readFileScript,
  writeFileScript,
  type FileOwnership,
  type FileState,
} from "../core/scripts";
import { mustRunOnServer, mustRunOnServerForBytes, runOnServer, type ShellTarget } from "./shell";
import { targetMoved, type ServerIdentity } from "../core/target";

interface ServerFileOutputs {
  server?: ServerIdentity;
  path: string;
  ownership?: FileOwnership;
  block?: BlockSpec;
  sha256: string;
  /**
   * When vmail last wrote the file. It changes on every write, a repair of drift included (whose
   * sha256 is the same as before), so what reloads after the file (Postfix, PostgreSQL) runs.
   */
  written: string;
}

/**
 * A file on the server is handled as bytes: read as latin1 (one character per byte, whatever the
 * encoding) and written back the same way, so a shared file with, say, a Latin-1 comment keeps
 * its bytes and its hash. vmail's own text is UTF-8 and is turned into those bytes first.
 */
const asBytes = (fileText: string) => Buffer.from(fileText, "latin1");
const fromUtf8 = (text: string) => Buffer.from(text, "utf8").toString("latin1");
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const sha256OfContent = (content: string) => sha256(Buffer.from(content, "utf8"));

let writes = 0;
/** Unique per write, even for two writes in the same millisecond. */
const writeStamp = () => `${new Date().toISOString()}#${process.pid}.${++writes}`;

async function readState(shell: ShellTarget, path: string): Promise<FileState> {
  const bytes = await mustRunOnServerForBytes(shell, `reading ${path}`, readFileScript(path));
  return parseFileState(bytes.toString("latin1"));
}

async function write(shell: ShellTarget, inputs: ServerFileInputs): Promise<ServerFileOutputs> {
  const { path, block, ownership } = inputs;
  // Only a write that breaks a configuration that passed is taken back: one that failed already
  // may be failing for want of this very file (its include, deleted first by a replacement).
  const verify = inputs.verify && (await passes(shell, inputs.verify)) ? inputs.verify : undefined;
  // Read first when the write may have to be taken back: a block needs the text around it anyway.
  const before = block || verify ? await readState(shell, path) : undefined;
  if (block && before) {
    const text = withBlock(before.content ?? "", block, fromUtf8(inputs.content));
    await editShared(shell, path, before, text, {
      mustExist: block.mustExist ?? false,
      rootsOnly: block.rootsOnly,
    });
  } else {
    if (!ownership) throw new Error(`vmail: ${path}: a whole file needs its ownership`);
    await mustRunOnServer(
      shell,
      `writing ${path}`,
      writeFileScript(path, ownership),
      inputs.content,
    );
  }
  if (verify && before) await verifyOrPutBack(shell, path, verify, before);
  const outs = {
    path,
    ownership,
    block,
    sha256: sha256OfContent(inputs.content),
    written: writeStamp(),
  };
  return { server: inputs.server, ...outs };
}

const passes = async (shell: ShellTarget, check: string) =>
  (await runOnServer(shell, check)).code === 0;

/**
 * Runs the file's check; when it fails, puts back the bytes and mode the file had (or removes
 * it, if it was not there), then refuses with the check's own message. The state keeps the
 * file's last good write, and the server the configuration it had.
 */
async function verifyOrPutBack(
  shell: ShellTarget,
  path: string,
  verify: string,
  before: FileState,
): Promise<void> {
  const checked = await runOnServer(shell, verify);
  if (checked.code === 0) return;
  if (!before.present) {
    await mustRunOnServer(shell, `removing ${path} again`, deleteFileScript(path));
  } else {
    const own = {
      mode: before.mode ?? "0644",
      owner: before.owner ?? "",
      group: before.group ?? "",
    };
    await mustRunOnServer(
      shell,
      `putting ${path} back`,
      writeFileScript(path, own),
      asBytes(before.content ?? ""),
    );
  }
  throw new Error(
    `vmail: ${path}: the server's check refused the configuration with vmail's new content (${(checked.stderr || checked.stdout).trim()}); the file is back as it was before this write`,
  );
}

export const serverFileProvider: pulumi.dynamic.ResourceProvider = {
  configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
    context.set(req.config);
    return Promise.resolve();
  },

  async create(inputs: ServerFileInputs): Promise<pulumi.dynamic.CreateResult> {
    return { id: inputs.path, outs: await write(context.shellAt(inputs.server), inputs) };
  },

  diff(_id: string, olds: ServerFileOutputs, news: ServerFileInputs) {
    const moved = targetMoved(olds.server, news.server);
    const replaces = [...(olds.path !== news.path ? ["path"] : []), ...(moved ? ["server"] : [])];
    const changed =
      replaces.length > 0 ||
      olds.server === undefined ||
      olds.sha256 !== sha256OfContent(news.content) ||
      JSON.stringify(olds.ownership ?? null) !== JSON.stringify(news.ownership ?? null) ||
      JSON.stringify(olds.block ?? null) !== JSON.stringify(news.block ?? null);
    // A file at a new path is written before the old one is removed. One on another server is
    // removed first: "another" server may be this one reached another way, where writing first
    // and removing second would leave no file at all.
    return Promise.resolve({ changes: changed, replaces, deleteBeforeReplace: moved });
  },

  async update(
    _id: string,
    olds: ServerFileOutputs,
    news: ServerFileInputs,
  ): Promise<pulumi.dynamic.UpdateResult> {
    const shell = context.shellAt(news.server);
    if (olds.block && news.block && olds.block.marker !== news.block.marker) {
      await removeFrom(shell, olds);
    }
    return { outs: await write(shell, news) };
  },

  async read(id: string, props: ServerFileOutputs): Promise<pulumi.dynamic.ReadResult> {
    if (context.retired(props.server)) return { id, props };
    const current = await readState(context.shellAt(props.server), props.path);
    if (!current.present) return { id: "", props: {} };
    if (props.block) {
      const body = blockBody(current.content ?? "", props.block.marker);
      if (body === undefined) return { id: "", props: {} };
      return { id, props: { ...props, sha256: sha256(asBytes(body)) } };
    }
    const ownership = {
      mode: current.mode ?? "",
      owner: current.owner ?? "",
      group: current.group ?? "",
    };
    return { id, props: { ...props, ownership, sha256: sha256(asBytes(current.content ?? "")) } };
  },

  async delete(_id: string, props: ServerFileOutputs): Promise<void> {
    if (context.retired(props.server)) return; // left as it is, on a server vmail gave up on
    await removeFrom(context.shellAt(props.server), props);
  },
};

async function removeFrom(shell: ShellTarget, props: ServerFileOutputs): Promise<void> {
  if (!props.block) {
    await mustRunOnServer(shell, `removing ${props.path}`, deleteFileScript(props.path));
    return;
  }
  const current = await readState(shell, props.path);
  if (!current.present) return;
  const text = withoutBlock(current.content ?? "", props.block.marker);
  await editShared(shell, props.path, current, text, {
    mustExist: true,
    rootsOnly: props.block.rootsOnly,
  });
}

/** Writes `text` over a shared file, provided it is still `read` (see editSharedFileScript). */
async function editShared(
  shell: ShellTarget,
  path: string,
  read: FileState,
  text: string,
  opts: { mustExist: boolean; rootsOnly?: boolean },
): Promise<void> {
  const readSha = read.present ? sha256(asBytes(read.content ?? "")) : "absent";
  const script = editSharedFileScript(path, readSha, opts);
  await mustRunOnServer(shell, `writing ${path}`, script, asBytes(text));
}
