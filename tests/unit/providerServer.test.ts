// vmail's provider plugin answers the engine's gRPC calls: started here in-process, called with
// the engine's own generated client, as the engine calls it.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as emptyproto from "google-protobuf/google/protobuf/empty_pb";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import type * as plugproto from "@pulumi/pulumi/proto/plugin_pb";
import { providerConfig, startProviderServer } from "../../providers/server";
import { resourceTypeOf, typeTokenOfUrn, withoutDynamicLoader } from "../../core/resourceTypes";
import { UNKNOWN } from "../../core/rowWire";
import { REPO } from "../support/stackFiles";

let server: { port: number; stop: () => void };
let client: provrpc.ResourceProviderClient;

before(async () => {
  server = await startProviderServer();
  client = new provrpc.ResourceProviderClient(
    `127.0.0.1:${server.port}`,
    grpc.credentials.createInsecure(),
  );
});

after(() => {
  client.close();
  server.stop();
});

function check(type: string, news: Record<string, unknown>): Promise<provproto.CheckResponse> {
  const req = new provproto.CheckRequest();
  req.setUrn(`urn:pulumi:dev::vmail::vmail:index:MailAccounts$${type}::x@example.com`);
  req.setType(type);
  req.setOlds(structproto.Struct.fromJavaScript({}));
  req.setNews(
    structproto.Struct.fromJavaScript(news as Record<string, structproto.JavaScriptValue>),
  );
  return new Promise((resolve, reject) =>
    client.check(req, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

function diff(
  type: string,
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
): Promise<provproto.DiffResponse> {
  const req = new provproto.DiffRequest();
  req.setUrn(`urn:pulumi:dev::vmail::vmail:index:MailAccounts$${type}::x@example.com`);
  req.setType(type);
  req.setId("x@example.com");
  req.setOlds(
    structproto.Struct.fromJavaScript(olds as Record<string, structproto.JavaScriptValue>),
  );
  req.setNews(
    structproto.Struct.fromJavaScript(news as Record<string, structproto.JavaScriptValue>),
  );
  return new Promise((resolve, reject) =>
    client.diff(req, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

describe("vmail's provider plugin", () => {
  it("reports the package's version", async () => {
    const info = await new Promise<plugproto.PluginInfo>((resolve, reject) =>
      client.getPluginInfo(new emptyproto.Empty(), (err, res) =>
        err ? reject(err) : resolve(res),
      ),
    );
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
      version: string;
    };
    assert.equal(info.getVersion(), pkg.version);
  });

  it("checks a row by its type, and drops the dynamic provider's loader from what it keeps", async () => {
    const row = { alias: "a@example.com", email: "b@example.com", stack: "o/vmail/dev" };
    const res = await check("vmail:index:MailAlias", { row, __provider: "exports.handler = 1" });
    // A row kept as an object (a state of the dynamic provider's) is kept as JSON text from now on.
    assert.deepEqual(res.getInputs()?.toJavaScript(), { row: JSON.stringify(row) });
    assert.deepEqual(res.getFailuresList(), []);
  });

  it("takes a row as JSON text or as the object an older state holds, and sees them as one", async () => {
    const { DiffChanges } = provproto.DiffResponse;
    const row = { alias: "a@example.com", email: "b@example.com", stack: "o/vmail/dev" };
    const target = { host: "127.0.0.1", port: 5432, database: "mail" };
    const wire = { row: JSON.stringify(row), target: JSON.stringify(target) };
    const asObjects = await diff("vmail:index:MailAlias", { row, target }, wire);
    assert.equal(asObjects.getChanges(), DiffChanges.DIFF_NONE, "an older state: no change");
    const same = await diff("vmail:index:MailAlias", wire, wire);
    assert.equal(same.getChanges(), DiffChanges.DIFF_NONE);
    const moreTargets = { row: JSON.stringify({ ...row, email: "b@example.com, c@example.com" }) };
    const changed = await diff("vmail:index:MailAlias", wire, { ...wire, ...moreTargets });
    assert.equal(changed.getChanges(), DiffChanges.DIFF_SOME, "a column changed");
    const unknownRow = { ...wire, row: UNKNOWN };
    const unknown = await diff("vmail:index:MailAlias", wire, unknownRow);
    assert.equal(unknown.getChanges(), DiffChanges.DIFF_SOME, "a row a preview cannot know yet");
    await assert.rejects(
      diff("vmail:index:MailAlias", wire, { ...wire, row: "{not json" }),
      /a row's row is not the JSON text vmail sends/,
    );
  });

  it("refuses a type it does not serve, naming it", async () => {
    await assert.rejects(check("vmail:index:Nope", {}), /vmail: no provider for vmail:index:Nope/);
  });
});

describe("the plugin's pure parts", () => {
  it("reads the stack's vmail keys as the engine hands them (no prefix, secrets wrapped)", () => {
    const secret = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" };
    const config = providerConfig({
      pgAdminPassword: { ...secret, value: "s3cret" },
      sshPort: "22",
      users: [{ address: "a@example.com" }],
    });
    assert.equal(config.get("vmail:pgAdminPassword"), "s3cret");
    assert.equal(config.get("vmail:sshPort"), "22");
    assert.equal(config.get("vmail:users"), '[{"address":"a@example.com"}]');
    assert.equal(config.get("vmail:missing"), undefined);
    assert.throws(() => config.require("vmail:missing"), /missing configuration key vmail:missing/);
  });

  it("finds a type in a token or a URN, and only vmail's own", () => {
    assert.equal(resourceTypeOf("vmail:index:MailUser"), "MailUser");
    assert.equal(resourceTypeOf("vmail:index:MailAccounts"), undefined, "a component");
    assert.equal(resourceTypeOf("pulumi-nodejs:dynamic/vmail:MailUser"), undefined);
    assert.equal(
      typeTokenOfUrn("urn:pulumi:dev::vmail::vmail:index:Mail$vmail:index:MailUser::a@b.c"),
      "vmail:index:MailUser",
    );
    assert.equal(
      typeTokenOfUrn("urn:pulumi:dev::vmail::vmail:index:MailUser::a"),
      "vmail:index:MailUser",
    );
  });

  it("leaves props without the loader untouched", () => {
    const props = { row: { email: "a@example.com" } };
    assert.equal(withoutDynamicLoader(props), props);
    assert.deepEqual(withoutDynamicLoader({ ...props, __provider: "x" }), props);
  });
});
