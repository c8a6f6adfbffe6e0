// Pulumi's unit-test mocks, recording every resource the program registers with its parent,
// its dependencies and its (unresolved) inputs, so tests can look at the graph as the engine would.

import * as pulumi from "@pulumi/pulumi";
import type { MailServer } from "../../components/mailServer";
import type { MailSpec } from "../../core/config";

export interface Recorded {
  type: string;
  name: string;
  resource: pulumi.Resource;
  /** A component (it stands for its children) rather than a resource a provider serves. */
  component: boolean;
  parent?: pulumi.Resource;
  dependsOn: pulumi.Resource[];
  /** The `protect` option it was registered with. */
  protect: boolean;
  /** The `aliases` option it was registered with (a rename's old name). */
  aliases?: unknown[];
  props: Record<string, unknown>;
}

export const MOCK_UID = 1002;
export const MOCK_GID = 1003;

export class MockEngine {
  readonly recorded: Recorded[] = [];

  async install(stack = "dev"): Promise<void> {
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          const inputs = args.inputs as Record<string, unknown>;
          return {
            id: `${args.name}-id`,
            state: { ...inputs, ...mockOutputs(args.type, args.name) },
          };
        },
        call: () => ({}),
      },
      "vmail",
      stack,
      false,
    );
  }

  /**
   * vmail's MailServer for `spec`, registered under these mocks (install them first) with every
   * resource recorded; resolves once its rows are registered. The component is loaded only now:
   * Pulumi's mocks must be in place before it is.
   */
  async registerMailServer(spec: MailSpec): Promise<MailServer> {
    const { MailServer } = await import("../../components/mailServer");
    const server = new MailServer(
      "mail",
      { spec, adminPassword: pulumi.secret("admin-pw") },
      { transformations: [this.record] },
    );
    await valueOf(server.generatedPasswords);
    return server;
  }

  /** A resource transformation that records each resource under the component it is given to. */
  readonly record: pulumi.ResourceTransformation = (args) => {
    const dependsOn = args.opts.dependsOn;
    const recorded: Recorded = {
      type: args.type,
      name: args.name,
      resource: args.resource,
      component: args.resource instanceof pulumi.ComponentResource,
      parent: args.opts.parent,
      dependsOn: [],
      protect: (args.opts as pulumi.CustomResourceOptions).protect ?? false,
      aliases: args.opts.aliases,
      props: args.props,
    };
    this.recorded.push(recorded);
    // A promise of the list (every row, say) is filled in once it resolves, as the SDK waits for
    // it before registering: by the time a test looks, the rows are registered.
    void Promise.resolve(dependsOn).then((list) => {
      const items = (Array.isArray(list) ? list : list ? [list] : []) as unknown[];
      return Promise.all(items).then((resolved) => {
        recorded.dependsOn.push(...(resolved as pulumi.Resource[]));
      });
    });
    return undefined;
  };

  find(type: string, name: string): Recorded {
    const found = this.recorded.find((r) => r.type === type && r.name === name);
    if (!found) throw new Error(`no ${type} named ${name}; have ${this.names().join(", ")}`);
    return found;
  }

  /**
   * Whether `waiter` waits for `other` in a run: through its dependsOn and theirs in turn (a
   * milestone stands for a group), where depending on a component waits for all under it.
   */
  waitsFor(waiter: Recorded, other: pulumi.Resource): boolean {
    const seen = new Set<pulumi.Resource>();
    const queue = [...waiter.dependsOn];
    while (queue.length > 0) {
      const d = queue.pop() as pulumi.Resource;
      if (seen.has(d)) continue;
      seen.add(d);
      if (this.isUnder(other, d)) return true;
      queue.push(...(this.recorded.find((r) => r.resource === d)?.dependsOn ?? []));
    }
    return false;
  }

  /** `r` is `component` itself or a resource under it. */
  isUnder(r: pulumi.Resource, component: pulumi.Resource): boolean {
    if (r === component) return true;
    const parent = this.recorded.find((x) => x.resource === r)?.parent;
    return parent ? this.isUnder(parent, component) : false;
  }

  nameOf(resource: pulumi.Resource | undefined): string | undefined {
    return this.recorded.find((r) => r.resource === resource)?.name;
  }

  names(): string[] {
    return this.recorded.map((r) => `${r.type}::${r.name}`);
  }
}

/** What the mocks answer for a resource besides its inputs: what vmail reads of it. */
export function mockOutputs(type: string, name: string): Record<string, unknown> {
  // Each server's commands (this machine's or over SSH), the stack's own and vmail:servers'.
  const command = /^command:(local|remote):Command$/.test(type);
  if (command && name.endsWith("-owner-account")) {
    return { stdout: `${MOCK_UID} ${MOCK_GID}\n` };
  }
  if (command && name.endsWith("-dovecot-delivery-postfix-queue")) {
    return { stdout: "/var/spool/postfix\npostfix\n" };
  }
  if (type === "random:index/randomPassword:RandomPassword") return { result: `pw-of-${name}` };
  if (type === "vmail:index:ServerFile")
    return { sha256: `sha-of-${name}`, written: `written-${name}` };
  if (type === "vmail:index:MailUser") return { generatedPassword: `generated-${name}` };
  return {};
}

/** Resolves an Output (or plain value) in the mock engine. */
export function valueOf<T>(input: pulumi.Input<T>): Promise<T> {
  return new Promise((resolve) => pulumi.output(input).apply((v) => resolve(v as T)));
}

export function isSecretInput(input: unknown): Promise<boolean> {
  return pulumi.Output.isInstance(input) ? pulumi.isSecret(input) : Promise.resolve(false);
}
