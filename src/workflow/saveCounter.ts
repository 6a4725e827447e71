// ComfyUI's SaveImage naming, `<prefix>_<counter:05>_.png`, as pure functions shared by the
// inference process (which counts in its output folder) and the extension (which moves images
// into the workspace and must keep counting there, so VS Code and the CLI name alike:
// ComfyUI_00002_.png after ComfyUI_00001_.png, never ComfyUI_00001__1.png).

/**
 * The first free counter for `filename` among `entries` (names in the folder): 1 + the largest
 * `<filename>_<N>_…`, else 1. ComfyUI's map_filename: the digits after `<filename>_` up to the
 * next `_`.
 */
export function nextSaveCounter(entries: Iterable<string>, filename: string, caseInsensitive = false): number {
  const fold = caseInsensitive ? (s: string) => s.toLowerCase() : (s: string) => s;
  let counter = 1;
  for (const entry of entries) {
    const head = entry.slice(0, filename.length + 1);
    if (fold(head.slice(0, -1)) !== fold(filename) || head.at(-1) !== '_') continue;
    const digits = entry.slice(filename.length + 1).split('_')[0];
    const n = /^\d+$/.test(digits) ? Number(digits) : 0;
    counter = Math.max(counter, n + 1);
  }
  return counter;
}

/** A name SaveImage wrote (`<filename>_<NNNNN>_<tail>`), split; undefined for other names. */
export function parseSaveName(name: string): { filename: string; counter: number; tail: string } | undefined {
  const m = /^(.+)_(\d{5,})_([^_]*)$/.exec(name);
  return m ? { filename: m[1]!, counter: Number(m[2]), tail: m[3]! } : undefined;
}

/** `<filename>_<counter:05>_<tail>`, as SaveImage names its files. */
export function saveName(filename: string, counter: number, tail = '.png'): string {
  return `${filename}_${String(counter).padStart(5, '0')}_${tail}`;
}
