// The files around the ONNX graphs that make a converted checkpoint an optimum-layout folder:
// model_index.json, each component's config.json, tokenizer/ and scheduler/. Marble's own
// folder reader (models/modelFolder.ts) takes the family, prediction type, input channels and
// VAE scale from exactly these files, and other ONNX Runtime tools (optimum's
// ORTStableDiffusionPipeline, diffusers.js, OnnxStack) read the same names.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { findShippedTokenizerDir } from '../text';

export type Family = 'sd1' | 'sd2' | 'sdxl' | 'sdxl_refiner';

const isXl = (f: Family) => f === 'sdxl' || f === 'sdxl_refiner';

interface EncoderFacts { kind?: string; hiddenSize: number; numLayers: number; numHeads: number; intermediateSize: number; maxPositions: number; vocabSize: number; activation: string; projectionDim?: number }
export type Prediction = 'eps' | 'v_prediction';

export interface LayoutFacts {
  family: Family;
  prediction: Prediction;
  /** The checkpoint file name, recorded for provenance. */
  source: string;
  /** text_encoder: CLIP-L (SD1, SDXL base), OpenCLIP-H (SD2), or a standalone encoder of any kind. */
  textEncoder?: EncoderFacts;
  /** text_encoder_2: SDXL's OpenCLIP-G with projection (CLIPTextModelWithProjection). */
  textEncoder2?: EncoderFacts;
  unet?: { inChannels: number; outChannels: number; contextDim: number; modelChannels: number; channelMult: number[]; useLinearInTransformer: boolean; admInChannels?: number; admTimeValues?: number };
  vae?: { scalingFactor: number; latentChannels: number; ch: number; chMult: number[] };
}

const DIFFUSERS_VERSION = '0.30.0';

/**
 * The noise schedule of SD1.x/SD2.x as ComfyUI uses it (linear_start 0.00085, linear_end 0.012,
 * scaled_linear, 1000 steps: comfy/supported_models_base + model_sampling), in diffusers' names.
 */
export function schedulerConfig(prediction: Prediction): Record<string, unknown> {
  return {
    _class_name: 'PNDMScheduler',
    _diffusers_version: DIFFUSERS_VERSION,
    beta_start: 0.00085,
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    num_train_timesteps: 1000,
    prediction_type: prediction === 'v_prediction' ? 'v_prediction' : 'epsilon',
    set_alpha_to_one: false,
    skip_prk_steps: true,
    steps_offset: 1,
    clip_sample: false,
    trained_betas: null,
  };
}

/** Native latent size: 128 (1024 px) for SDXL, 96 (768 px) for SD2 v-prediction models, 64 (512 px) otherwise. */
export function sampleSize(f: Pick<LayoutFacts, 'family' | 'prediction'>): number {
  if (isXl(f.family)) return 128;
  return f.family === 'sd2' && f.prediction === 'v_prediction' ? 96 : 64;
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, JSON.stringify(value, null, 2) + '\n');
}

export function modelIndex(f: LayoutFacts): Record<string, unknown> {
  const inpaint = f.unet?.inChannels === 9;
  const index: Record<string, unknown> = {
    _class_name: f.family === 'sdxl_refiner' ? 'ORTStableDiffusionXLImg2ImgPipeline' : isXl(f.family) ? 'ORTStableDiffusionXLPipeline' : inpaint ? 'ORTStableDiffusionInpaintPipeline' : 'ORTStableDiffusionPipeline',
    _diffusers_version: DIFFUSERS_VERSION,
    _marble_source: f.source,
    feature_extractor: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ['diffusers', 'PNDMScheduler'],
  };
  if (f.textEncoder) {
    index.text_encoder = ['transformers', 'CLIPTextModel'];
    index.tokenizer = ['transformers', 'CLIPTokenizer'];
  }
  if (f.textEncoder2) {
    index.text_encoder_2 = ['transformers', 'CLIPTextModelWithProjection'];
    index.tokenizer_2 = ['transformers', 'CLIPTokenizer'];
  }
  // diffusers' refiner pipeline feeds the aesthetic score in place of the target size.
  if (f.family === 'sdxl_refiner') index.requires_aesthetics_score = true;
  if (f.unet) index.unet = ['diffusers', 'UNet2DConditionModel'];
  if (f.vae) {
    index.vae_decoder = ['diffusers', 'AutoencoderKL'];
    index.vae_encoder = ['diffusers', 'AutoencoderKL'];
  }
  return index;
}

