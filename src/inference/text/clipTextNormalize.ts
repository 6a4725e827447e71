// Text clean-up that runs before CLIP's pre-tokenizer regex.
//
// Which clean-up ComfyUI really applies depends on the Python environment, and the choice changes
// token ids for non-ASCII prompts, so it is an explicit option here:
//
// * 'comfyui' (default). transformers' slow CLIPTokenizer (the class ComfyUI instantiates, with the
//   transformers 4.x that ComfyUI 0.3.x runs on) uses ftfy only when `import ftfy` succeeds. ftfy
//   is not in ComfyUI's requirements.txt, so a stock install takes the fallback: BERT's
//   BasicTokenizer with strip_accents=False and no punctuation splitting. That means, in order:
//     1. drop U+0000, U+FFFD and every "C*" category char except \t \n \r (so ZWJ, ZWSP, BOM,
//        soft hyphen, lone surrogates and C0/C1 controls vanish; emoji ZWJ sequences fall apart);
//     2. \t \n \r and every "Zs" space become ' ';
//     3. put spaces around CJK ideographs (so 学者 is two words, not one BPE word);
//     4. NFC; split on whitespace; lowercase each word (Python str.lower = JS toLowerCase,
//        both with the final-sigma rule); join with single spaces.
//   No HTML unescaping happens on this path: `&amp;` stays three tokens `&`, `amp`, `;`.
//   This mode is reproduced exactly.
//
// * 'ftfy'. What the same class does when ftfy *is* installed, combined with openai CLIP's
//   basic_clean (html.unescape twice). ftfy itself cannot run in JS (its mojibake repair needs
//   its byte-level heuristics and tables), so this is a documented subset of
//   ftfy.fix_text defaults:
//     - HTML entities: numeric ones fully (with the Windows-1252 remap of &#128;..&#159; and
//       U+FFFD for invalid code points, as Python's html.unescape), named ones from a table of
//       the common entities below; unknown names are left as written. Applied twice.
//     - uncurl_quotes: ‘ ’ ‚ ‛ → '  and  “ ” „ ‟ → "
//     - fix_latin_ligatures and fix_character_width: NFKC on U+FB00–FB06 and U+FF00–FFEF
//     - remove_control_chars: C0/C1 controls except \t \n \f \r, U+FEFF, U+206A–206F,
//       U+FFF9–FFFC; lone surrogates dropped
//     - NFC, then whitespace_clean (runs of whitespace → ' ', trimmed), then lowercase.
//   Not done: mojibake/encoding repair, terminal-escape removal, line-break fixes beyond
//   whitespace_clean. CJK runs are not split (ftfy does not split them).

export type ClipNormalization = 'comfyui' | 'ftfy';

const CONTROL_OR_OTHER = /\p{C}/u;
const SPACE_SEPARATOR = /\p{Zs}/u;

function isCjkIdeograph(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** transformers' BasicTokenizer(strip_accents=False, do_split_on_punc=False), joined with ' '. */
export function normalizeComfyUi(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === '\t' || ch === '\n' || ch === '\r' || ch === ' ' || SPACE_SEPARATOR.test(ch)) {
      out += ' ';
      continue;
    }
    if (cp === 0 || cp === 0xfffd || CONTROL_OR_OTHER.test(ch)) continue;
    out += isCjkIdeograph(cp) ? ` ${ch} ` : ch;
  }
  const words = out.normalize('NFC').trim().split(/\s+/u);
  return words
    .filter((w) => w !== '')
    .map((w) => w.toLowerCase())
    .join(' ');
}

