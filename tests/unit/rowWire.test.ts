// A row's columns and database cross the wire as JSON text; what an older state kept as objects
// reads the same.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  compactOutputs,
  expandState,
  fromWire,
  toWire,
  UNKNOWN,
  WIRE_TYPES,
} from "../../core/rowWire";

const row = { email: "a@example.com", maildir: "a/", quota: 1024, login: false, realname: null };
const target = { host: "db.example.com", port: 5432, database: "mail" };

describe("a row on the wire", () => {
  it("sends row and target as JSON text, and leaves every other property as it is", () => {
    const secret = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" };
    const wire = toWire({ row, target, passwordHash: secret, writtenHash: "h" });
    assert.equal(wire.row, JSON.stringify(row));
    assert.equal(wire.target, JSON.stringify(target));
    assert.equal(wire.passwordHash, secret);
    assert.equal(wire.writtenHash, "h");
  });

  it("reads back what it sent, and an older state's objects alike", () => {
    const back = fromWire(toWire({ row, target }));
    assert.deepEqual(back, { row, target });
    assert.deepEqual(fromWire({ row, target }), { row, target });
    assert.deepEqual(toWire(toWire({ row })), toWire({ row }), "text is not encoded twice");
  });

  it("leaves a row without a target (a state from before targets) without one", () => {
    assert.deepEqual(fromWire(toWire({ row })), { row });
    assert.equal(Object.hasOwn(toWire({ row }), "target"), false);
  });

  it("refuses text that is not JSON, naming the property and not its content", () => {
    assert.throws(
      () => fromWire({ row: "{quota: secretish" }),
      (e: Error) => {
        assert.match(e.message, /a row's row is not the JSON text vmail sends/);
        assert.doesNotMatch(e.message, /secretish/);
        return true;
      },
    );
  });

  it("passes a value the preview cannot know yet through as it is", () => {
    assert.deepEqual(fromWire({ row: UNKNOWN, target: JSON.stringify(target) }), {
      row: UNKNOWN,
      target,
    });
  });

  it("is the form of the three row types only", () => {
    assert.deepEqual([...WIRE_TYPES].sort(), ["MailAlias", "MailDomain", "MailUser"]);
  });
});

describe("a row's outputs", () => {
  const inputs = { row, target, passwordHash: "$2y$05$given" };

  it("keep nothing the inputs say, nor a hash written and stored as given", () => {
    const outs = { ...inputs, writtenHash: inputs.passwordHash, storedHash: inputs.passwordHash };
    assert.deepEqual(compactOutputs(outs, inputs), {});
    assert.deepEqual(expandState(inputs, {}), outs, "and the whole state comes back");
  });

  it("keep a generated password and the hash vmail made of it", () => {
    const made = { row, target };
    const outs = {
      ...made,
      writtenHash: "$2y$05$made",
      storedHash: "$2y$05$made",
      generatedPassword: "pw",
    };
    const kept = compactOutputs(outs, made);
    assert.deepEqual(kept, { writtenHash: "$2y$05$made", generatedPassword: "pw" });
    assert.deepEqual(expandState(made, kept), outs);
  });

  it("keep what a refresh found changed behind vmail's back, so the next up repairs it", () => {
    const drifted = {
      ...inputs,
      row: { ...row, quota: 1 },
      writtenHash: inputs.passwordHash,
      storedHash: "$2y$05$changed",
    };
    const kept = compactOutputs(drifted, inputs);
    assert.deepEqual(kept, { row: { ...row, quota: 1 }, storedHash: "$2y$05$changed" });
    assert.deepEqual(expandState(inputs, kept), drifted);
  });

  it("read as they were where a state kept them whole", () => {
    const whole = { ...inputs, writtenHash: "$2y$05$old", storedHash: "$2y$05$old" };
    assert.deepEqual(expandState(inputs, whole), whole);
  });

  it("see an object the engine gave back with its keys sorted as the same", () => {
    const sorted = { database: "mail", host: "db.example.com", port: 5432 };
    assert.deepEqual(compactOutputs({ target: sorted }, { target }), {});
    assert.deepEqual(compactOutputs({ target: { ...sorted, port: 5433 } }, { target }), {
      target: { ...sorted, port: 5433 },
    });
  });

  it("leave undefined values out", () => {
    assert.deepEqual(compactOutputs({ row, generatedPassword: undefined }, {}), { row });
  });
});
