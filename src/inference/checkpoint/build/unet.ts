// The LDM U-Net (ComfyUI's comfy/ldm/modules/diffusionmodules/openaimodel.py UNetModel) as an
// ONNX graph: sample [B, C, h, w], timestep [B] (the float timestep ComfyUI passes), and
// encoder_hidden_states [B, S, contextDim] → out_sample [B, outChannels, h, w]. SDXL U-Nets also
// take optimum's text_embeds [B, pooled] and time_ids [B, 6] (base: original h, w, crop top, left,
// target h, w) or [B, 5] (refiner: …, aesthetic score) and build ComfyUI's ADM vector inside the
// graph: pooled ‖ timestep_embedding(value, 256) per value, through label_emb, added to the time
// embedding. Exported SDXL ONNX folders take the same inputs, so both share one run path.
import * as nn from '../../onnx/nn';
import { writeStreamedModel } from '../../onnx/writeModel';
import { add, convW, groupNormW, layerNormW, linearW, weightType } from './blocks';
import type { BuildOptions, UnetConfig, WeightSource } from './types';
import { WeightReader } from './weights';
import { SDXL_FOURIER_DIM } from '../unetConfig';

const GN_EPS = 1e-5;
/** SpatialTransformer's own GroupNorm uses 1e-6 (attention.py). */
const ST_GN_EPS = 1e-6;

/**
 * Frequencies of ComfyUI's timestep_embedding, rounded as PyTorch computes them in float32:
 * exp(−ln(10000) · i / half) with each operation in float32.
 */
export function timestepFrequencies(dim: number, maxPeriod = 10000): Float32Array {
  const half = Math.floor(dim / 2);
  const k = Math.fround(-Math.log(maxPeriod));
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) out[i] = Math.exp(Math.fround(Math.fround(k * i) / half));
  return out;
}

/**
 * Transformer depths in ComfyUI's unet_config layout: `transformer_depth` has one entry per input
 * ResBlock, consumed from the front (pop(0)); `transformer_depth_output` one per output block,
 * consumed from the BACK (pop()), so its last entry is output block 0. A list with one entry per
 * level (when that differs from the block count) is read per level.
 */
export function inputDepth(cfg: UnetConfig, level: number, resIndex: number): number {
  const list = cfg.transformerDepth;
  const blocks = cfg.numResBlocks.reduce((a, b) => a + b, 0);
  return list.length === cfg.channelMult.length && list.length !== blocks ? list[level] : (list[resIndex] ?? 0);
}

export function outputDepth(cfg: UnetConfig, level: number, block: number): number {
  const list = cfg.transformerDepthOutput;
  const blocks = cfg.numResBlocks.reduce((a, b) => a + b + 1, 0);
  if (list.length === cfg.channelMult.length && list.length !== blocks) return list[level];
  return list[list.length - 1 - block] ?? 0;
}

interface Heads {
  heads: number;
  dimHead: number;
}

