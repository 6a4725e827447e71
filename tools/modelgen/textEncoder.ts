// A small causal transformer with CLIPTextModel's ONNX interface:
// input_ids [batch, sequence] → last_hidden_state, pooler_output, hidden_states.0..N.
import { GraphBuilder, type BuiltModel } from '../../src/inference/onnx/graphBuilder';
import { Layers } from './layers';
import type { Prng } from './prng';
import type { ModelVariant, NetworkSizes } from './spec';

export const CLIP_MAX_POSITIONS = 77;

export function buildTextEncoder(sizes: NetworkSizes, variant: ModelVariant, rng: Prng): BuiltModel {
  const g = new GraphBuilder('text_encoder', variant.weights);
  const L = new Layers(g, rng);
  const D = sizes.hidden;
  const ids = g.input('input_ids', variant.inputIds, ['batch_size', 'sequence_length']);

  // Hashed token embedding: multiply by a large odd constant before the modulo so that
  // neighbouring ids (and the BOS/EOS pair) land in unrelated rows.
  const ids64 = variant.inputIds === 'int64' ? ids : g.op('Cast', [ids], { to: { i: 7 } }, 'ids_int64');
  const bucket = g.op('Mod', [g.op('Mul', [ids64, g.constI64('hash_mul', [2654435761], [])]), g.constI64('buckets', [sizes.tokenBuckets], [])], { fmod: { i: 0 } }, 'bucket');
  const tokenTable = g.weight('token_embedding', [sizes.tokenBuckets, D], rng.normals(sizes.tokenBuckets * D, 1));
  const tok = g.op('Gather', [tokenTable, bucket], { axis: { i: 0 } }, 'token_embed');

  // Positions 0..S-1: Range over the runtime sequence length, like CLIP's position_ids.
  const seqLen = g.op('Squeeze', [L.shapeSlice(ids, 1, 2)], {}, 'seq_len');
  const positions = g.op('Range', [g.constI64('zero', [0], []), seqLen, g.constI64('one', [1], [])], {}, 'positions');
  const posTable = g.weight('position_embedding', [CLIP_MAX_POSITIONS, D], rng.normals(CLIP_MAX_POSITIONS * D, 0.5));
  let h = g.op('Add', [tok, g.op('Gather', [posTable, positions], { axis: { i: 0 } }, 'pos_embed')], {}, 'embeddings');

  // Causal mask sliced to [S, S] from a fixed 77×77 table (CLIP attends only to earlier tokens).
  const maskValues = new Float32Array(CLIP_MAX_POSITIONS * CLIP_MAX_POSITIONS);
  for (let i = 0; i < CLIP_MAX_POSITIONS; i++) for (let j = i + 1; j < CLIP_MAX_POSITIONS; j++) maskValues[i * CLIP_MAX_POSITIONS + j] = -1e4;
  const maskTable = g.constF('causal_mask', [CLIP_MAX_POSITIONS, CLIP_MAX_POSITIONS], maskValues);
  const seq1 = L.shapeSlice(ids, 1, 2);
  const mask = g.op('Slice', [maskTable, g.constI64('mask_starts', [0, 0]), g.op('Concat', [seq1, seq1], { axis: { i: 0 } })], {}, 'mask');

  const hidden: string[] = [h];
  for (let i = 0; i < sizes.textLayers; i++) {
    const p = `layers.${i}`;
    const n = L.layerNorm(h, D, `${p}.ln1`);
    const attn = L.attention(n, n, { qDim: D, kvDim: D, inner: sizes.textInner, outDim: D }, `${p}.attn`, mask);
    h = g.op('Add', [h, attn], {}, `${p}_attn_res`);
    const mlp = L.linear(L.quickGelu(L.linear(L.layerNorm(h, D, `${p}.ln2`), D, sizes.textMlp, `${p}.fc1`)), sizes.textMlp, D, `${p}.fc2`, { gain: 0.7 });
    h = g.op('Add', [h, mlp], {}, `${p}_mlp_res`);
    hidden.push(h);
  }
  const last = L.layerNorm(h, D, 'final_layer_norm');

  // pooler_output = last_hidden_state at the EOS position, found as argmax(input_ids) like CLIP.
  const eosIndex = g.op('ArgMax', [g.op('Cast', [ids], { to: { i: 1 } }, 'ids_float')], { axis: { i: 1 }, keepdims: { i: 1 } }, 'eos_index');
  const pooled = g.op('GatherND', [last, eosIndex], { batch_dims: { i: 1 } }, 'pooled');

  const io = variant.io;
  const out = (x: string) => (io === 'float16' ? g.op('Cast', [x], { to: { i: 10 } }, 'to_fp16') : x);
  g.output('last_hidden_state', out(last), io, ['batch_size', 'sequence_length', D]);
  g.output('pooler_output', out(pooled), io, ['batch_size', D]);
  hidden.forEach((hs, i) => g.output(`hidden_states.${i}`, out(hs), io, ['batch_size', 'sequence_length', D]));
  return g.build();
}
