// How a row resource's columns and database travel between the program, the engine and vmail's
// provider: each as one JSON string, not as a nested object. The engine marshals, logs and hands
// on every nested key of every resource at each of its steps, so at 20,000 rows the keys of `row`
// and `target` were about half of a no-op preview's engine work. `pulumi preview --diff` still
// shows a changed row column by column: the CLI diffs two JSON strings as the objects they hold.
// A state written before carries the objects; reading takes either. Pure.

/** The row resources whose `row` and `target` are JSON strings. */
export const WIRE_TYPES: ReadonlySet<string> = new Set(["MailDomain", "MailAlias", "MailUser"]);

const WIRE_KEYS = ["row", "target"] as const;

/**
 * How the engine hands a provider a value a preview cannot know yet: a domain's row before the
 * mail owner's gid is read on a new server, say. It passes through as it is. (The SDK has it as
 * `pulumi.runtime.unknownValue`; core/ stays free of the SDK.)
 */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** The JSON a row's columns or database are sent as. */
export function wireValue(value: object): string {
  return JSON.stringify(value);
}

/** `props` with `row` and `target` as JSON strings, as the engine keeps them. */
export function toWire(props: Record<string, unknown>): Record<string, unknown> {
  const out = { ...props };
  for (const key of WIRE_KEYS) {
    const value = out[key];
    if (value !== null && typeof value === "object") out[key] = wireValue(value);
  }
  return out;
}

/** `props` with `row` and `target` as objects again, from a JSON string or as a state had them. */
export function fromWire(props: Record<string, unknown>): Record<string, unknown> {
  const out = { ...props };
  for (const key of WIRE_KEYS) {
    const value = out[key];
    if (typeof value === "string" && value !== UNKNOWN) out[key] = parseWire(key, value);
  }
  return out;
}

function parseWire(key: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`vmail: a row's ${key} is not the JSON text vmail sends`);
  }
}

/** JSON with every object's keys in order: the engine hands objects back with their keys sorted. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

const sameValue = (a: unknown, b: unknown) => a === b || canonical(a) === canonical(b);

/**
 * What the engine keeps as a row's outputs: only what its inputs do not already say. Every
 * preview hands a row's outputs to vmail's provider and back to the program, so outputs that
 * repeat the inputs were half of a row's work and state. A hash vmail wrote as given
 * (`writtenHash` = the `passwordHash` input) and a stored hash as written are left out too:
 * expandState puts them back.
 */
export function compactOutputs(
  outs: Record<string, unknown>,
  inputs: Record<string, unknown>,
): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(outs)) {
    if (value === undefined) continue;
    if (Object.hasOwn(inputs, key) && sameValue(value, inputs[key])) continue;
    kept[key] = value;
  }
  if (kept.writtenHash !== undefined && kept.writtenHash === inputs.passwordHash)
    delete kept.writtenHash;
  if (kept.storedHash !== undefined && kept.storedHash === outs.writtenHash) delete kept.storedHash;
  return kept;
}

/**
 * The whole state of a row, as vmail's providers read it: its inputs, what its outputs say beyond
 * them (all of it, in a state written before compactOutputs), and the hashes left out.
 */
export function expandState(
  inputs: Record<string, unknown>,
  outputs: Record<string, unknown>,
): Record<string, unknown> {
  const state = { ...inputs, ...outputs };
  if (state.writtenHash === undefined && state.passwordHash !== undefined)
    state.writtenHash = state.passwordHash;
  if (state.storedHash === undefined && state.writtenHash !== undefined)
    state.storedHash = state.writtenHash;
  return state;
}
