// vmail's provider plugin: the gRPC server the engine starts (plugin/pulumi-resource-vmail) for
// every `vmail:index:*` resource. It serves providers/index.ts's providers, which were dynamic
// providers before: a dynamic resource carries its provider's serialized code in its inputs and
// outputs, which at thousands of rows was half the state and much of the engine's work.
//
// It answers as the dynamic provider did (Configure takes no secrets, so the engine keeps their
// secretness itself; no preview of create or update), so a stack moves over with no change.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as emptyproto from "google-protobuf/google/protobuf/empty_pb";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import * as plugproto from "@pulumi/pulumi/proto/plugin_pb";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import type * as pulumi from "@pulumi/pulumi";
import { PROVIDERS } from "./index";
import { compactOutputs, expandState, fromWire, toWire, WIRE_TYPES } from "../core/rowWire";
import {
  PACKAGE,
  type ResourceType,
  resourceTypeOf,
  TYPE_PROVIDERS,
  typeTokenOfUrn,
  withoutDynamicLoader,
} from "../core/resourceTypes";

type Props = Record<string, unknown>;

/** How the engine marks a secret in a Struct; Configure's values come so. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
/** Large configurations and rows pass: the SDK's own limit for its gRPC channels. */
const MAX_MESSAGE_BYTES = 400 * 1024 * 1024;

function unwrapSecret(value: unknown): unknown {
  if (value !== null && typeof value === "object" && SECRET_SIG in value) {
    return (value as { value?: unknown }).value;
  }
  return value;
}

/** The stack's `vmail:*` keys, which the engine hands a package's provider without the prefix. */
export function providerConfig(args: Props): pulumi.dynamic.Config {
  const get = (key: string): string | undefined => {
    const name = key.startsWith(`${PACKAGE}:`) ? key.slice(PACKAGE.length + 1) : key;
    const value = unwrapSecret(args[name]);
    if (value === undefined || value === null) return undefined;
    return typeof value === "string" ? value : JSON.stringify(value);
  };
  return {
    get,
    require: (key: string) => {
      const value = get(key);
      if (value === undefined) throw new Error(`vmail: missing configuration key ${key}`);
      return value;
    },
  };
}

/**
 * How one resource type's requests are served: its provider, and how its properties cross the
 * wire. A row's `row` and `target` travel as JSON strings and its outputs hold only what its
 * inputs do not say (core/rowWire.ts); its provider sees objects and the whole state, as ever.
 */
interface Served {
  p: (typeof PROVIDERS)[keyof typeof PROVIDERS];
  fromStruct: (s: structproto.Struct | undefined) => Props;
  toStruct: (props: unknown) => structproto.Struct;
  /** The state the provider is handed, from the recorded inputs and outputs (decoded). */
  stateOf: (inputs: Props, outputs: Props) => Props;
  /** The outputs the engine records, given the inputs they go with. */
  outputsOf: (outs: unknown, inputs: Props) => structproto.Struct;
}

function servedAs(type: ResourceType): Served {
  const wire = WIRE_TYPES.has(type);
  const fromStruct = (s: structproto.Struct | undefined): Props => {
    const props = withoutDynamicLoader((s?.toJavaScript() ?? {}) as Props);
    return wire ? fromWire(props) : props;
  };
  const toStruct = (props: unknown): structproto.Struct => {
    const plain = (props ?? {}) as Props;
    return structproto.Struct.fromJavaScript(
      (wire ? toWire(plain) : plain) as Record<string, structproto.JavaScriptValue>,
    );
  };
  return {
    p: PROVIDERS[TYPE_PROVIDERS[type]],
    fromStruct,
    toStruct,
    stateOf: (inputs, outputs) => (wire ? expandState(inputs, outputs) : outputs),
    outputsOf: (outs, inputs) =>
      toStruct(wire ? compactOutputs((outs ?? {}) as Props, inputs) : outs),
  };
}

/** Each type's way of being served, made once, not at every request. */
const SERVED = new Map(
  (Object.keys(TYPE_PROVIDERS) as ResourceType[]).map((type) => [type, servedAs(type)]),
);

function servedFor(urn: string, token: string): Served {
  const type = resourceTypeOf(token || typeTokenOfUrn(urn));
  const served = type && SERVED.get(type);
  if (!served) throw new Error(`vmail: no provider for ${token || urn}`);
  return served;
}

type Callback<T> = grpc.sendUnaryData<T>;

/** Runs one request; an error reaches the engine with its message, as vmail wrote it. */
function serve<Req, Res>(
  work: (req: Req) => Promise<Res>,
): (call: grpc.ServerUnaryCall<Req, Res>, callback: Callback<Res>) => void {
  return (call, callback) => {
    work(call.request).then(
      (res) => callback(null, res),
      (e: unknown) =>
        callback({
          code: grpc.status.UNKNOWN,
          details: e instanceof Error ? e.message : String(e),
        }),
    );
  };
}

const unimplemented =
  (what: string) =>
  (_call: unknown, callback: Callback<never>): void =>
    callback({ code: grpc.status.UNIMPLEMENTED, details: `vmail's provider has no ${what}` });

