// Byte-level BPE tokenizer for CLIP text encoders (SD1 CLIP-L, SD2/SDXL OpenCLIP share the vocab).
// Mirrors transformers' slow CLIPTokenizer, which ComfyUI's SDTokenizer wraps:
//   special-token split → text clean-up (clipTextNormalize.ts) → pre-tokenizer regex →
//   UTF-8 bytes mapped to printable chars → BPE with "</w>" on the last symbol → vocab ids.

import { normalizeClipText, type ClipNormalization } from './clipTextNormalize';

export const CLIP_BOS_TOKEN = '<|startoftext|>';
export const CLIP_EOS_TOKEN = '<|endoftext|>';

// Same alternatives and order as CLIP's pattern; 'i' mirrors re.IGNORECASE (the text is already
// lowercased, so it only matters for contractions written in capitals on the 'ftfy' path).
const PRE_TOKENIZER =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

const SPECIAL_SPLIT = /(<\|startoftext\|>|<\|endoftext\|>)/;

// CLIP only reads this many merges (49152 vocab − 256 bytes − 2 specials); merges.txt has exactly them.
const MAX_MERGES = 49152 - 256 - 2;
const CACHE_LIMIT = 20000;

/**
 * GPT-2/CLIP byte → char table: printable Latin-1 bytes map to themselves, the other 68 bytes to
 * U+0100.. so that no BPE symbol is whitespace or a control char.
 */
function byteToUnicodeTable(): string[] {
  const table: string[] = new Array(256);
  const printable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = printable(b) ? String.fromCharCode(b) : String.fromCharCode(256 + next++);
  }
  return table;
}

export interface ClipTokenizerOptions {
  /** Text clean-up before BPE; see clipTextNormalize.ts. Default 'comfyui'. */
  normalization?: ClipNormalization;
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly normalization: ClipNormalization;
  private readonly encoder: Map<string, number>;
  /** id → token, built on first decode (encoding, the hot path, never needs it). */
  private decoderMap: Map<number, string> | undefined;
  private readonly ranks: Map<string, number>;
  private readonly byteEncoder = byteToUnicodeTable();
  private readonly byteDecoder: Map<string, number>;
  private readonly cache = new Map<string, string[]>();
  private readonly utf8 = new TextEncoder();
  private readonly utf8Decoder = new TextDecoder('utf-8', { fatal: false });

  /** @param vocabJson contents of vocab.json  @param mergesTxt contents of merges.txt */
  constructor(vocabJson: string, mergesTxt: string, options: ClipTokenizerOptions = {}) {
    this.normalization = options.normalization ?? 'comfyui';
    this.encoder = parseVocab(vocabJson);
    this.ranks = parseMerges(mergesTxt);
    this.byteDecoder = new Map(this.byteEncoder.map((c, b) => [c, b]));
    const bos = this.encoder.get(CLIP_BOS_TOKEN);
    const eos = this.encoder.get(CLIP_EOS_TOKEN);
    if (bos === undefined || eos === undefined) {
      throw new Error(`CLIP tokenizer: vocab.json lacks ${CLIP_BOS_TOKEN} or ${CLIP_EOS_TOKEN}`);
    }
    this.bosId = bos;
    this.eosId = eos;
    normalizeClipText('', this.normalization); // fail fast on an unknown mode
  }

  private decoder(): Map<number, string> {
    if (!this.decoderMap) {
      this.decoderMap = new Map();
      for (const [token, id] of this.encoder) this.decoderMap.set(id, token);
    }
    return this.decoderMap;
  }

  get vocabSize(): number {
    return this.encoder.size;
  }

  /** BPE token strings (with "</w>" markers), no BOS/EOS. */
  tokenize(text: string): string[] {
    if (typeof text !== 'string') {
      throw new Error(`CLIP tokenizer: expected a string prompt, got ${text === null ? 'null' : typeof text}`);
    }
    const out: string[] = [];
    // Special tokens written in the prompt stay whole, as transformers' added-token split does.
    for (const piece of text.split(SPECIAL_SPLIT)) {
      if (piece === '') continue;
      if (piece === CLIP_BOS_TOKEN || piece === CLIP_EOS_TOKEN) {
        out.push(piece);
        continue;
      }
      const clean = normalizeClipText(piece, this.normalization);
      for (const match of clean.matchAll(PRE_TOKENIZER)) {
        out.push(...this.bpe(this.toByteChars(match[0])));
      }
    }
    return out;
  }

