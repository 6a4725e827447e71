// Seeded random prompts for cross-checking tokenizers. Each prompt draws from a random subset of
// "kinds" so that many prompts contain no CJK ideographs or control chars (where the two CLIP
// tokenizers must agree exactly) and the rest concentrate the known differences.

export type PieceKind =
  | 'word' | 'caps' | 'punct' | 'digits' | 'apostrophe' | 'emoji' | 'latin' | 'cyrillic' | 'greek'
  | 'arabic' | 'hangulKana' | 'cjk' | 'longWord' | 'control' | 'special' | 'entity';

const KINDS: PieceKind[] = [
  'word', 'caps', 'punct', 'digits', 'apostrophe', 'emoji', 'latin', 'cyrillic', 'greek',
  'arabic', 'hangulKana', 'cjk', 'longWord', 'control', 'special', 'entity',
];

/** mulberry32: tiny, fast, good enough to spread test inputs; fixed seed keeps failures reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PUNCT = [',', '.', '!', '?', ':', ';', '(', ')', '((', '))', '[', ']', '{', '}', '-', '_', '/', '\\', '|',
  '"', '@', '#', '$', '%', '^', '*', '+', '=', '<', '>', '~', '`', '...', '--', ':1.2)', '…', '—', '«', '»', '©', '°', '±'];
const APOSTROPHE = ["don't", "it's", "they're", "we've", "I'm", "you'll", "he'd", "IT'S", "O'Neil", "'s", "'", "''",
  "rock'n'roll", "cats'", "'ll'd", "'ve'm", "l'été", "d'Artagnan", "5's", "’s", "don’t"];
const EMOJI = ['😀', '👍🏽', '👨‍👩‍👧', '🏳️‍🌈', '🇯🇵', '❤️', '✨', '🔥🔥', '🎨', '☕', '🧑🏿‍🚀', '1️⃣', '©️', '👁‍🗨'];
const LATIN = ['café', 'naïve', 'Ångström', 'Straße', 'ÉCOLE', 'façade', 'smörgåsbord', 'Łódź', 'İstanbul', 'ǅemal',
  'cafe\u0301', 'nai\u0308ve', 'A\u030angstro\u0308m', 'ﬁne', 'œuvre', 'Æsir', 'ĳssel', 'ß'];
const CYRILLIC = ['привет', 'Мир', 'ЁЛКА', 'картина', 'маслом', 'Київ', 'ёжик'];
const GREEK = ['Ωμέγα', 'ΣΟΦΟΣ', 'σοφός', 'ΟΔΥΣΣΕΥΣ', 'λόγος', 'ΐ', 'Σ'];
const ARABIC = ['مرحبا', 'بالعالم', 'كتاب', 'سلام٣', '١٢٣', 'ﷺ'];
const HANGUL_KANA = ['안녕하세요', '세계', 'カタカナ', 'ひらがな', 'ｶﾀｶﾅ', 'ー'];
const CJK = ['学者', '東京', '山水画', '猫', '中国の絵', '龍', '𠀀𠀁', '豈更', '水墨画风格', '漢字かな', '中2'];
const CONTROL = ['\u200b', '\u200d', '\u00ad', '\ufeff', '\u0001', '\u007f', '\u0085', '\u000b', '\u000c', '\u2060',
  '\u200e', '\u202e', '\ue000', '\ufffd', '\u0000', '\u061c'];
const SPECIAL = ['<|endoftext|>', '<|startoftext|>', '<|ENDOFTEXT|>', '<|endoftext|', '<|endoftext|>x'];
const ENTITY = ['&amp;', '&lt;3', '&quot;', '&#39;', '&nbsp;', '&eacute;', '&amp;amp;', '&#x1F600;', 'AT&T', '&'];
const SPACES = [' ', ' ', ' ', ' ', '  ', '   ', '\t', '\n', '\r\n', ' \t\n ', '\u00a0', '\u3000', '\u2003', '\u2028', '\u202f'];
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

function pick<T>(rnd: () => number, items: readonly T[]): T {
  return items[Math.floor(rnd() * items.length)]!;
}

export interface PromptGeneratorOptions {
  seed: number;
  /** English words to draw from (e.g. whole-word vocab entries). */
  words: readonly string[];
}

function piece(kind: PieceKind, rnd: () => number, words: readonly string[]): string {
  switch (kind) {
    case 'word': return pick(rnd, words);
    case 'caps': {
      const w = pick(rnd, words);
      return rnd() < 0.5 ? w.toUpperCase() : w[0]!.toUpperCase() + w.slice(1);
    }
    case 'punct': return pick(rnd, PUNCT);
    case 'digits': return String(Math.floor(rnd() * 10 ** (1 + Math.floor(rnd() * 6)))) + (rnd() < 0.3 ? 'k' : '');
    case 'apostrophe': return pick(rnd, APOSTROPHE);
    case 'emoji': return pick(rnd, EMOJI);
    case 'latin': return pick(rnd, LATIN);
    case 'cyrillic': return pick(rnd, CYRILLIC);
    case 'greek': return pick(rnd, GREEK);
    case 'arabic': return pick(rnd, ARABIC);
    case 'hangulKana': return pick(rnd, HANGUL_KANA);
    case 'cjk': return pick(rnd, CJK);
    case 'longWord': {
      const n = 40 + Math.floor(rnd() * 160);
      let s = '';
      for (let i = 0; i < n; i++) s += LETTERS[Math.floor(rnd() * LETTERS.length)];
      return s;
    }
    case 'control': return pick(rnd, CONTROL);
    case 'special': return pick(rnd, SPECIAL);
    case 'entity': return pick(rnd, ENTITY);
  }
}

/** `count` prompts, each 1–24 pieces joined by a random separator (space runs, tabs, glued). */
export function generatePrompts(count: number, options: PromptGeneratorOptions): string[] {
  const rnd = seededRandom(options.seed);
  const prompts: string[] = [];
  for (let p = 0; p < count; p++) {
    // 'word' is always allowed; each other kind joins with probability 0.3.
    const kinds = KINDS.filter((k) => k === 'word' || rnd() < 0.3);
    const n = 1 + Math.floor(rnd() * 24);
    let text = '';
    for (let i = 0; i < n; i++) {
      if (i > 0) text += rnd() < 0.15 ? '' : pick(rnd, SPACES);
      text += piece(pick(rnd, kinds), rnd, options.words);
    }
    if (rnd() < 0.1) text = pick(rnd, SPACES) + text + pick(rnd, SPACES);
    prompts.push(text);
  }
  return prompts;
}
