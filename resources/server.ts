// The one place that knows how the mail server is reached (this machine, or SSH with a pinned
// host key) and turns it into resources: @pulumi/command commands and ServerFile files.

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { ServerAccess } from "../core/config";
import type { ServerIdentity } from "../core/target";
import { ServerFile, type ServerFileArgs } from "./serverFile";

export interface CommandArgs {
  /** Runs on create and on every input change (scripts are written to be re-run). */
  script: pulumi.Input<string>;
  /** Runs on destroy; nothing runs when omitted. */
  deleteScript?: pulumi.Input<string>;
  /** Given to the script on stdin, where a secret may go. */
  stdin?: pulumi.Input<string>;
  /** Re-run the script when one of these changes. */
  triggers?: pulumi.Input<unknown>[];
  /** Print the script's stdout and stderr in the engine's log (only when neither can hold a secret). */
  logOutput?: boolean;
}

export class Server {
  constructor(
    private readonly access: ServerAccess,
    private readonly privateKey: pulumi.Output<string> | undefined,
  ) {}

  /** Which server this is (nothing secret): recorded by each file and setting vmail puts on it. */
  get identity(): ServerIdentity {
    return this.access;
  }

  /** A script run with `sh -eu`: locally, or through SSH with the pinned host key. */
  command(
    name: string,
    args: CommandArgs,
    opts: pulumi.CustomResourceOptions,
  ): command.local.Command | command.remote.Command {
    const script = pulumi.output(args.script).apply((s) => `set -eu\n${s}`);
    const common = {
      create: script,
      // The same script on update: a changed input re-runs it in place, never a delete + create.
      update: script,
      delete: args.deleteScript
        ? pulumi.output(args.deleteScript).apply((s) => `set -eu\n${s}`)
        : undefined,
      stdin: args.stdin,
      triggers: args.triggers,
      logging: args.logOutput ? ("stdoutAndStderr" as const) : ("none" as const),
      addPreviousOutputInEnv: false,
    };
    if (this.access.kind === "local") {
      return new command.local.Command(name, { ...common, interpreter: ["/bin/sh", "-c"] }, opts);
    }
    const connection: command.types.input.remote.ConnectionArgs = {
      host: this.access.host,
      port: this.access.port,
      user: this.access.user,
      privateKey: this.privateKey,
      hostKey: this.access.hostKey,
    };
    return new command.remote.Command(name, { ...common, connection }, opts);
  }

  /** A file, or a marked block in a shared file, with drift detection on refresh. */
  file(
    name: string,
    args: Omit<ServerFileArgs, "server">,
    opts: pulumi.CustomResourceOptions,
  ): ServerFile {
    return new ServerFile(name, { ...args, server: this.access }, opts);
  }
}