  /** Token ids without BOS/EOS. */
  encode(text: string): number[] {
    return this.tokenize(text).map((t) => this.encoder.get(t) ?? this.eosId);
  }

  /** [BOS, ...ids, EOS]: what `tokenizer(text)["input_ids"]` returns in Python. */
  encodeWithSpecialTokens(text: string): number[] {
    return [this.bosId, ...this.encode(text), this.eosId];
  }

  tokenToId(token: string): number | undefined {
    return this.encoder.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.decoder().get(id);
  }

  /** Readable text of ids: bytes restored, "</w>" becomes a space, specials skipped if asked. */
  decode(ids: readonly number[], skipSpecialTokens = true): string {
    const bytes: number[] = [];
    let text = '';
    const flush = () => {
      text += this.utf8Decoder.decode(new Uint8Array(bytes));
      bytes.length = 0;
    };
    for (const id of ids) {
      const token = this.decoder().get(id);
      if (token === undefined) throw new Error(`CLIP tokenizer: id ${id} is not in the vocabulary`);
      if (token === CLIP_BOS_TOKEN || token === CLIP_EOS_TOKEN) {
        if (!skipSpecialTokens) {
          flush();
          text += token;
        }
        continue;
      }
      const wordEnd = token.endsWith('</w>');
      for (const ch of wordEnd ? token.slice(0, -4) : token) bytes.push(this.byteDecoder.get(ch) ?? 0x3f);
      if (wordEnd) bytes.push(0x20);
    }
    flush();
    return text.trim();
  }

  private toByteChars(piece: string): string {
    let s = '';
    for (const b of this.utf8.encode(piece)) s += this.byteEncoder[b];
    return s;
  }

  private bpe(token: string): string[] {
    if (token === CLIP_BOS_TOKEN || token === CLIP_EOS_TOKEN) return [token];
    const cached = this.cache.get(token);
    if (cached) return cached;
    // Byte chars are all in the BMP (≤ U+0143), so string indexing is per symbol.
    let word: string[] = token.split('');
    word[word.length - 1] += '</w>';
    while (word.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < word.length - 1; i++) {
        const rank = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      const first = word[best]!;
      const second = word[best + 1]!;
      // Merge every occurrence of the best pair, scanning left to right without overlap.
      const merged: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(word[i]!);
          i += 1;
        }
      }
      word = merged;
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(token, word);
    return word;
  }
}

function parseVocab(vocabJson: string): Map<string, number> {
  let raw: unknown;
  try {
    raw = JSON.parse(vocabJson);
  } catch (e) {
    throw new Error(`CLIP tokenizer: vocab.json is not valid JSON (${(e as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new Error('CLIP tokenizer: vocab.json must be an object mapping token strings to ids');
  }
  const map = new Map<string, number>();
  const obj = raw as Record<string, unknown>;
  for (const token in obj) {
    const id = obj[token];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new Error(`CLIP tokenizer: vocab.json entry "${token}" has id ${JSON.stringify(id)}, expected a non-negative integer`);
    }
    map.set(token, id);
  }
  return map;
}

function parseMerges(mergesTxt: string): Map<string, number> {
  const lines = mergesTxt.replace(/\r\n/g, '\n').trim().split('\n');
  // First line is the "#version: 0.2" header, as transformers skips it unconditionally.
  const merges = lines.slice(1, 1 + MAX_MERGES);
  if (merges.length === 0) throw new Error('CLIP tokenizer: merges.txt has no merge rules');
  const ranks = new Map<string, number>();
  merges.forEach((line, rank) => {
    // Loading sits on the first prompt's path: take the common "a b" form without a regex split.
    const space = line.indexOf(' ');
    let key: string;
    if (space > 0 && line.indexOf(' ', space + 1) < 0 && space < line.length - 1 && !/[\t\r\f\v]/.test(line)) {
      key = line;
    } else {
      const parts = line.split(/\s+/).filter((p) => p !== '');
      if (parts.length !== 2) {
        throw new Error(`CLIP tokenizer: merges.txt line ${rank + 2} is "${line}", expected two symbols`);
      }
      key = `${parts[0]} ${parts[1]}`;
    }
    // A repeated rule keeps its last rank, as Python's dict(zip(merges, range(n))) does.
    ranks.set(key, rank);
  });
  return ranks;
}
