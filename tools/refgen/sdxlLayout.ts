// The tensors of single-file SDXL base and refiner checkpoints as ComfyUI saves them: the U-Net and
// VAE of layout.ts (with the U-Net's label_emb), CLIP-L under
// `conditioner.embedders.0.transformer.text_model.` and OpenCLIP-G under
// `conditioner.embedders.{1|0}.model.` in OpenCLIP naming. With SDXL_BASE / SDXL_REFINER it lists
// exactly sdxl/sdxl-{base,refiner}-keys.json (and the manifest's kinds and scales); the small
// configs give files in the same key layout for fast tests.
import type { ClipTextConfig, UnetConfig, VaeConfig } from '../../src/inference/checkpoint/build/types';
import { checkpointTensors, SCALE_MULTIPLIERS, type ManifestEntry } from './layout';
import { ruleScale, type TensorKind } from './rule';

export interface SdxlCheckpointConfig {
  family: 'sdxl' | 'sdxl_refiner';
  unet: UnetConfig;
  /** CLIP-L (base only) */
  clipL?: ClipTextConfig;
  /** OpenCLIP-G with its text projection */
  clipG: ClipTextConfig;
  vae: VaeConfig;
}

const clipL = (hiddenSize: number, numLayers: number, intermediateSize: number): ClipTextConfig => ({
  kind: 'clip-l', hiddenSize, numLayers, numHeads: hiddenSize / 64, intermediateSize, vocabSize: 49408, maxPositions: 77, activation: 'quick_gelu', eosTokenId: 49407, padTokenId: 49407,
});
const clipG = (hiddenSize: number, numLayers: number, intermediateSize: number): ClipTextConfig => ({
  kind: 'open-clip-g', hiddenSize, numLayers, numHeads: hiddenSize / 64, intermediateSize, vocabSize: 49408, maxPositions: 77, activation: 'gelu', projectionDim: hiddenSize, eosTokenId: 49407, padTokenId: 0,
});
const sdxlVae = (ch: number, chMult: number[], numResBlocks: number): VaeConfig => ({ zChannels: 4, ch, chMult, numResBlocks, inChannels: 3, outCh: 3, scalingFactor: 0.13025 });

export const SDXL_BASE: SdxlCheckpointConfig = {
  family: 'sdxl',
  unet: {
    inChannels: 4, outChannels: 4, modelChannels: 320, channelMult: [1, 2, 4], numResBlocks: [2, 2, 2],
    transformerDepth: [0, 0, 2, 2, 10, 10], transformerDepthMiddle: 10, transformerDepthOutput: [0, 0, 0, 2, 2, 2, 10, 10, 10],
    contextDim: 2048, numHeads: -1, numHeadChannels: 64, useLinearInTransformer: true, admInChannels: 2816,
  },
  clipL: clipL(768, 12, 3072),
  clipG: clipG(1280, 32, 5120),
  vae: sdxlVae(128, [1, 2, 4, 4], 2),
};

export const SDXL_REFINER: SdxlCheckpointConfig = {
  family: 'sdxl_refiner',
  unet: {
    inChannels: 4, outChannels: 4, modelChannels: 384, channelMult: [1, 2, 4, 4], numResBlocks: [2, 2, 2, 2],
    transformerDepth: [0, 0, 4, 4, 4, 4, 0, 0], transformerDepthMiddle: 4, transformerDepthOutput: [0, 0, 0, 4, 4, 4, 4, 4, 4, 0, 0, 0],
    contextDim: 1280, numHeads: -1, numHeadChannels: 64, useLinearInTransformer: true, admInChannels: 2560,
  },
  clipG: clipG(1280, 32, 5120),
  vae: sdxlVae(128, [1, 2, 4, 4], 2),
};

/**
 * Small SDXL base: the same block structure (no attention on the first level, deeper attention
 * below, 64-channel heads, linear proj_in), CLIP-L 64 wide and OpenCLIP-G 128 wide (context
 * 64 + 128 = 192, adm 128 + 6·256), and the SDXL VAE's scale. A few MB.
 */
export const SDXL_BASE_SMALL: SdxlCheckpointConfig = {
  family: 'sdxl',
  unet: {
    inChannels: 4, outChannels: 4, modelChannels: 32, channelMult: [1, 2, 2], numResBlocks: [1, 1, 1],
    transformerDepth: [0, 1, 2], transformerDepthMiddle: 2, transformerDepthOutput: [0, 0, 1, 1, 2, 2],
    contextDim: 192, numHeads: -1, numHeadChannels: 64, useLinearInTransformer: true, admInChannels: 128 + 6 * 256,
  },
  clipL: clipL(64, 3, 128),
  clipG: clipG(128, 3, 256),
  vae: sdxlVae(32, [1, 1, 1, 1], 1),
};