/** Writes model_index.json, scheduler/, tokenizer/ and the config.json of each present component. */
export async function writeOptimumLayout(dir: string, f: LayoutFacts): Promise<void> {
  await writeJson(path.join(dir, 'model_index.json'), modelIndex(f));
  await writeJson(path.join(dir, 'scheduler', 'scheduler_config.json'), schedulerConfig(f.prediction));
  if (f.unet) {
    const u = f.unet;
    await writeJson(path.join(dir, 'unet', 'config.json'), {
      _class_name: 'UNet2DConditionModel',
      _diffusers_version: DIFFUSERS_VERSION,
      in_channels: u.inChannels,
      out_channels: u.outChannels,
      cross_attention_dim: u.contextDim,
      sample_size: sampleSize(f),
      block_out_channels: u.channelMult.map((m) => m * u.modelChannels),
      use_linear_projection: u.useLinearInTransformer,
      prediction_type: f.prediction === 'v_prediction' ? 'v_prediction' : 'epsilon',
      ...(u.admInChannels ? { addition_embed_type: 'text_time', addition_time_embed_dim: 256, projection_class_embeddings_input_dim: u.admInChannels } : {}),
    });
  }
  if (f.vae) {
    const v = f.vae;
    const cfg = {
      _class_name: 'AutoencoderKL',
      _diffusers_version: DIFFUSERS_VERSION,
      in_channels: 3,
      out_channels: 3,
      latent_channels: v.latentChannels,
      block_out_channels: v.chMult.map((m) => m * v.ch),
      scaling_factor: v.scalingFactor,
      sample_size: sampleSize(f) * 8,
    };
    await writeJson(path.join(dir, 'vae_decoder', 'config.json'), cfg);
    await writeJson(path.join(dir, 'vae_encoder', 'config.json'), cfg);
  }
  const padsWithZero = (t: EncoderFacts) => (t.kind ? t.kind !== 'clip-l' : f.family === 'sd2');
  if (f.textEncoder2) {
    const t = f.textEncoder2;
    await writeJson(path.join(dir, 'text_encoder_2', 'config.json'), {
      _name_or_path: 'laion/CLIP-ViT-bigG-14-laion2B-39B-b160k',
      architectures: ['CLIPTextModelWithProjection'],
      model_type: 'clip_text_model',
      hidden_size: t.hiddenSize,
      num_hidden_layers: t.numLayers,
      num_attention_heads: t.numHeads,
      intermediate_size: t.intermediateSize,
      max_position_embeddings: t.maxPositions,
      vocab_size: t.vocabSize,
      hidden_act: t.activation,
      projection_dim: t.projectionDim ?? t.hiddenSize,
      bos_token_id: 49406,
      eos_token_id: 49407,
      pad_token_id: 0,
    });
    await writeTokenizer(path.join(dir, 'tokenizer_2'), true);
  }
  if (f.textEncoder) {
    const t = f.textEncoder;
    await writeJson(path.join(dir, 'text_encoder', 'config.json'), {
      _name_or_path: t.kind === 'open-clip-g' ? 'laion/CLIP-ViT-bigG-14-laion2B-39B-b160k' : padsWithZero(t) ? 'laion/CLIP-ViT-H-14' : 'openai/clip-vit-large-patch14',
      architectures: [t.kind === 'open-clip-g' ? 'CLIPTextModelWithProjection' : 'CLIPTextModel'],
      model_type: 'clip_text_model',
      hidden_size: t.hiddenSize,
      num_hidden_layers: t.numLayers,
      num_attention_heads: t.numHeads,
      intermediate_size: t.intermediateSize,
      max_position_embeddings: t.maxPositions,
      vocab_size: t.vocabSize,
      hidden_act: t.activation,
      projection_dim: t.projectionDim ?? t.hiddenSize,
      bos_token_id: 49406,
      eos_token_id: 49407,
      pad_token_id: padsWithZero(t) ? 0 : 49407,
    });
    await writeTokenizer(path.join(dir, 'tokenizer'), padsWithZero(t));
  }
}

/**
 * CLIP's BPE files shipped with Marble (SD1, SD2 and SDXL share the vocabulary); OpenCLIP (SD2,
 * SDXL's G) pads with '!' (id 0) where CLIP-L pads with the end token, which special_tokens_map.json says.
 */
export async function writeTokenizer(dir: string, padWithZero: boolean): Promise<void> {
  const shipped = findShippedTokenizerDir();
  await fsp.mkdir(dir, { recursive: true });
  for (const f of ['vocab.json', 'merges.txt']) await fsp.copyFile(path.join(shipped, f), path.join(dir, f));
  const pad = padWithZero ? '!' : '<|endoftext|>';
  await writeJson(path.join(dir, 'special_tokens_map.json'), { bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: pad, unk_token: '<|endoftext|>' });
  await writeJson(path.join(dir, 'tokenizer_config.json'), {
    tokenizer_class: 'CLIPTokenizer',
    model_max_length: 77,
    do_lower_case: true,
    bos_token: '<|startoftext|>',
    eos_token: '<|endoftext|>',
    pad_token: pad,
    unk_token: '<|endoftext|>',
  });
}
