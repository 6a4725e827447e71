// ComfyUI's prompt emphasis syntax (comfy/sd1_clip.py: escape_important, parse_parentheses,
// token_weights), reproduced rule for rule:
//   (text)        weight × 1.1 (every nesting level multiplies)
//   (text:1.5)    weight = 1.5 exactly: an explicit weight replaces, it does not multiply;
//                 the ×1.1 of this level is dropped but outer levels were already applied
//                 inside — "((a):2)" gives a 2·1.1 = 2.2
//   \( \)         literal parentheses
//   [text], BREAK, {a|b} — no meaning here, kept as plain text
// Unbalanced parentheses are not an error in ComfyUI: a stray ")" is kept as text and an
// unclosed "(" group stays literal. The weight after the last ':' is read like Python float();
// if that fails, the ':' and what follows stay part of the text.

export type WeightedSegment = [text: string, weight: number];

// Sentinels for escaped parentheses, the same two-char codes ComfyUI uses.
const ESC_CLOSE = '\0\u0001';
const ESC_OPEN = '\0\u0002';

function escapeImportant(text: string): string {
  return text.split('\\)').join(ESC_CLOSE).split('\\(').join(ESC_OPEN);
}

function unescapeImportant(text: string): string {
  return text.split(ESC_CLOSE).join(')').split(ESC_OPEN).join('(');
}

/** Splits into top-level "(…)" groups and the plain runs between them. */
function splitTopLevelGroups(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  let depth = 0;
  for (const ch of text) {
    if (ch === '(') {
      if (depth === 0) {
        if (current) parts.push(current);
        current = '(';
      } else {
        current += ch;
      }
      depth += 1;
    } else if (ch === ')') {
      depth -= 1;
      if (depth === 0) {
        parts.push(current + ')');
        current = '';
      } else {
        current += ch;
      }
    } else {
      current += ch;
    }
  }
  if (current) parts.push(current);
  return parts;
}

/**
 * Python float() for a string: surrounding whitespace, sign, underscores between digits,
 * exponents, "inf"/"infinity"/"nan" (any case) and any Unicode decimal digits. Null when Python
 * would raise ValueError.
 */
export function parsePythonFloat(raw: string): number | null {
  const s = toAsciiDigits(raw.replace(/^[\s\u001c-\u001f\u0085]+|[\s\u001c-\u001f\u0085]+$/gu, ''));
  if (/^[+-]?(inf|infinity)$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(s)) return NaN;
  const digits = '\\d(?:_?\\d)*';
  const re = new RegExp(`^[+-]?(?:${digits}(?:\\.(?:${digits})?)?|\\.${digits})(?:[eE][+-]?${digits})?$`);
  if (!re.test(s)) return null;
  return Number(s.replace(/_/g, ''));
}

// Python float() accepts every Unicode "Nd" digit. Nd digits come in runs of ten starting at
// zero, so a digit's value is its distance from the start of its run, modulo 10.
function toAsciiDigits(s: string): string {
  let out = '';
  for (const ch of s) {
    if (/\p{Nd}/u.test(ch) && !/[0-9]/.test(ch)) {
      let cp = ch.codePointAt(0)!;
      let offset = 0;
      while (/\p{Nd}/u.test(String.fromCodePoint(cp - 1))) {
        cp -= 1;
        offset += 1;
      }
      out += String(offset % 10);
    } else {
      out += ch;
    }
  }
  return out;
}

function tokenWeights(text: string, currentWeight: number, out: WeightedSegment[]): void {
  for (const part of splitTopLevelGroups(text)) {
    if (part.length >= 2 && part.startsWith('(') && part.endsWith(')')) {
      let inner = part.slice(1, -1);
      let weight = currentWeight * 1.1;
      const colon = inner.lastIndexOf(':');
      if (colon > 0) {
        const explicit = parsePythonFloat(inner.slice(colon + 1));
        if (explicit !== null) {
          if (!Number.isFinite(explicit)) {
            throw new Error(
              `Prompt weight "${unescapeImportant(part)}": ${explicit} is not a usable weight (expected a finite number such as 1.2)`,
            );
          }
          weight = explicit;
          inner = inner.slice(0, colon);
        }
      }
      tokenWeights(inner, weight, out);
    } else {
      out.push([part, currentWeight]);
    }
  }
}

/**
 * ComfyUI's weighted segments of a prompt, with escapes resolved. Segments keep their
 * surrounding spaces; empty groups such as "()" produce no segment.
 */
export function parsePromptWeights(prompt: string): WeightedSegment[] {
  if (typeof prompt !== 'string') {
    throw new Error(`Prompt weights: expected the prompt as a string, got ${prompt === null ? 'null' : typeof prompt}`);
  }
  const raw: WeightedSegment[] = [];
  tokenWeights(escapeImportant(prompt), 1.0, raw);
  return raw.map(([text, weight]) => [unescapeImportant(text), weight]);
}