// Python's html.unescape maps these numeric references through Windows-1252 (HTML5 rule).
const CP1252_C1: Record<number, number> = {
  0x80: 0x20ac, 0x82: 0x201a, 0x83: 0x0192, 0x84: 0x201e, 0x85: 0x2026, 0x86: 0x2020, 0x87: 0x2021,
  0x88: 0x02c6, 0x89: 0x2030, 0x8a: 0x0160, 0x8b: 0x2039, 0x8c: 0x0152, 0x8e: 0x017d, 0x91: 0x2018,
  0x92: 0x2019, 0x93: 0x201c, 0x94: 0x201d, 0x95: 0x2022, 0x96: 0x2013, 0x97: 0x2014, 0x98: 0x02dc,
  0x99: 0x2122, 0x9a: 0x0161, 0x9b: 0x203a, 0x9c: 0x0153, 0x9e: 0x017e, 0x9f: 0x0178,
};

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', copy: '©', reg: '®',
  trade: '™', hellip: '…', mdash: '—', ndash: '–', lsquo: '‘', rsquo: '’', ldquo: '“',
  rdquo: '”', laquo: '«', raquo: '»', middot: '·', bull: '•', deg: '°', times: '×',
  divide: '÷', euro: '€', pound: '£', yen: '¥', cent: '¢', sect: '§', para: '¶', plusmn: '±',
  frac12: '½', frac14: '¼', frac34: '¾', eacute: 'é', egrave: 'è', aacute: 'á', agrave: 'à',
  iacute: 'í', oacute: 'ó', uacute: 'ú', ntilde: 'ñ', ccedil: 'ç', uuml: 'ü', ouml: 'ö',
  auml: 'ä', szlig: 'ß', hearts: '♥', star: '☆', larr: '←', rarr: '→', uarr: '↑', darr: '↓',
};
// Names HTML5 also accepts without the trailing ';' (subset of Python's table).
const LEGACY_NO_SEMICOLON = new Set(['amp', 'lt', 'gt', 'quot', 'nbsp', 'copy', 'reg']);

function numericReference(cp: number): string {
  if (cp in CP1252_C1) return String.fromCodePoint(CP1252_C1[cp]!);
  if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return '\ufffd';
  return String.fromCodePoint(cp);
}

/** Subset of Python's html.unescape; see the header comment for what is covered. */
export function unescapeHtml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(
    /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[A-Za-z][A-Za-z0-9]*;?)/g,
    (whole, body: string) => {
      if (body.startsWith('#')) {
        const hex = body[1] === 'x' || body[1] === 'X';
        const digits = body.slice(hex ? 2 : 1).replace(/;$/, '');
        return numericReference(parseInt(digits, hex ? 16 : 10));
      }
      const terminated = body.endsWith(';');
      const name = terminated ? body.slice(0, -1) : body;
      const value = NAMED_ENTITIES[name];
      if (value !== undefined && (terminated || LEGACY_NO_SEMICOLON.has(name))) return value;
      return whole;
    },
  );
}

const FTFY_CONTROLS = /[\u0000-\u0008\u000b\u000e-\u001f\u007f-\u009f\ufeff\u206a-\u206f\ufff9-\ufffc]|\p{Cs}/gu;
const SINGLE_CURLY = /[\u2018\u2019\u201a\u201b]/g;
const DOUBLE_CURLY = /[\u201c\u201d\u201e\u201f]/g;
const WIDTH_AND_LIGATURES = /[\ufb00-\ufb06\uff00-\uffef]/gu;

/** Approximation of ftfy.fix_text + openai basic_clean + whitespace_clean + lower. */
export function normalizeFtfySubset(text: string): string {
  let t = unescapeHtml(unescapeHtml(text));
  t = t.replace(FTFY_CONTROLS, '');
  t = t.replace(SINGLE_CURLY, "'").replace(DOUBLE_CURLY, '"');
  t = t.replace(WIDTH_AND_LIGATURES, (c) => c.normalize('NFKC'));
  t = t.normalize('NFC');
  return t.replace(/\s+/gu, ' ').trim().toLowerCase();
}

export function normalizeClipText(text: string, mode: ClipNormalization): string {
  switch (mode) {
    case 'comfyui':
      return normalizeComfyUi(text);
    case 'ftfy':
      return normalizeFtfySubset(text);
    default:
      throw new Error(`CLIP tokenizer: unknown normalization "${String(mode)}" (expected "comfyui" or "ftfy")`);
  }
}
