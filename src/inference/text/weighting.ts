// ComfyUI's ClipTokenWeightEncoder.encode_token_weights as plain Float32Array math.
//
// What the Python does (checked, comfy/sd1_clip.py):
// * All chunks are encoded together as one batch. If ANY token of ANY chunk has a weight ≠ 1,
//   one extra row is appended: the "empty prompt" [BOS, EOS, pad, …] of the same length.
// * Then, per chunk and per token position j whose weight w ≠ 1 (tokens at exactly 1.0 are left
//   untouched, so unweighted prompts are bit-identical to a plain encode):
//       z[j] = (z[j] − z_empty[j]) · w + z_empty[j]
//   i.e. weights scale the distance from the empty prompt's hidden state at the same position.
// * Chunks are concatenated along the sequence axis → [77·k, D].
// * The pooled output is the first row's (first chunk), never an average.
// The arithmetic is rounded to float32 at each step, as torch does on float32 tensors.

import type { WeightedToken } from './tokenizeWithWeights';

export interface EncoderOutput {
  /** Row-major [rows, seq, D] hidden states (the layer the caller chose: last, penultimate…). */
  hidden: Float32Array;
  /** Row-major [rows, P] pooled/projected output, when the encoder has one. */
  pooled?: Float32Array | null;
}

/**
 * Runs the text encoder on a batch of id rows (all the same length). An id −(k+1) stands for
 * `embeddings[k]`, a textual-inversion vector to use instead of a token-table row.
 */
export type EncodeIds = (ids: number[][], embeddings: readonly Float32Array[]) => Promise<EncoderOutput>;

export interface SpecialTokenIds {
  bos: number;
  eos: number;
  /** 49407 for CLIP-L, 0 for OpenCLIP (SD2, SDXL clip_g). */
  pad: number;
}

export interface EncodedPrompt {
  /** Row-major [seq·k, D] conditioning, chunks concatenated along the sequence axis. */
  cond: Float32Array;
  /** [1, seq·k, D] */
  shape: [1, number, number];
  /** First chunk's pooled output [P], or null when the encoder returned none. */
  pooled: Float32Array | null;
}

/** ComfyUI's gen_empty_tokens: [BOS, EOS, pad, …] of the given length. */
export function emptyPromptIds(length: number, special: SpecialTokenIds): number[] {
  const ids = [special.bos, special.eos];
  while (ids.length < length) ids.push(special.pad);
  return ids.slice(0, Math.max(length, 0));
}

export function hasNonUnitWeights(chunks: readonly (readonly WeightedToken[])[]): boolean {
  return chunks.some((c) => c.some((t) => t.weight !== 1.0));
}

/**
 * Applies per-token weights in place-free fashion and concatenates the chunks.
 * @param hidden [k, seq, D] hidden states of the chunks (extra rows after k are ignored)
 * @param empty  [seq, D] hidden states of the empty prompt
 */
export function applyTokenWeights(
  hidden: Float32Array,
  weights: readonly (readonly number[])[],
  empty: Float32Array,
  dim: number,
): Float32Array {
  const k = weights.length;
  if (k === 0) throw new Error('applyTokenWeights: no chunks given');
  const seq = weights[0]!.length;
  weights.forEach((row, i) => {
    if (row.length !== seq) throw new Error(`applyTokenWeights: chunk ${i} has ${row.length} weights, chunk 0 has ${seq}`);
  });
  if (!Number.isInteger(dim) || dim <= 0) throw new Error(`applyTokenWeights: hidden size must be a positive integer, got ${dim}`);
  if (hidden.length < k * seq * dim) {
    throw new Error(`applyTokenWeights: hidden has ${hidden.length} values, ${k} chunks × ${seq} tokens × ${dim} need ${k * seq * dim}`);
  }
  if (empty.length !== seq * dim) {
    throw new Error(`applyTokenWeights: empty-prompt hidden has ${empty.length} values, expected ${seq} × ${dim} = ${seq * dim}`);
  }
  const out = hidden.slice(0, k * seq * dim);
  const f = Math.fround;
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < seq; j++) {
      const w = weights[c]![j]!;
      if (w === 1.0) continue;
      if (!Number.isFinite(w)) throw new Error(`applyTokenWeights: chunk ${c} token ${j} has weight ${w}, expected a finite number`);
      const w32 = f(w);
      const base = (c * seq + j) * dim;
      const eBase = j * dim;
      for (let d = 0; d < dim; d++) {
        const e = empty[eBase + d]!;
        out[base + d] = f(f(f(out[base + d]! - e) * w32) + e);
      }
    }
  }
  return out;
}

/**
 * Encodes weighted chunks the way ComfyUI's CLIPTextEncode does, given an encoder callback.
 * The callback is called once with every chunk (plus the empty prompt when weights are used);
 * an encoder limited to batch 1 can loop inside the callback.
 */
export async function encodeTokenWeights(
  chunks: readonly (readonly WeightedToken[])[],
  encode: EncodeIds,
  special: SpecialTokenIds,
): Promise<EncodedPrompt> {
  const maxLen = chunks.reduce((m, c) => Math.max(m, c.length), 0);
  const withWeights = hasNonUnitWeights(chunks);
  const embeddings: Float32Array[] = [];
  const rows = chunks.map((c) =>
    c.map((t) => {
      if (!t.vector) return t.id;
      embeddings.push(t.vector);
      return -embeddings.length;
    }),
  );
  if (withWeights || rows.length === 0) rows.push(emptyPromptIds(maxLen, special));
  if (rows.some((r) => r.length !== maxLen)) {
    throw new Error(`encodeTokenWeights: all chunks must have the same length (${maxLen}); tokenizeWithWeights pads them`);
  }
  if (maxLen === 0) throw new Error('encodeTokenWeights: chunks are empty; expected at least [BOS, EOS]');

  const result = await encode(rows, embeddings);
  if (!result || !(result.hidden instanceof Float32Array)) {
    throw new Error('encodeTokenWeights: the encoder callback must return { hidden: Float32Array }');
  }
  const perRow = result.hidden.length / rows.length;
  const dim = perRow / maxLen;
  if (!Number.isInteger(dim) || dim <= 0) {
    throw new Error(
      `encodeTokenWeights: encoder returned ${result.hidden.length} hidden values for ${rows.length} rows × ${maxLen} tokens; expected a multiple of ${rows.length * maxLen}`,
    );
  }

  let pooled: Float32Array | null = null;
  if (result.pooled) {
    const p = result.pooled.length / rows.length;
    if (!Number.isInteger(p) || p <= 0) {
      throw new Error(`encodeTokenWeights: pooled has ${result.pooled.length} values, not a multiple of ${rows.length} rows`);
    }
    pooled = result.pooled.slice(0, p);
  }

  const k = chunks.length;
  let cond: Float32Array;
  if (k === 0) {
    cond = result.hidden.slice(0, perRow);
  } else if (withWeights) {
    const empty = result.hidden.subarray(k * perRow, (k + 1) * perRow);
    cond = applyTokenWeights(result.hidden, chunks.map((c) => c.map((t) => t.weight)), empty, dim);
  } else {
    cond = result.hidden.slice(0, k * perRow);
  }
  return { cond, shape: [1, Math.max(k, 1) * maxLen, dim], pooled };
}
