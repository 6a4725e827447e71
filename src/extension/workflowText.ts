// Text-level helpers for `.workflow.json` documents: where a JSON syntax error is (for the
// editor's parse-error view) and which indentation a file uses (so a re-serialised graph keeps the
// user's style and the minimal diff stays small). Pure.

export type ParsedText = { ok: true; value: unknown } | { ok: false; message: string; line?: number; column?: number };

/** 1-based line and column of a UTF-16 offset. */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1]!.length + 1 };
}

/** JSON.parse with the error located; V8 words it either "at position N" or "(line L column C)". */
export function parseJsonText(text: string): ParsedText {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const lc = /line (\d+) column (\d+)/.exec(message);
    if (lc) return { ok: false, message, line: Number(lc[1]), column: Number(lc[2]) };
    const pos = /at position (\d+)/.exec(message);
    if (pos) return { ok: false, message, ...lineColumnAt(text, Number(pos[1])) };
    if (/end of (JSON )?input/i.test(message)) return { ok: false, message, ...lineColumnAt(text, text.length) };
    return { ok: false, message };
  }
}

/**
 * The indentation unit of a JSON text: the first indented line's leading whitespace (a tab or
 * 1–8 spaces). Minified or single-line text → `fallback`.
 */
export function detectIndent(text: string, fallback: string | number = 2): string | number {
  const m = /\n([ \t]+)\S/.exec(text);
  if (!m) return fallback;
  const ws = m[1]!;
  if (ws.startsWith('\t')) return '\t';
  const n = ws.length;
  return n >= 1 && n <= 8 ? n : fallback;
}

/** The document's end of line: CRLF if its first line break is CRLF. */
export function detectEol(text: string): '\n' | '\r\n' {
  const i = text.indexOf('\n');
  return i > 0 && text[i - 1] === '\r' ? '\r\n' : '\n';
}

/**
 * Re-indents a 2-space-indented JSON text to `indent` (a tab or a number of spaces). Only leading
 * whitespace changes: JSON strings cannot contain raw line breaks, so no value is touched.
 */
export function reindentJson(text: string, indent: string | number): string {
  const unit = typeof indent === 'number' ? ' '.repeat(indent) : indent;
  if (unit === '  ') return text;
  return text.replace(/^((?: {2})+)/gm, (m) => unit.repeat(m.length / 2));
}
