// The input rules every config value must pass before any resource is registered.
// Each check returns an error message (the rule, in words) or undefined when the value is fine;
// config.ts adds the name of the entry. Pure functions, no Pulumi.

/** A domain Postfix can look up: lowercase ASCII labels, at least two, no leading/trailing dash. */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The local part of an address. A dot-atom of letters, digits and `. _ + - =`, which covers what
 * mail providers hand out while keeping quotes, spaces, `|` and `/` (a pipe or file target in a
 * .forward) out of every place an address ends up.
 */
const LOCAL_PART = /^[a-z0-9_+=-]+(?:\.[a-z0-9_+=-]+)*$/;

export function domainRule(domain: string): string | undefined {
  if (domain.length > 253) return "a domain is at most 253 characters";
  const labels = domain.split(".");
  if (labels.length < 2) return "a domain needs at least two labels (example.com)";
  if (!labels.every((label) => LABEL.test(label))) {
    return "a domain is made of labels of a-z, 0-9 and inner '-', separated by single dots";
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1]))
    return "the last label of a domain is not numeric";
  return undefined;
}

/**
 * Postfix folds lookup keys to lower case, so addresses are stored folded. Only ASCII letters
 * are folded: a non-ASCII one stays as it is, for the address rules to refuse (U+212A KELVIN
 * SIGN would otherwise lower-case to an ASCII "k" and slip through).
 */
export function normalizeAddress(raw: string): string {
  return raw.trim().replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

export interface ParsedAddress {
  local: string; // empty for a catch-all (@domain)
  domain: string;
}

export function addressRule(
  address: string,
  allowCatchAll: boolean,
): { parsed?: ParsedAddress; error?: string } {
  if (/[^\x21-\x7e]/.test(address)) {
    return {
      error:
        "an address is plain ASCII without spaces (internationalized addresses are not supported)",
    };
  }
  const at = address.lastIndexOf("@");
  if (at < 0) return { error: "an address has the form local@domain" };
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  const domainError = domainRule(domain);
  if (domainError) return { error: domainError };
  if (local === "") {
    return allowCatchAll
      ? { parsed: { local, domain } }
      : { error: "a catch-all (@domain) is only allowed as an alias address" };
  }
  if (local.length > 64) return { error: "the part before @ is at most 64 characters" };
  if (address.length > 254) return { error: "an address is at most 254 characters" };
  if (!LOCAL_PART.test(local)) {
    return {
      error:
        "the part before @ is made of a-z, 0-9 and . _ + - = (no leading, trailing or double dot)",
    };
  }
  return { parsed: { local, domain } };
}

/** A maildir below virtual_mailbox_base: relative, ends in '/', no '.' or '..' step. */
export function maildirRule(maildir: string): string | undefined {
  if (maildir.startsWith("/")) return "a maildir is relative to the mailbox base (no leading '/')";
  if (!maildir.endsWith("/"))
    return "a maildir ends in '/' (Postfix delivers Maildir-style only then)";
  const steps = maildir.slice(0, -1).split("/");
  if (steps.some((step) => step === "..")) return "a maildir may not contain '..'";
  if (steps.some((step) => step === "" || step === ".")) {
    return "a maildir has no empty or '.' steps";
  }
  if (!steps.every((step) => /^[A-Za-z0-9_+=@.-]+$/.test(step))) {
    return "a maildir is made of A-Z, a-z, 0-9 and _ + = @ . - separated by '/'";
  }
  return undefined;
}

/** Unix user/group names and PostgreSQL role/database names: they reach shell commands and SQL. */
export function identifierRule(name: string): string | undefined {
  return /^[a-z_][a-z0-9_]{0,30}$/.test(name)
    ? undefined
    : "a name starts with a-z or _, has only a-z, 0-9 and _, and is at most 31 characters";
}

/** Paths on the server: absolute, no '..', no shell metacharacters or spaces. */
export function absolutePathRule(path: string): string | undefined {
  if (!path.startsWith("/")) return "a path on the server is absolute";
  if (path.split("/").includes("..")) return "a path may not contain '..'";
  if (!/^[A-Za-z0-9_./+-]+$/.test(path)) {
    return "a path is made of A-Z, a-z, 0-9 and _ . / + - (no spaces or shell metacharacters)";
  }
  return undefined;
}

/** The longest real name vmail stores, in characters: a name, not a document. */
export const MAX_TEXT = 128;

/** Free text stored in a row (a real name): printable, at most MAX_TEXT characters. */
export function textRule(text: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(text)) {
    return "text may not contain control characters (newline, tab, NUL...)";
  }
  const length = [...text].length;
  return length > MAX_TEXT ? `at most ${MAX_TEXT} characters (this has ${length})` : undefined;
}

/** System trees: a maildir base may be neither one of them nor inside one. */
const SYSTEM_TREES = [
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/lib",
  "/lib32",
  "/lib64",
  "/proc",
  "/run",
  "/sbin",
  "/sys",
  "/usr",
];
/** Directories a maildir base may not be, though one may live below them. */
const SYSTEM_DIRS = [...SYSTEM_TREES, "/root", "/var", "/tmp", "/home"];

/** The mail owner's home and maildir base: its own directory, never / or a system one. */
export function mailboxBaseRule(path: string): string | undefined {
  const problem = absolutePathRule(path);
  if (problem) return problem;
  const dir = path.replace(/\/+$/, "") || "/";
  if (dir === "/" || SYSTEM_DIRS.includes(dir)) {
    return "the mailbox base is a directory of its own, not / or a system directory";
  }
  if (SYSTEM_TREES.some((tree) => dir.startsWith(`${tree}/`))) {
    return "the mailbox base may not be inside a system directory (/etc, /usr, /proc...)";
  }
  return undefined;
}

/**
 * Root's .forward: a file named .forward, outside the system trees. That it is root's (it and
 * its directory belong to root, so never another user's .forward) is checked on the server.
 */
export function rootForwardFileRule(path: string): string | undefined {
  const problem = absolutePathRule(path);
  if (problem) return problem;
  if (!path.endsWith("/.forward")) {
    return "root's .forward is a file named .forward in root's home (default /root/.forward)";
  }
  if (SYSTEM_TREES.some((tree) => path.startsWith(`${tree}/`))) {
    return "root's .forward may not be inside a system directory (/etc, /usr, /proc...)";
  }
  return undefined;
}

/** The mail owner is an account of its own: never root, never root's group. */
export function ownerNameRule(name: string): string | undefined {
  return identifierRule(name) ?? (name === "root" ? "the mail owner is not root" : undefined);
}

/** Host names or IP addresses that reach an ssh or libpq connection. */
export function hostRule(host: string): string | undefined {
  return /^[A-Za-z0-9.:_-]+$/.test(host) && !host.startsWith("-")
    ? undefined
    : "a host is a name or an IP address (A-Z, a-z, 0-9 and . : _ -)";
}

export function portRule(port: number): string | undefined {
  return Number.isInteger(port) && port >= 1 && port <= 65535
    ? undefined
    : "a port is a whole number from 1 to 65535";
}