/** Small refiner: OpenCLIP-G only (128 wide = its context), adm 128 + 5·256. */
export const SDXL_REFINER_SMALL: SdxlCheckpointConfig = {
  family: 'sdxl_refiner',
  unet: {
    inChannels: 4, outChannels: 4, modelChannels: 32, channelMult: [1, 2, 2], numResBlocks: [1, 1, 1],
    transformerDepth: [0, 1, 1], transformerDepthMiddle: 1, transformerDepthOutput: [0, 0, 1, 1, 1, 1],
    contextDim: 128, numHeads: -1, numHeadChannels: 64, useLinearInTransformer: true, admInChannels: 128 + 5 * 256,
  },
  clipG: clipG(128, 3, 256),
  vae: sdxlVae(32, [1, 1, 1, 1], 1),
};

function kindOf(name: string, shape: readonly number[]): TensorKind {
  if (name.endsWith('.position_ids')) return 'position_ids';
  if (shape.length === 0 || name.endsWith('.in_proj_bias')) return 'other';
  if (shape.length === 1) return name.endsWith('.bias') ? 'bias' : 'norm';
  if (name.includes('.embeddings.') || name.endsWith('.token_embedding.weight')) return 'embedding';
  return 'dense';
}

export function sdxlCheckpointTensors(cfg: SdxlCheckpointConfig): ManifestEntry[] {
  const out: [string, number[]][] = [];
  const t = (name: string, shape: number[]) => out.push([name, shape]);
  const norm = (p: string, c: number) => {
    t(`${p}.weight`, [c]);
    t(`${p}.bias`, [c]);
  };
  const lin = (p: string, o: number, i: number) => {
    t(`${p}.weight`, [o, i]);
    t(`${p}.bias`, [o]);
  };

  if (cfg.clipL) {
    const c = cfg.clipL;
    const p = 'conditioner.embedders.0.transformer.text_model';
    t(`${p}.embeddings.position_embedding.weight`, [c.maxPositions, c.hiddenSize]);
    t(`${p}.embeddings.position_ids`, [1, c.maxPositions]);
    t(`${p}.embeddings.token_embedding.weight`, [c.vocabSize, c.hiddenSize]);
    for (let i = 0; i < c.numLayers; i++) {
      const l = `${p}.encoder.layers.${i}`;
      norm(`${l}.layer_norm1`, c.hiddenSize);
      norm(`${l}.layer_norm2`, c.hiddenSize);
      for (const x of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) lin(`${l}.self_attn.${x}`, c.hiddenSize, c.hiddenSize);
      lin(`${l}.mlp.fc1`, c.intermediateSize, c.hiddenSize);
      lin(`${l}.mlp.fc2`, c.hiddenSize, c.intermediateSize);
    }
    norm(`${p}.final_layer_norm`, c.hiddenSize);
  }
  const g = cfg.clipG;
  const w = g.hiddenSize;
  const gp = `conditioner.embedders.${cfg.clipL ? 1 : 0}.model`;
  t(`${gp}.positional_embedding`, [g.maxPositions, w]);
  t(`${gp}.token_embedding.weight`, [g.vocabSize, w]);
  norm(`${gp}.ln_final`, w);
  // OpenCLIP's raw parameter, used as x @ text_projection: [width, embed_dim].
  t(`${gp}.text_projection`, [w, g.projectionDim ?? w]);
  t(`${gp}.logit_scale`, []);
  for (let i = 0; i < g.numLayers; i++) {
    const r = `${gp}.transformer.resblocks.${i}`;
    norm(`${r}.ln_1`, w);
    norm(`${r}.ln_2`, w);
    t(`${r}.attn.in_proj_weight`, [3 * w, w]);
    t(`${r}.attn.in_proj_bias`, [3 * w]);
    lin(`${r}.attn.out_proj`, w, w);
    lin(`${r}.mlp.c_fc`, g.intermediateSize, w);
    lin(`${r}.mlp.c_proj`, w, g.intermediateSize);
  }
  const E = cfg.unet.modelChannels * 4;
  lin('model.diffusion_model.label_emb.0.0', E, cfg.unet.admInChannels!);
  lin('model.diffusion_model.label_emb.0.2', E, E);

  const own = out.map(([name, shape]): ManifestEntry => {
    const kind = kindOf(name, shape);
    return { name, shape, kind, scale: ruleScale(kind, shape) * (SCALE_MULTIPLIERS[name] ?? 1) };
  });
  // The U-Net and VAE as layout.ts lists them (its CLIP entries dropped).
  const dummyClip = cfg.clipL ?? cfg.clipG;
  const rest = checkpointTensors({ unet: cfg.unet, clip: dummyClip, vae: cfg.vae }).filter((e) => !e.name.startsWith('cond_stage_model.'));
  return [...own, ...rest].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