const DISTINCT_PROVIDERS = [...new Set(Object.values(PROVIDERS))];

const service: Partial<provrpc.IResourceProviderServer> = {
  getPluginInfo: serve(async () => {
    const info = new plugproto.PluginInfo();
    info.setVersion(await pluginVersion());
    return info;
  }),

  // The engine takes a missing CheckConfig and DiffConfig as "as given" and "no replacement":
  // what vmail wants, since a configuration change never replaces a row by itself.
  checkConfig: unimplemented("CheckConfig"),
  diffConfig: unimplemented("DiffConfig"),

  configure: serve(async (req: provproto.ConfigureRequest) => {
    const config = providerConfig(req.getArgs()?.toJavaScript() ?? {});
    for (const p of DISTINCT_PROVIDERS) await p.configure({ config });
    const res = new provproto.ConfigureResponse();
    res.setAcceptsecrets(false);
    return res;
  }),

  check: serve(async (req: provproto.CheckRequest) => {
    const { p, fromStruct, toStruct } = servedFor(req.getUrn(), req.getType());
    const olds = fromStruct(req.getOlds());
    const result = await p.check(olds, fromStruct(req.getNews()));
    const res = new provproto.CheckResponse();
    res.setInputs(toStruct(withoutDynamicLoader(result.inputs as Props)));
    res.setFailuresList(
      (result.failures ?? []).map((f) => {
        const failure = new provproto.CheckFailure();
        failure.setProperty(f.property);
        failure.setReason(f.reason);
        return failure;
      }),
    );
    return res;
  }),

  diff: serve(async (req: provproto.DiffRequest) => {
    const { p, fromStruct, stateOf } = servedFor(req.getUrn(), req.getType());
    const olds = stateOf(fromStruct(req.getOldInputs()), fromStruct(req.getOlds()));
    const result = await p.diff(req.getId(), olds, fromStruct(req.getNews()));
    const res = new provproto.DiffResponse();
    const { DiffChanges } = provproto.DiffResponse;
    res.setChanges(
      result.changes === true
        ? DiffChanges.DIFF_SOME
        : result.changes === false
          ? DiffChanges.DIFF_NONE
          : DiffChanges.DIFF_UNKNOWN,
    );
    if (result.replaces?.length) res.setReplacesList(result.replaces);
    if (result.deleteBeforeReplace) res.setDeletebeforereplace(true);
    return res;
  }),

  create: serve(async (req: provproto.CreateRequest) => {
    const { p, fromStruct, outputsOf } = servedFor(req.getUrn(), req.getType());
    const inputs = fromStruct(req.getProperties());
    const result = await p.create(inputs);
    const res = new provproto.CreateResponse();
    res.setId(result.id);
    res.setProperties(outputsOf(result.outs, inputs));
    return res;
  }),

  read: serve(async (req: provproto.ReadRequest) => {
    const { p, fromStruct, toStruct, stateOf, outputsOf } = servedFor(req.getUrn(), req.getType());
    // A refresh passes the recorded outputs; a lookup by ID only the inputs.
    const inputs = fromStruct(req.getInputs());
    let props = stateOf(inputs, fromStruct(req.getProperties()));
    if (Object.keys(props).length === 0) props = inputs;
    const result = await p.read(req.getId(), props);
    const res = new provproto.ReadResponse();
    res.setId(result.id ?? "");
    res.setProperties(outputsOf(result.props, inputs));
    if (result.inputs) res.setInputs(toStruct(result.inputs));
    return res;
  }),

  update: serve(async (req: provproto.UpdateRequest) => {
    const { p, fromStruct, stateOf, outputsOf } = servedFor(req.getUrn(), req.getType());
    const olds = stateOf(fromStruct(req.getOldInputs()), fromStruct(req.getOlds()));
    const news = fromStruct(req.getNews());
    const result = await p.update(req.getId(), olds, news);
    const res = new provproto.UpdateResponse();
    res.setProperties(outputsOf(result.outs, news));
    return res;
  }),

  delete: serve(async (req: provproto.DeleteRequest) => {
    const { p, fromStruct, stateOf } = servedFor(req.getUrn(), req.getType());
    const state = stateOf(fromStruct(req.getOldInputs()), fromStruct(req.getProperties()));
    await p.delete(req.getId(), state);
    return new emptyproto.Empty();
  }),

  cancel: serve(() => Promise.resolve(new emptyproto.Empty())),
};

async function pluginVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(__dirname, "..", "package.json"), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/** Listens on a free loopback port and prints it: the engine reads it to connect. */
export async function startProviderServer(): Promise<{ port: number; stop: () => void }> {
  const server = new grpc.Server({ "grpc.max_receive_message_length": MAX_MESSAGE_BYTES });
  server.addService(provrpc.ResourceProviderService, service as provrpc.IResourceProviderServer);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { port, stop: () => server.forceShutdown() };
}

if (require.main === module) {
  startProviderServer().then(
    ({ port }) => console.log(String(port)),
    (e: unknown) => {
      console.error(`vmail's provider plugin could not start: ${String(e)}`);
      process.exit(1);
    },
  );
}