export async function writeUnetOnnx(outFile: string, cfg: UnetConfig, w: WeightSource, opts: BuildOptions): Promise<void> {
  const timeValues = cfg.admTimeValues ?? 0;
  const pooledDim = (cfg.admInChannels ?? 0) - SDXL_FOURIER_DIM * timeValues;
  if (cfg.admInChannels && (!timeValues || pooledDim <= 0)) throw new Error('U-Net: class/ADM-conditioned U-Nets other than SDXL (unCLIP) are not supported yet');
  // ORT's fused MultiHeadAttention was faster per step than MatMul/Softmax on the CPU EP in every
  // measured pair (18–48 %, BENCHMARKS.md, issue 8); 'matmul' stays for EPs without the contrib op.
  const kernel = opts.attention ?? 'ort-mha';
  await writeStreamedModel(
    outFile,
    'unet',
    weightType(opts.precision),
    async (g) => {
      const r = new WeightReader(g, w, 'U-Net', opts.onProgress);
      const mc = cfg.modelChannels;
      const embDim = mc * 4;
      const levels = cfg.channelMult.length;
      const headsFor = (ch: number): Heads =>
        cfg.numHeadChannels > 0 ? { heads: ch / cfg.numHeadChannels, dimHead: cfg.numHeadChannels } : { heads: cfg.numHeads, dimHead: ch / cfg.numHeads };

      const sample = g.input('sample', 'float32', ['batch_size', cfg.inChannels, 'height', 'width']);
      const timestep = g.input('timestep', 'float32', ['batch_size']);
      const context = g.input('encoder_hidden_states', 'float32', ['batch_size', 'sequence_length', cfg.contextDim]);

      // timestep_embedding: args = t[:, None] · freqs in float32 (as PyTorch), then cos/sin in
      // float64 and rounded once to float32, i.e. correctly rounded like PyTorch's float32 kernels.
      const freqs = timestepFrequencies(mc);
      const args = g.op('Mul', [g.op('Reshape', [timestep, g.constI64('t_col', [-1, 1])]), g.constF('t_freqs', [1, freqs.length], freqs)], {}, 't_args');
      const args64 = nn.castTo(g, args, 'float64');
      const cos = nn.castTo(g, g.op('Cos', [args64]), 'float32');
      const sin = nn.castTo(g, g.op('Sin', [args64]), 'float32');
      const tEmb = g.op('Concat', [cos, sin], { axis: { i: 1 } }, 't_sinusoid');
      let emb = await linearW(r, nn.silu(g, await linearW(r, tEmb, 'time_embed.0', mc, embDim)), 'time_embed.2', embDim, embDim);
      if (cfg.admInChannels) {
        const textEmbeds = g.input('text_embeds', 'float32', ['batch_size', pooledDim]);
        const timeIds = g.input('time_ids', 'float32', ['batch_size', timeValues]);
        // Each value's embedding as ComfyUI's Timestep(256): cos ‖ sin of value · freqs, values in order.
        const fFreqs = timestepFrequencies(SDXL_FOURIER_DIM);
        const fArgs = g.op('Mul', [g.op('Reshape', [timeIds, g.constI64('adm_col', [-1, 1])]), g.constF('adm_freqs', [1, fFreqs.length], fFreqs)], {}, 'adm_args');
        const fArgs64 = nn.castTo(g, fArgs, 'float64');
        const fEmb = g.op('Concat', [nn.castTo(g, g.op('Cos', [fArgs64]), 'float32'), nn.castTo(g, g.op('Sin', [fArgs64]), 'float32')], { axis: { i: 1 } }, 'adm_fourier');
        const flat = g.op('Reshape', [fEmb, g.constI64('adm_flat', [-1, timeValues * SDXL_FOURIER_DIM])], {}, 'adm_sizes');
        const y = g.op('Concat', [textEmbeds, flat], { axis: { i: 1 } }, 'adm');
        const label = await linearW(r, nn.silu(g, await linearW(r, y, 'label_emb.0.0', cfg.admInChannels, embDim)), 'label_emb.0.2', embDim, embDim);
        emb = add(r, emb, label, 'label_emb_add');
      }
      const embAct = nn.silu(g, emb);
      const axes23 = g.constI64('axes_23', [2, 3]);

      const resBlock = async (x: string, prefix: string, cin: number, cout: number): Promise<string> => {
        let h = nn.silu(g, await groupNormW(r, x, `${prefix}.in_layers.0`, cin, GN_EPS));
        h = await convW(r, h, `${prefix}.in_layers.2`, cin, cout, { kernel: 3 });
        const e = g.op('Unsqueeze', [await linearW(r, embAct, `${prefix}.emb_layers.1`, embDim, cout), axes23], {}, `${prefix}.emb_4d`);
        h = add(r, h, e, `${prefix}.emb_add`);
        h = nn.silu(g, await groupNormW(r, h, `${prefix}.out_layers.0`, cout, GN_EPS));
        h = await convW(r, h, `${prefix}.out_layers.3`, cout, cout, { kernel: 3 });
        const skip = cin === cout ? x : await convW(r, x, `${prefix}.skip_connection`, cin, cout, { kernel: 1 });
        return add(r, skip, h, `${prefix}.out`);
      };

      const attention = async (x: string, ctx: string, prefix: string, dim: number, ctxDim: number, hd: Heads): Promise<string> => {
        const inner = hd.heads * hd.dimHead;
        const q = await linearW(r, x, `${prefix}.to_q`, dim, inner, false);
        const k = await linearW(r, ctx, `${prefix}.to_k`, ctxDim, inner, false);
        const v = await linearW(r, ctx, `${prefix}.to_v`, ctxDim, inner, false);
        const o = nn.attention(g, q, k, v, hd.heads, hd.dimHead, { kernel, hint: prefix });
        return linearW(r, o, `${prefix}.to_out.0`, inner, dim);
      };

      const transformerBlock = async (x: string, prefix: string, dim: number, hd: Heads): Promise<string> => {
        let h = x;
        const n1 = await layerNormW(r, h, `${prefix}.norm1`, dim);
        h = add(r, await attention(n1, n1, `${prefix}.attn1`, dim, dim, hd), h, `${prefix}.attn1_res`);
        const n2 = await layerNormW(r, h, `${prefix}.norm2`, dim);
        h = add(r, await attention(n2, context, `${prefix}.attn2`, dim, cfg.contextDim, hd), h, `${prefix}.attn2_res`);
        const n3 = await layerNormW(r, h, `${prefix}.norm3`, dim);
        const ffInner = dim * 4;
        // GEGLU: proj → (x, gate) halves; x · gelu(gate).
        const proj = await linearW(r, n3, `${prefix}.ff.net.0.proj`, dim, ffInner * 2);
        const [a, gate] = g.opMulti('Split', [proj, g.constI64(`${prefix}.geglu_split`, [ffInner, ffInner])], 2, { axis: { i: -1 } }, `${prefix}.geglu`);
        const ff = await linearW(r, g.op('Mul', [a, nn.gelu(g, gate)], {}, `${prefix}.geglu_out`), `${prefix}.ff.net.2`, ffInner, dim);
        return add(r, ff, h, `${prefix}.ff_res`);
      };

      const spatialTransformer = async (x: string, prefix: string, ch: number, depth: number): Promise<string> => {
        const hd = headsFor(ch);
        const inner = hd.heads * hd.dimHead;
        let h = await groupNormW(r, x, `${prefix}.norm`, ch, ST_GN_EPS);
        const toTokens = (t: string, c: number) => g.op('Transpose', [g.op('Reshape', [t, g.constI64(`${prefix}.flat`, [0, c, -1])])], { perm: { ints: [0, 2, 1] } }, `${prefix}.tokens`);
        if (cfg.useLinearInTransformer) h = await linearW(r, toTokens(h, ch), `${prefix}.proj_in`, ch, inner);
        else h = toTokens(await convW(r, h, `${prefix}.proj_in`, ch, inner, { kernel: 1 }), inner);
        for (let d = 0; d < depth; d++) h = await transformerBlock(h, `${prefix}.transformer_blocks.${d}`, inner, hd);
        const innerShape = g.op('Concat', [nn.shapeSlice(g, x, 0, 1), g.constI64(`${prefix}.inner`, [inner]), nn.shapeSlice(g, x, 2, 4)], { axis: { i: 0 } }, `${prefix}.map_shape`);
        const toMap = (t: string, shape: string) => g.op('Reshape', [g.op('Transpose', [t], { perm: { ints: [0, 2, 1] } }), shape], {}, `${prefix}.map`);
        if (cfg.useLinearInTransformer) h = toMap(await linearW(r, h, `${prefix}.proj_out`, inner, ch), g.op('Shape', [x]));
        else h = await convW(r, toMap(h, innerShape), `${prefix}.proj_out`, inner, ch, { kernel: 1 });
        return add(r, h, x, `${prefix}.out`);
      };

      // Input blocks.
      const skips: { value: string; ch: number }[] = [];
      let h = await convW(r, sample, 'input_blocks.0.0', cfg.inChannels, mc, { kernel: 3 });
      let ch = mc;
      skips.push({ value: h, ch });
      let block = 1;
      let resIndex = 0;
      for (let level = 0; level < levels; level++) {
        const cout = mc * cfg.channelMult[level];
        for (let n = 0; n < cfg.numResBlocks[level]; n++, resIndex++) {
          h = await resBlock(h, `input_blocks.${block}.0`, ch, cout);
          ch = cout;
          const depth = inputDepth(cfg, level, resIndex);
          if (depth > 0) h = await spatialTransformer(h, `input_blocks.${block}.1`, ch, depth);
          skips.push({ value: h, ch });
          block++;
        }
        if (level !== levels - 1) {
          h = await convW(r, h, `input_blocks.${block}.0.op`, ch, ch, { kernel: 3, stride: 2 });
          skips.push({ value: h, ch });
          block++;
        }
      }

      // Middle block.
      // As openaimodel.py: depth ≥ 0 → ResBlock, SpatialTransformer (depth may be 0), ResBlock;
      // −1 → one ResBlock; below that no middle block.
      if (cfg.transformerDepthMiddle >= -1) h = await resBlock(h, 'middle_block.0', ch, ch);
      if (cfg.transformerDepthMiddle >= 0) {
        h = await spatialTransformer(h, 'middle_block.1', ch, cfg.transformerDepthMiddle);
        h = await resBlock(h, 'middle_block.2', ch, ch);
      }

      // Output blocks: concat the matching skip, ResBlock, transformer, and upsample to the next skip's size.
      block = 0;
      for (let level = levels - 1; level >= 0; level--) {
        const cout = mc * cfg.channelMult[level];
        for (let i = 0; i <= cfg.numResBlocks[level]; i++, block++) {
          const skip = skips.pop()!;
          h = g.op('Concat', [h, skip.value], { axis: { i: 1 } }, `output_blocks.${block}.cat`);
          h = await resBlock(h, `output_blocks.${block}.0`, ch + skip.ch, cout);
          ch = cout;
          let layer = 1;
          const depth = outputDepth(cfg, level, block);
          if (depth > 0) h = await spatialTransformer(h, `output_blocks.${block}.${layer++}`, ch, depth);
          if (level > 0 && i === cfg.numResBlocks[level]) {
            const up = nn.resizeNearestLike(g, h, skips[skips.length - 1].value, `output_blocks.${block}.up`);
            h = await convW(r, up, `output_blocks.${block}.${layer}.conv`, ch, ch, { kernel: 3 });
          }
        }
      }

      h = nn.silu(g, await groupNormW(r, h, 'out.0', ch, GN_EPS));
      h = await convW(r, h, 'out.2', ch, cfg.outChannels, { kernel: 3 });
      g.output('out_sample', h, 'float32', ['batch_size', cfg.outChannels, 'height', 'width']);
      r.finish();
    },
    { extraOpsets: kernel === 'ort-mha' ? { 'com.microsoft': 1 } : undefined },
  );
}
