// The frontend rewrites every `dynamicPrompts` text widget before queueing (CLIPTextEncode.text
// among them): C-style comments are removed and each `{a|b|c}` group becomes one random option.
// The backend never sees the braces, so Marble must do the same to produce the same prompt.

/** Removes `/* … *\/` and `// …` comments, then resolves `{a|b}` groups, innermost first. */
export function resolveDynamicPrompt(text: string, random: () => number = Math.random): string {
  let out = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*/g, '');
  // Bounded: each pass removes one brace pair, so a text can't loop forever.
  for (let guard = 0; guard < 10_000; guard++) {
    const close = findUnescaped(out, '}', 0);
    if (close < 0) break;
    const open = findUnescapedBefore(out, '{', close);
    if (open < 0) break;
    const options = splitUnescaped(out.slice(open + 1, close), '|');
    const pick = options[Math.min(options.length - 1, Math.floor(random() * options.length))];
    out = out.slice(0, open) + pick + out.slice(close + 1);
  }
  return out;
}

function isEscaped(s: string, i: number): boolean {
  let n = 0;
  for (let j = i - 1; j >= 0 && s[j] === '\\'; j--) n++;
  return n % 2 === 1;
}

function findUnescaped(s: string, ch: string, from: number): number {
  for (let i = from; i < s.length; i++) if (s[i] === ch && !isEscaped(s, i)) return i;
  return -1;
}

function findUnescapedBefore(s: string, ch: string, before: number): number {
  for (let i = before - 1; i >= 0; i--) if (s[i] === ch && !isEscaped(s, i)) return i;
  return -1;
}

function splitUnescaped(s: string, sep: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === sep && !isEscaped(s, i)) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}
