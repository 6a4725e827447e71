// ComfyUI's SDTokenizer.tokenize_with_weights (comfy/sd1_clip.py, v0.3.x) for CLIP encoders.
//
// How ComfyUI really groups and chunks (checked against the code, it differs from older ComfyUI
// and from A1111):
// * Each weighted segment is tokenized as ONE piece of text (older ComfyUI split on spaces and
//   tokenized word by word; that changed before 0.3.x). A segment is only cut where
//   "embedding:" follows a space or a newline (re.split(' embedding:|\nembedding:'): a tab or
//   a comma before it leaves it text), so "embedding:name" starts its own group.
// * A group shorter than maxWordLength (8) tokens that does not fit into the current chunk
//   moves whole to the next chunk; the current chunk is closed with EOS and padded.
// * A group of 8 or more tokens is cut exactly at the chunk boundary (75 tokens + BOS + EOS).
//   So a long unweighted prompt fills chunks 75 by 75, while "(red:1.1) ball" style short
//   segments are kept together.
// * BOS/EOS/pad carry weight 1.0. The last chunk is padded to maxLength with the pad id.
// * "embedding:name" (textual inversion): the name is the first whitespace-separated word
//   after the prefix, punctuation included; the `embeddings` lookup gives its vectors, which become one group of
//   tokens with the segment's weight, chunked like words (8 or more vectors may split across
//   chunks). A name not found is retried without surrounding commas, the commas then staying as
//   text. A name still not found is dropped and reported in missingEmbeddings (ComfyUI logs
//   "embedding:name does not exist, ignoring"). The words after the name are tokenized as text.

import type { ClipTokenizer } from './clipTokenizer';
import { parsePromptWeights } from './promptWeights';

export interface WeightedToken {
  /** Vocabulary id; EMBEDDING_TOKEN_ID for a textual-inversion vector (then `vector` is set). */
  id: number;
  weight: number;
  /** A textual-inversion embedding's vector, used instead of the token table's row. */
  vector?: Float32Array;
  /** The embedding's name as written in the prompt (with `vector`). */
  embedding?: string;
}

/** The id a token of an embedding carries: no vocabulary id, the vector stands in for it. */
export const EMBEDDING_TOKEN_ID = -1;

/** Vectors of the embedding `name` (one per token), or undefined when there is none. May throw for a bad file. */
export type EmbeddingLookup = (name: string) => readonly Float32Array[] | undefined;

export interface TokenizeWithWeightsOptions {
  /** Tokens per chunk including BOS and EOS. Default 77. */
  maxLength?: number;
  /** Padding id: EOS (49407) for SD1 CLIP-L and SDXL clip_l; 0 ("!") for SD2 and SDXL clip_g. Default: EOS. */
  padId?: number;
  /** Groups with at least this many tokens may be split across chunks. Default 8 (ComfyUI). */
  maxWordLength?: number;
  /** Parse "(text:1.2)" weights. false = whole prompt at weight 1 (ComfyUI's disable_weights). */
  weights?: boolean;
  /** Finds textual-inversion embeddings; without it every "embedding:name" is missing. */
  embeddings?: EmbeddingLookup;
}

export interface TokenizedPrompt {
  /** Each chunk has exactly maxLength entries: BOS, tokens, EOS, padding. */
  chunks: WeightedToken[][];
  /** Real prompt tokens, without BOS/EOS/padding (what a UI shows as "n tokens"). */
  tokenCount: number;
  /** Names written as "embedding:name" that were dropped because no embedding of that name exists. */
  missingEmbeddings: string[];
  /** Names of the embeddings placed, in prompt order (a name used twice appears twice). */
  usedEmbeddings: string[];
}

const EMBEDDING_PREFIX = 'embedding:';

/** What Python's str.split() splits on (str.isspace): JS's \s plus \x1c–\x1f and \x85, less U+FEFF. */
const PYTHON_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;

/** Splits at " embedding:" and "\nembedding:" (the separator is dropped); each later piece keeps its prefix. */
function splitAtEmbeddings(text: string): string[] {
  const pieces = text.split(/ embedding:|\nembedding:/u);
  return [pieces[0]!, ...pieces.slice(1).map((p) => EMBEDDING_PREFIX + p)].filter((p) => p !== '');
}

interface EmbeddingPiece {
  /** The name looked up last ('' when the prefix had no name). */
  name: string;
  vectors: readonly Float32Array[] | undefined;
  /** Text after the name, tokenized as words. */
  leftover: string;
}

/** ComfyUI's _try_get_embedding on the text after "embedding:". */
function resolveEmbedding(piece: string, lookup: EmbeddingLookup | undefined): EmbeddingPiece {
  const words = piece.slice(EMBEDDING_PREFIX.length).replace(/^\n+|\n+$/g, '').split(PYTHON_WHITESPACE).filter((w) => w !== '');
  const name = words[0] ?? '';
  const leftover = words.slice(1).join(' ');
  if (name === '') return { name, vectors: undefined, leftover };
  const find = (n: string) => (lookup && n !== '' ? lookup(n) : undefined);
  const vectors = find(name);
  if (vectors !== undefined) return { name, vectors, leftover };
  const stripped = name.replace(/^,+|,+$/g, '');
  if (stripped.length < name.length) {
    // Python's name[len(stripped):]: the trailing commas when only trailing ones were stripped.
    return { name: stripped || name, vectors: find(stripped), leftover: `${name.slice(stripped.length)} ${leftover}` };
  }
  return { name, vectors: undefined, leftover };
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
  const usedEmbeddings: string[] = [];
  for (const [segment, weight] of segments) {
    for (let piece of splitAtEmbeddings(segment)) {
      if (piece.startsWith(EMBEDDING_PREFIX)) {
        const found = resolveEmbedding(piece, options.embeddings);
        if (found.vectors !== undefined) {
          usedEmbeddings.push(found.name);
          groups.push(found.vectors.map((vector) => ({ id: EMBEDDING_TOKEN_ID, weight, vector, embedding: found.name })));
        } else if (found.name !== '') {
          missingEmbeddings.push(found.name);
        }
        piece = found.leftover;
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
  return { chunks, tokenCount, missingEmbeddings, usedEmbeddings };
}
