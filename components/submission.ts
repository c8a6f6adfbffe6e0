// Mail users send mail: Postfix's submission service in master.cf, with the senders map PostfixMaps
// writes and Dovecot's SASL listener DovecotDelivery makes. It waits for both, so the service
// never names a map or a socket that is not there yet. A rewritten map reloads Postfix through
// main.cf's resource, which waits for every map file.

import * as pulumi from "@pulumi/pulumi";
import { PostfixService } from "../resources/postfixService";
import type { Server } from "../resources/server";
import type { PostfixSettings } from "../core/config";
import { mapFilePath } from "../core/postfixConfig";
import { submissionOptions, type SubmissionSettings } from "../core/submission";

export interface SubmissionArgs {
  readonly server: Server;
  readonly postfix: PostfixSettings;
  readonly submission: SubmissionSettings;
  /** What must be in place first: the map files and Dovecot's SASL listener. */
  readonly after: pulumi.Input<pulumi.Resource>[];
}

export class Submission extends pulumi.ComponentResource {
  constructor(name: string, args: SubmissionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:Submission", name, {}, opts);
    const { postfix, submission } = args;
    const senders = `${postfix.proxy ? "proxy:" : ""}pgsql:${mapFilePath(postfix.mapsDir, "senders")}`;
    new PostfixService(
      `${name}-service`,
      {
        server: args.server.identity,
        configDir: postfix.configDir,
        service: submission.listen,
        options: submissionOptions(submission, senders),
        certFile: submission.certFile,
        keyFile: submission.keyFile,
      },
      { parent: this, dependsOn: args.after },
    );
    this.registerOutputs({});
  }
}
