// The plumbing every part of the config is read through: the raw strings Pulumi hands over, the
// Reader that turns them into values and collects every problem, and the ConfigError that reports
// them all at once. A leaf: the modules reading each part import it, never config.ts.

export const NAMESPACE = "vmail";

/** What the parser reads: raw config strings by key (without namespace), as Pulumi stores them. */
export interface RawConfig {
  get(key: string): string | undefined;
  /** Whether a key's value was set as a secret (`pulumi config set --secret`). */
  isSecret(key: string): boolean;
  /** Every key set in the namespace (without it), where the caller can list them. */
  keys?(): string[];
}

/**
 * The file `vmail:accountsFile` names, as read: large account lists live there instead of the
 * stack config (which Pulumi hands to every process in an environment variable).
 */
export interface AccountsFile {
  path: string;
  /** The parsed YAML/JSON document: `{ domains?, users?, aliases? }`. */
  data: unknown;
}

/** One entry of a list, from the stack config or the accounts file, with where it came from. */
export interface Entry {
  label: string;
  value: unknown;
  fromFile: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `vmail: the stack config has ${problems.length} problem(s); nothing was changed:\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** Collects problems while reading; each names `vmail:<key>` and, for list entries, the entry. */
export class Reader {
  /**
   * `label` names a key in a problem (`vmail:<key>` unless told); a reader of a list entry's
   * fields (scoped) labels them as that entry's and reports into the same list of problems.
   */
  constructor(
    private readonly raw: RawConfig,
    private readonly label: (key: string) => string = (key) => `${NAMESPACE}:${key}`,
    readonly problems: string[] = [],
  ) {}

  /** A reader of `raw`, an entry's own keys, whose problems name them with `label` and count here. */
  scoped(raw: RawConfig, label: (key: string) => string): Reader {
    return new Reader(raw, label, this.problems);
  }

  fail(key: string, rule: string): void {
    this.failAt(this.label(key), rule);
  }

  /** A problem at an entry whose label is already complete (`vmail:users[2] (x@y.z)`). */
  failAt(label: string, rule: string): void {
    this.problems.push(`${label}: ${rule}`);
  }

  string(key: string, fallback: string, rule?: (v: string) => string | undefined): string {
    const value = this.raw.get(key) ?? fallback;
    const error = rule?.(value);
    if (error) this.fail(key, `${JSON.stringify(value)}: ${error}`);
    return value;
  }

  optionalString(key: string, rule?: (v: string) => string | undefined): string | undefined {
    const value = this.raw.get(key);
    if (value === undefined || value === "") return undefined;
    const error = rule?.(value);
    if (error) this.fail(key, `${JSON.stringify(value)}: ${error}`);
    return value;
  }

  integer(key: string, fallback: number, rule?: (v: number) => string | undefined): number {
    const text = this.raw.get(key);
    const value = text === undefined || text === "" ? fallback : Number(text);
    if (!Number.isInteger(value)) {
      this.fail(key, `${JSON.stringify(text)}: must be a whole number`);
      return fallback;
    }
    const error = rule?.(value);
    if (error) this.fail(key, `${value}: ${error}`);
    return value;
  }

  /** An integer where 0 (Pulumi.yaml's default) or no value means "not set". */
  optionalInteger(key: string, rule: (v: number) => string | undefined): number | undefined {
    const text = this.raw.get(key);
    if (text === undefined || text === "" || text === "0") return undefined;
    return this.integer(key, 0, rule);
  }

  boolean(key: string, fallback: boolean): boolean {
    const text = this.raw.get(key);
    if (text === undefined || text === "") return fallback;
    if (text === "true" || text === "false") return text === "true";
    this.fail(key, `${JSON.stringify(text)}: must be true or false`);
    return fallback;
  }

  oneOf<T extends string>(key: string, fallback: T, choices: readonly T[]): T {
    const value = this.string(key, fallback);
    if (!(choices as readonly string[]).includes(value)) {
      this.fail(key, `${JSON.stringify(value)}: must be one of ${choices.join(", ")}`);
      return fallback;
    }
    return value as T;
  }

  /** A structured (list) key; Pulumi hands it over as JSON text. */
  list(key: string): unknown[] {
    const text = this.raw.get(key);
    if (text === undefined || text === "") return [];
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.fail(key, "must be a list");
      return [];
    }
    if (!Array.isArray(value)) {
      this.fail(key, "must be a list");
      return [];
    }
    return value;
  }

  /**
   * A list entry that must be an object of exactly the two string fields `fields` (`example` shows
   * one); undefined, the problem recorded at `where`, when it is not.
   */
  stringPair<A extends string, B extends string>(
    where: string,
    entry: unknown,
    fields: [A, B],
    example: string,
  ): Record<A | B, string> | undefined {
    const [a, b] = fields;
    if (!isRecord(entry) || typeof entry[a] !== "string" || typeof entry[b] !== "string") {
      this.fail(where, `an object {${a}, ${b}} of strings (${example})`);
      return undefined;
    }
    const extra = Object.keys(entry).filter((k) => k !== a && k !== b);
    if (extra.length > 0) {
      this.fail(where, `unknown field(s) ${extra.join(", ")}; known: ${a}, ${b}`);
      return undefined;
    }
    return entry as Record<A | B, string>;
  }

  isSecret(key: string): boolean {
    return this.raw.isSecret(key);
  }

  /** The entries of `section` from the stack config, then from the accounts file. */
  entries(section: "domains" | "users" | "aliases", file?: AccountsFile): Entry[] {
    const fromConfig = this.list(section).map((value, i) => ({
      label: `${NAMESPACE}:${section}[${i}]`,
      value,
      fromFile: false,
    }));
    if (!file) return fromConfig;
    const data: unknown = file.data ?? {};
    const list = isRecord(data) ? data[section] : undefined;
    if (!isRecord(data) || (list !== undefined && !Array.isArray(list))) {
      this.failAt(file.path, "must be a mapping with lists under domains, users and aliases");
      return fromConfig;
    }
    const fromFile = ((list ?? []) as unknown[]).map((value, i) => ({
      label: `${file.path}: ${section}[${i}]`,
      value,
      fromFile: true,
    }));
    return [...fromConfig, ...fromFile];
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
