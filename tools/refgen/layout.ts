// The tensors of a single-file SD1.x-layout checkpoint (ComfyUI's save names:
// model.diffusion_model.*, cond_stage_model.transformer.text_model.*, first_stage_model.*) for any
// network size. With SD15 it lists exactly sd15/checkpoint-manifest.json; smaller configs give
// checkpoints in the same key layout for fast tests.
import type { ClipTextConfig, UnetConfig, VaeConfig } from '../../src/inference/checkpoint/build/types';
import { inputDepth, outputDepth } from '../../src/inference/checkpoint/build/unet';
import { ruleScale, type TensorKind } from './rule';

export interface CheckpointConfig {
  unet: UnetConfig;
  clip: ClipTextConfig;
  vae: VaeConfig;
}

export interface ManifestEntry {
  name: string;
  shape: number[];
  kind: TensorKind;
  scale: number;
}

/** Extra power-of-two factors the reference folds into two tensors' scales (REFERENCE.md). */
export const SCALE_MULTIPLIERS: Readonly<Record<string, number>> = {
  'first_stage_model.decoder.conv_out.weight': 0.25,
  'model.diffusion_model.out.2.weight': 0.125,
};

export const SD15: CheckpointConfig = {
  unet: {
    inChannels: 4, outChannels: 4, modelChannels: 320, channelMult: [1, 2, 4, 4], numResBlocks: [2, 2, 2, 2],
    transformerDepth: [1, 1, 1, 1, 1, 1, 0, 0], transformerDepthMiddle: 1, transformerDepthOutput: [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
    contextDim: 768, numHeads: 8, numHeadChannels: -1, useLinearInTransformer: false,
  },
  clip: { kind: 'clip-l', hiddenSize: 768, numLayers: 12, numHeads: 12, intermediateSize: 3072, vocabSize: 49408, maxPositions: 77, activation: 'quick_gelu', eosTokenId: 49407, padTokenId: 49407 },
  vae: { zChannels: 4, ch: 128, chMult: [1, 2, 4, 4], numResBlocks: 2, inChannels: 3, outCh: 3, scalingFactor: 0.18215 },
};

/**
 * A small checkpoint with SD1.5's key layout and structure (every block kind present, two
 * resolution levels with attention, CLIP-L vocabulary and 77 positions so the real tokenizer works).
 */
export const SD15_SMALL: CheckpointConfig = {
  unet: {
    inChannels: 4, outChannels: 4, modelChannels: 32, channelMult: [1, 2, 2], numResBlocks: [1, 1, 1],
    transformerDepth: [1, 1, 0], transformerDepthMiddle: 1, transformerDepthOutput: [1, 1, 1, 1, 0, 0],
    contextDim: 64, numHeads: 8, numHeadChannels: -1, useLinearInTransformer: false,
  },
  clip: { kind: 'clip-l', hiddenSize: 64, numLayers: 3, numHeads: 1, intermediateSize: 128, vocabSize: 49408, maxPositions: 77, activation: 'quick_gelu', eosTokenId: 49407, padTokenId: 49407 },
  vae: { zChannels: 4, ch: 32, chMult: [1, 1, 1, 1], numResBlocks: 1, inChannels: 3, outCh: 3, scalingFactor: 0.18215 },
};

function kindOf(name: string, shape: readonly number[]): TensorKind {
  if (shape.length === 1) return name.endsWith('.bias') ? 'bias' : 'norm';
  if (name.includes('.embeddings.')) return 'embedding';
  return 'dense';
}


export function checkpointTensors(cfg: CheckpointConfig): ManifestEntry[] {
  const out: [string, number[]][] = [];
  const t = (name: string, shape: number[]) => out.push([name, shape]);
  const lin = (p: string, o: number, i: number, bias = true) => {
    t(`${p}.weight`, [o, i]);
    if (bias) t(`${p}.bias`, [o]);
  };
  const conv = (p: string, o: number, i: number, k: number) => {
    t(`${p}.weight`, [o, i, k, k]);
    t(`${p}.bias`, [o]);
  };
  const norm = (p: string, c: number) => {
    t(`${p}.weight`, [c]);
    t(`${p}.bias`, [c]);
  };

  // CLIP text encoder.
  const c = cfg.clip;
  const cp = 'cond_stage_model.transformer.text_model';
  t(`${cp}.embeddings.position_embedding.weight`, [c.maxPositions, c.hiddenSize]);
  t(`${cp}.embeddings.token_embedding.weight`, [c.vocabSize, c.hiddenSize]);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `${cp}.encoder.layers.${i}`;
    norm(`${p}.layer_norm1`, c.hiddenSize);
    norm(`${p}.layer_norm2`, c.hiddenSize);
    for (const x of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) lin(`${p}.self_attn.${x}`, c.hiddenSize, c.hiddenSize);
    lin(`${p}.mlp.fc1`, c.intermediateSize, c.hiddenSize);
    lin(`${p}.mlp.fc2`, c.hiddenSize, c.intermediateSize);
  }
  norm(`${cp}.final_layer_norm`, c.hiddenSize);

  // U-Net.
  const u = cfg.unet;
  const up = 'model.diffusion_model';
  const mc = u.modelChannels;
  const E = mc * 4;
  const levels = u.channelMult.length;
  lin(`${up}.time_embed.0`, E, mc);
  lin(`${up}.time_embed.2`, E, E);
  const res = (p: string, cin: number, cout: number) => {
    norm(`${p}.in_layers.0`, cin);
    conv(`${p}.in_layers.2`, cout, cin, 3);
    lin(`${p}.emb_layers.1`, cout, E);
    norm(`${p}.out_layers.0`, cout);
    conv(`${p}.out_layers.3`, cout, cout, 3);
    if (cin !== cout) conv(`${p}.skip_connection`, cout, cin, 1);
  };
  const st = (p: string, ch: number, depth: number) => {
    const inner = ch;
    norm(`${p}.norm`, ch);
    if (u.useLinearInTransformer) lin(`${p}.proj_in`, inner, ch);
    else conv(`${p}.proj_in`, inner, ch, 1);
    for (let d = 0; d < depth; d++) {
      const b = `${p}.transformer_blocks.${d}`;
      for (const [a, kv] of [['attn1', inner], ['attn2', u.contextDim]] as const) {
        lin(`${b}.${a}.to_q`, inner, inner, false);
        lin(`${b}.${a}.to_k`, inner, kv, false);
        lin(`${b}.${a}.to_v`, inner, kv, false);
        lin(`${b}.${a}.to_out.0`, inner, inner);
      }
      lin(`${b}.ff.net.0.proj`, inner * 8, inner);
      lin(`${b}.ff.net.2`, inner, inner * 4);
      for (const n of ['norm1', 'norm2', 'norm3']) norm(`${b}.${n}`, inner);
    }
    if (u.useLinearInTransformer) lin(`${p}.proj_out`, ch, inner);
    else conv(`${p}.proj_out`, ch, inner, 1);
  };
  conv(`${up}.input_blocks.0.0`, mc, u.inChannels, 3);
  const skips = [mc];
  let ch = mc;
  let block = 1;
  let resIndex = 0;
  for (let level = 0; level < levels; level++) {
    const cout = mc * u.channelMult[level];
    for (let n = 0; n < u.numResBlocks[level]; n++, resIndex++, block++) {
      res(`${up}.input_blocks.${block}.0`, ch, cout);
      ch = cout;
      const depth = inputDepth(u, level, resIndex);
      if (depth > 0) st(`${up}.input_blocks.${block}.1`, ch, depth);
      skips.push(ch);
    }
    if (level !== levels - 1) {
      conv(`${up}.input_blocks.${block}.0.op`, ch, ch, 3);
      skips.push(ch);
      block++;
    }
  }
  if (u.transformerDepthMiddle >= -1) res(`${up}.middle_block.0`, ch, ch);
  if (u.transformerDepthMiddle >= 0) {
    st(`${up}.middle_block.1`, ch, u.transformerDepthMiddle);
    res(`${up}.middle_block.2`, ch, ch);
  }
  block = 0;
  for (let level = levels - 1; level >= 0; level--) {
    const cout = mc * u.channelMult[level];
    for (let i = 0; i <= u.numResBlocks[level]; i++, block++) {
      res(`${up}.output_blocks.${block}.0`, ch + skips.pop()!, cout);
      ch = cout;
      let layer = 1;
      const depth = outputDepth(u, level, block);
      if (depth > 0) st(`${up}.output_blocks.${block}.${layer++}`, ch, depth);
      if (level > 0 && i === u.numResBlocks[level]) conv(`${up}.output_blocks.${block}.${layer}.conv`, ch, ch, 3);
    }
  }
  norm(`${up}.out.0`, ch);
  conv(`${up}.out.2`, u.outChannels, ch, 3);

  // VAE.
  const v = cfg.vae;
  const vp = 'first_stage_model';
  const vres = (p: string, cin: number, cout: number) => {
    norm(`${p}.norm1`, cin);
    conv(`${p}.conv1`, cout, cin, 3);
    norm(`${p}.norm2`, cout);
    conv(`${p}.conv2`, cout, cout, 3);
    if (cin !== cout) conv(`${p}.nin_shortcut`, cout, cin, 1);
  };
  const vattn = (p: string, c2: number) => {
    norm(`${p}.norm`, c2);
    for (const x of ['q', 'k', 'v', 'proj_out']) conv(`${p}.${x}`, c2, c2, 1);
  };
  const vl = v.chMult.length;
  conv(`${vp}.encoder.conv_in`, v.ch, v.inChannels, 3);
  let vc = v.ch;
  for (let level = 0; level < vl; level++) {
    const cout = v.ch * v.chMult[level];
    for (let j = 0; j < v.numResBlocks; j++) {
      vres(`${vp}.encoder.down.${level}.block.${j}`, vc, cout);
      vc = cout;
    }
    if (level !== vl - 1) conv(`${vp}.encoder.down.${level}.downsample.conv`, vc, vc, 3);
  }
  vres(`${vp}.encoder.mid.block_1`, vc, vc);
  vattn(`${vp}.encoder.mid.attn_1`, vc);
  vres(`${vp}.encoder.mid.block_2`, vc, vc);
  norm(`${vp}.encoder.norm_out`, vc);
  conv(`${vp}.encoder.conv_out`, 2 * v.zChannels, vc, 3);
  conv(`${vp}.quant_conv`, 2 * v.zChannels, 2 * v.zChannels, 1);
  conv(`${vp}.post_quant_conv`, v.zChannels, v.zChannels, 1);
  vc = v.ch * v.chMult[vl - 1];
  conv(`${vp}.decoder.conv_in`, vc, v.zChannels, 3);
  vres(`${vp}.decoder.mid.block_1`, vc, vc);
  vattn(`${vp}.decoder.mid.attn_1`, vc);
  vres(`${vp}.decoder.mid.block_2`, vc, vc);
  for (let level = vl - 1; level >= 0; level--) {
    const cout = v.ch * v.chMult[level];
    for (let j = 0; j <= v.numResBlocks; j++) {
      vres(`${vp}.decoder.up.${level}.block.${j}`, vc, cout);
      vc = cout;
    }
    if (level !== 0) conv(`${vp}.decoder.up.${level}.upsample.conv`, vc, vc, 3);
  }
  norm(`${vp}.decoder.norm_out`, vc);
  conv(`${vp}.decoder.conv_out`, v.outCh, vc, 3);

  return out
    .map(([name, shape]) => {
      const kind = kindOf(name, shape);
      return { name, shape, kind, scale: ruleScale(kind, shape) * (SCALE_MULTIPLIERS[name] ?? 1) };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
