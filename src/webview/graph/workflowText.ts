// Reading the document text into a workflow object, with errors a user can act on. Pure: the
// host may use it too (it has the same JSON.parse, but this adds line/column and format hints).

export type ParsedWorkflow =
  | { ok: true; workflow: Record<string, unknown> }
  | { ok: false; message: string; line?: number; column?: number; kind?: 'api' };

/** What an empty `.workflow.json` opens as: a blank canvas (written on the first gesture). */
export function blankWorkflow(): Record<string, unknown> {
  return { last_node_id: 0, last_link_id: 0, nodes: [], links: [], groups: [], config: {}, extra: {}, version: 0.4 };
}

/** 1-based line/column of a character offset. */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}

export function parseWorkflowText(text: string): ParsedWorkflow {
  if (text.trim() === '') return { ok: true, workflow: blankWorkflow() };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    // V8 reports "... (line L column C)" or "... at position N" depending on version.
    const lc = /line (\d+) column (\d+)/.exec(message);
    if (lc) return { ok: false, message: `Invalid JSON: ${message}`, line: Number(lc[1]), column: Number(lc[2]) };
    const pos = /position (\d+)/.exec(message);
    if (pos) return { ok: false, message: `Invalid JSON: ${message}`, ...lineColumnAt(text, Number(pos[1])) };
    return { ok: false, message: `Invalid JSON: ${message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, message: `Expected a workflow object at the top level, got ${Array.isArray(value) ? 'an array' : typeof value}.` };
  }
  const obj = value as Record<string, unknown>;
  if (!Array.isArray(obj.nodes)) {
    const entries = Object.values(obj);
    if (entries.length > 0 && entries.every((v) => typeof v === 'object' && v !== null && 'class_type' in v)) {
      return { ok: false, kind: 'api', message: 'This is an API-format prompt (node ids → class_type/inputs), not a UI workflow: it has no layout to draw. Convert it to a workflow to edit it as a graph.' };
    }
    return { ok: false, message: "Not a ComfyUI workflow: the top-level 'nodes' array is missing." };
  }
  if (obj.links !== undefined && !Array.isArray(obj.links)) {
    return { ok: false, message: "Not a ComfyUI workflow: 'links' must be an array." };
  }
  return { ok: true, workflow: obj };
}
