// A block of lines that vmail owns inside a file it shares with others (pg_hba.conf, root's
// .forward). Lines outside the markers are never touched. Pure text functions.

export interface BlockSpec {
  /** Text after "# BEGIN " and "# END " on the marker lines. */
  marker: string;
  /** Where a new block goes; an existing block stays where it is. */
  position: "top" | "bottom";
  /** The file must exist already (pg_hba.conf): vmail edits it, never creates it. */
  mustExist?: boolean;
  /** A file of root's (its .forward): it and its directory must belong to root. */
  rootsOnly?: boolean;
}

const begin = (marker: string) => `# BEGIN ${marker}`;
const end = (marker: string) => `# END ${marker}`;

/** Line range [start, stop] of the block, undefined if absent; throws on a broken block. */
function findBlock(lines: string[], marker: string): [number, number] | undefined {
  const starts = lines.flatMap((l, i) => (l.trim() === begin(marker) ? [i] : []));
  const stops = lines.flatMap((l, i) => (l.trim() === end(marker) ? [i] : []));
  if (starts.length === 0 && stops.length === 0) return undefined;
  if (starts.length !== 1 || stops.length !== 1 || stops[0] < starts[0]) {
    throw new Error(
      `the "${begin(marker)}" / "${end(marker)}" markers are broken (missing, repeated or out of ` +
        "order); mend them by hand, vmail will not guess which lines are its own",
    );
  }
  return [starts[0], stops[0]];
}

function splitLines(text: string): string[] {
  if (text === "") return [];
  return (text.endsWith("\n") ? text.slice(0, -1) : text).split("\n");
}

/** The file with the block set to `body` (one string of lines, no markers). */
export function withBlock(text: string, spec: BlockSpec, body: string): string {
  const lines = splitLines(text);
  const block = [begin(spec.marker), ...splitLines(body), end(spec.marker)];
  const found = findBlock(lines, spec.marker);
  if (found) {
    lines.splice(found[0], found[1] - found[0] + 1, ...block);
  } else if (spec.position === "top") {
    lines.unshift(...block);
  } else {
    lines.push(...block);
  }
  return lines.join("\n") + "\n";
}

/** The file without the block; other lines as they were. */
export function withoutBlock(text: string, marker: string): string {
  const lines = splitLines(text);
  const found = findBlock(lines, marker);
  if (!found) return text;
  lines.splice(found[0], found[1] - found[0] + 1);
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}

/** The block's body as it stands in the file, undefined if there is no block. */
export function blockBody(text: string, marker: string): string | undefined {
  const lines = splitLines(text);
  const found = findBlock(lines, marker);
  if (!found) return undefined;
  const body = lines.slice(found[0] + 1, found[1]);
  return body.length === 0 ? "" : body.join("\n") + "\n";
}
