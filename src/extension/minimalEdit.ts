// The smallest single replacement that turns one text into another, by common prefix and suffix.
// The custom editor applies each graph gesture as this one replacement, so undo steps are small,
// the user's surrounding text is kept, and other editors of the same file see a local change.
// Pure (no vscode).

/** Replace `[start, end)` of the old text (UTF-16 offsets) with `text`. */
export interface TextReplacement {
  start: number;
  end: number;
  text: string;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** The minimal replacement turning `oldText` into `newText`, or undefined when they are equal. */
export function minimalReplacement(oldText: string, newText: string): TextReplacement | undefined {
  if (oldText === newText) return undefined;
  const max = Math.min(oldText.length, newText.length);
  let prefix = 0;
  while (prefix < max && oldText.charCodeAt(prefix) === newText.charCodeAt(prefix)) prefix++;
  // Never split a surrogate pair: an edit boundary inside a character would corrupt it.
  if (prefix > 0 && isHighSurrogate(oldText.charCodeAt(prefix - 1))) prefix--;

  let suffix = 0;
  const maxSuffix = max - prefix;
  while (
    suffix < maxSuffix &&
    oldText.charCodeAt(oldText.length - 1 - suffix) === newText.charCodeAt(newText.length - 1 - suffix)
  ) suffix++;
  if (suffix > 0 && isLowSurrogate(oldText.charCodeAt(oldText.length - suffix))) suffix--;

  return {
    start: prefix,
    end: oldText.length - suffix,
    text: newText.slice(prefix, newText.length - suffix),
  };
}

/** Applies a replacement (the inverse check for tests and for callers that want the result). */
export function applyReplacement(oldText: string, r: TextReplacement): string {
  return oldText.slice(0, r.start) + r.text + oldText.slice(r.end);
}

/** `text` with every line ending converted to `eol`, so a CRLF document stays CRLF. */
export function withLineEndings(text: string, eol: '\n' | '\r\n'): string {
  const lf = text.replace(/\r\n/g, '\n');
  return eol === '\n' ? lf : lf.replace(/\n/g, '\r\n');
}
