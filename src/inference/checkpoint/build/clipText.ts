// The CLIP text transformer (ComfyUI's comfy/clip_model.py CLIPTextModel, HF naming) as an ONNX
// graph: input_ids int32 [B, S] and extra_token_embeddings float32 [E, D] → last_hidden_state
// (final LayerNorm applied), pooler_output (at the first EOS, through text_projection when the
// file has one), and for clip skip both hidden_states.<i> (after i layers, as HF/optimum exports
// name them) and hidden_states_normed.<i> (the same with the final LayerNorm, what ComfyUI's
// CLIPSetLastLayer feeds the U-Net: layer_norm_hidden_state=True).
//
// Textual-inversion embeddings: an id −(k+1) in input_ids takes row k of extra_token_embeddings
// instead of a row of the token table, which is what ComfyUI does when it splices an embedding's
// vectors into the token embeddings (sd1_clip.py process_tokens). The token table stays inside
// the graph (its fp16 storage and any weight patching apply as before), and a prompt without
// embeddings (all ids ≥ 0, one unused zero row fed) computes exactly what it did before: the
// same Gather rows, selected by Where.
//
// SDXL's OpenCLIP-G names its projected pooled output `text_embeds`, as optimum's text_encoder_2
// (CLIPTextModelWithProjection) does; SDXL reads the raw hidden_states.<i>
// (layer_norm_hidden_state=False).
import * as nn from '../../onnx/nn';
import { writeStreamedModel } from '../../onnx/writeModel';
import { add, layerNormW, linearW, weightType } from './blocks';
import type { BuildOptions, ClipTextConfig, WeightSource } from './types';
import { WeightReader } from './weights';

/** torch.finfo(float32).min: softmax gives these exactly zero weight, like ComfyUI's −inf. */
const MASKED = -3.4028234663852886e38;

export async function writeClipTextOnnx(outFile: string, cfg: ClipTextConfig, w: WeightSource, opts: BuildOptions): Promise<void> {
  const kernel = opts.attention ?? 'matmul';
  await writeStreamedModel(outFile, 'text_encoder', weightType(opts.precision), async (g) => {
    const r = new WeightReader(g, w, 'CLIP text encoder', opts.onProgress);
    const D = cfg.hiddenSize;
    const P = cfg.maxPositions;
    const dimHead = D / cfg.numHeads;
    if (!Number.isInteger(dimHead)) throw new Error(`CLIP text encoder: hidden size ${D} is not divisible by ${cfg.numHeads} heads`);
    const ids = g.input('input_ids', 'int32', ['batch_size', 'sequence_length']);
    const seq = nn.shapeSlice(g, ids, 1, 2);
    const zero = g.constI64('zero1', [0]);

    const extra = g.input('extra_token_embeddings', 'float32', ['extra_tokens', D]);

    const tokenTable = await r.tensor('text_model.embeddings.token_embedding.weight', [cfg.vocabSize, D]);
    const posTable = await r.tensor('text_model.embeddings.position_embedding.weight', [P, D]);
    const ids64 = nn.castTo(g, ids, 'int64');
    const zeroId = g.constI64('zero_id', [0], []);
    const isExtra = g.op('Less', [ids64, zeroId], {}, 'is_extra_token');
    // Token ids with embedding slots set to 0: the table lookup and the EOS search read these.
    const tokenIds = g.op('Where', [isExtra, zeroId, ids64], {}, 'token_ids');
    const extraIds = g.op('Where', [isExtra, g.op('Sub', [g.op('Neg', [ids64], {}, 'neg_ids'), g.constI64('one_id', [1], [])], {}, 'extra_index'), zeroId], {}, 'extra_ids');
    const tok = g.op('Where', [
      g.op('Unsqueeze', [isExtra, g.constI64('last_axis', [-1])], {}, 'is_extra_3d'),
      g.op('Gather', [extra, extraIds], { axis: { i: 0 } }, 'extra_embed'),
      g.op('Gather', [tokenTable, tokenIds], { axis: { i: 0 } }, 'token_embed'),
    ], {}, 'input_embeds');
    const pos = g.op('Slice', [posTable, zero, seq, zero], {}, 'pos_embed');
    let h = g.op('Add', [tok, pos], {}, 'embeddings');

    const maskValues = new Float32Array(P * P);
    for (let i = 0; i < P; i++) for (let j = i + 1; j < P; j++) maskValues[i * P + j] = MASKED;
    const maskTable = g.constF('causal_mask', [P, P], maskValues);
    const mask = g.op('Slice', [maskTable, g.constI64('zero2', [0, 0]), g.op('Concat', [seq, seq], { axis: { i: 0 } })], {}, 'mask');

    const act = (x: string) => (cfg.activation === 'gelu' ? nn.gelu(g, x) : nn.quickGelu(g, x));
    const hidden: string[] = [h];
    for (let i = 0; i < cfg.numLayers; i++) {
      const p = `text_model.encoder.layers.${i}`;
      const n = await layerNormW(r, h, `${p}.layer_norm1`, D);
      const q = await linearW(r, n, `${p}.self_attn.q_proj`, D, D);
      const k = await linearW(r, n, `${p}.self_attn.k_proj`, D, D);
      const v = await linearW(r, n, `${p}.self_attn.v_proj`, D, D);
      const o = nn.attention(g, q, k, v, cfg.numHeads, dimHead, { mask, kernel, hint: `${p}.self_attn` });
      h = add(r, h, await linearW(r, o, `${p}.self_attn.out_proj`, D, D), `${p}.attn_res`);
      const m = await linearW(r, act(await linearW(r, await layerNormW(r, h, `${p}.layer_norm2`, D), `${p}.mlp.fc1`, D, cfg.intermediateSize)), `${p}.mlp.fc2`, cfg.intermediateSize, D);
      h = add(r, h, m, `${p}.mlp_res`);
      hidden.push(h);
    }
    const finalScale = await r.tensor('text_model.final_layer_norm.weight', [D]);
    const finalBias = await r.tensor('text_model.final_layer_norm.bias', [D]);
    const finalNorm = (x: string) => nn.layerNorm(g, x, finalScale, finalBias, 1e-5, 'final_layer_norm');
    const last = finalNorm(h);

    // ComfyUI pools at the first EOS (num_tokens − 1), the largest id in CLIP's vocabulary, so
    // argmax over the token ids finds it; embedding slots count as 0 there.
    const eosIndex = g.op('ArgMax', [nn.castTo(g, tokenIds, 'float32')], { axis: { i: 1 }, keepdims: { i: 1 }, select_last_index: { i: 0 } }, 'eos_index');
    let pooled = g.op('GatherND', [last, nn.castTo(g, eosIndex, 'int64')], { batch_dims: { i: 1 } }, 'pooled');
    if (r.has('text_projection.weight')) {
      const [outDim, inDim] = r.shape('text_projection.weight');
      pooled = await linearW(r, pooled, 'text_projection', inDim, outDim, false);
    }
    const seqDims = ['batch_size', 'sequence_length', D];
    g.output('last_hidden_state', last, 'float32', seqDims);
    g.output(cfg.kind === 'open-clip-g' ? 'text_embeds' : 'pooler_output', pooled, 'float32', ['batch_size', r.has('text_projection.weight') ? r.shape('text_projection.weight')[0] : D]);
    hidden.forEach((hs, i) => g.output(`hidden_states.${i}`, hs, 'float32', seqDims));
    hidden.forEach((hs, i) => {
      if (i > 0) g.output(`hidden_states_normed.${i}`, i === cfg.numLayers ? last : finalNorm(hs), 'float32', seqDims);
    });
    r.finish();
  });
}
