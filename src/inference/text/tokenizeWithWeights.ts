// ComfyUI's SDTokenizer.tokenize_with_weights (comfy/sd1_clip.py, v0.3.x) for CLIP encoders.
//
// How ComfyUI really groups and chunks (checked against the code, it differs from older ComfyUI
// and from A1111):
// * Each weighted segment is tokenized as ONE piece of text (older ComfyUI split on spaces and
//   tokenized word by word; that changed before 0.3.x). A segment is only cut where
//   "embedding:" follows whitespace, so "embedding:name" starts its own group.
// * A group shorter than maxWordLength (8) tokens that does not fit into the current chunk
//   moves whole to the next chunk; the current chunk is closed with EOS and padded.
// * A group of 8 or more tokens is cut exactly at the chunk boundary (75 tokens + BOS + EOS).
//   So a long unweighted prompt fills chunks 75 by 75, while "(red:1.1) ball" style short
//   segments are kept together.
// * BOS/EOS/pad carry weight 1.0. The last chunk is padded to maxLength with the pad id.
// * Textual-inversion embeddings are not supported: like ComfyUI when the file is missing, the
//   name after "embedding:" is dropped (reported in missingEmbeddings) and the rest of that
//   piece is tokenized as text.

import type { ClipTokenizer } from './clipTokenizer';
import { parsePromptWeights } from './promptWeights';

export interface WeightedToken {
  id: number;
  weight: number;
}

export interface TokenizeWithWeightsOptions {
  /** Tokens per chunk including BOS and EOS. Default 77. */
  maxLength?: number;
  /** Padding id: EOS (49407) for SD1 CLIP-L and SDXL clip_l; 0 ("!") for SD2 and SDXL clip_g. Default: EOS. */
  padId?: number;
  /** Groups with at least this many tokens may be split across chunks. Default 8 (ComfyUI). */
  maxWordLength?: number;
  /** Parse "(text:1.2)" weights. false = whole prompt at weight 1 (ComfyUI's disable_weights). */
  weights?: boolean;
}

export interface TokenizedPrompt {
  /** Each chunk has exactly maxLength entries: BOS, tokens, EOS, padding. */
  chunks: WeightedToken[][];
  /** Real prompt tokens, without BOS/EOS/padding (what a UI shows as "n tokens"). */
  tokenCount: number;
  /** Names written as "embedding:name" that were dropped because embeddings are unsupported. */
  missingEmbeddings: string[];
}

const EMBEDDING_PREFIX = 'embedding:';

/** Splits where "embedding:" follows whitespace; each later piece keeps its prefix. */
function splitAtEmbeddings(text: string): string[] {
  const pieces = text.split(/(?<=\s)embedding:/u);
  return [pieces[0]!, ...pieces.slice(1).map((p) => EMBEDDING_PREFIX + p)].filter((p) => p !== '');
}

/**
 * What ComfyUI tokenizes after failing to load an embedding: the words after the name, with
 * any trailing commas of the name kept (its _try_get_embedding).
 */
function afterMissingEmbedding(piece: string, missing: string[]): string {
  const words = piece.slice(EMBEDDING_PREFIX.length).replace(/^\n+|\n+$/g, '').split(/\s+/u).filter((w) => w !== '');
  let name = words[0] ?? '';
  let leftover = words.slice(1).join(' ');
  const bracket = name.search(/[<[]/);
  if (bracket >= 0) {
    leftover = name.slice(bracket) + (leftover ? ` ${leftover}` : '');
    name = name.slice(0, bracket);
  }
  const stripped = name.replace(/^,+|,+$/g, '');
  if (name !== '') missing.push(stripped || name);
  if (stripped.length < name.length) return `${name.slice(stripped.length)} ${leftover}`;
  return leftover;
}

export function tokenizeWithWeights(
  tokenizer: ClipTokenizer,
  prompt: string,
  options: TokenizeWithWeightsOptions = {},
): TokenizedPrompt {
  const maxLength = options.maxLength ?? 77;
  const maxWordLength = options.maxWordLength ?? 8;
  const padId = options.padId ?? tokenizer.eosId;
  if (!Number.isInteger(maxLength) || maxLength < 3) {
    throw new Error(`tokenizeWithWeights: maxLength must be an integer ≥ 3 (BOS, a token, EOS), got ${maxLength}`);
  }
  if (!Number.isInteger(padId) || tokenizer.idToToken(padId) === undefined) {
    throw new Error(`tokenizeWithWeights: padId ${padId} is not a token id of this vocabulary`);
  }
  const bos = tokenizer.bosId;
  const eos = tokenizer.eosId;

  // With weights off ComfyUI still resolves \( and \) escapes (escape → no parse → unescape).
  const segments =
    options.weights === false
      ? [[prompt.split('\\(').join('(').split('\\)').join(')'), 1.0] as const]
      : parsePromptWeights(prompt);
  const groups: WeightedToken[][] = [];
  const missingEmbeddings: string[] = [];
  for (const [segment, weight] of segments) {
    for (let piece of splitAtEmbeddings(segment)) {
      if (piece.startsWith(EMBEDDING_PREFIX)) {
        piece = afterMissingEmbedding(piece, missingEmbeddings);
        if (piece === '') continue;
      }
      groups.push(tokenizer.encode(piece).map((id) => ({ id, weight })));
    }
  }

  const chunks: WeightedToken[][] = [];
  let chunk: WeightedToken[] = [{ id: bos, weight: 1.0 }];
  chunks.push(chunk);
  const closeChunk = () => {
    chunk.push({ id: eos, weight: 1.0 });
    while (chunk.length < maxLength) chunk.push({ id: padId, weight: 1.0 });
    chunk = [{ id: bos, weight: 1.0 }];
    chunks.push(chunk);
  };
  for (let group of groups) {
    const splittable = group.length >= maxWordLength;
    while (group.length > 0) {
      if (group.length + chunk.length > maxLength - 1) {
        if (splittable) {
          const room = maxLength - chunk.length - 1;
          chunk.push(...group.slice(0, room));
          group = group.slice(room);
        }
        closeChunk();
      } else {
        chunk.push(...group);
        group = [];
      }
    }
  }
  chunk.push({ id: eos, weight: 1.0 });
  while (chunk.length < maxLength) chunk.push({ id: padId, weight: 1.0 });

  const tokenCount = groups.reduce((n, g) => n + g.length, 0);
  return { chunks, tokenCount, missingEmbeddings };
}
