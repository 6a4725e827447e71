// JSON side files in the shapes diffusers/optimum write them, so the loader is exercised on the
// same keys it meets in downloaded folders.
import type { ModelSize, ModelVariant, NetworkSizes } from './spec';
import { SD1_SCALING_FACTOR } from './vae';

export interface GeneratorInfo {
  size: ModelSize;
  variantName: string;
  seed: number;
}

const DIFFUSERS_VERSION = '0.21.0';

export function modelIndexJson(info: GeneratorInfo): object {
  const ort = ['diffusers', 'OnnxRuntimeModel'];
  return {
    _class_name: 'OnnxStableDiffusionPipeline',
    _diffusers_version: DIFFUSERS_VERSION,
    // Extra underscore keys are ignored by diffusers; they tell a reader this is a test model.
    _marble_generator: { tool: 'marble-modelgen', ...info },
    feature_extractor: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ['diffusers', 'PNDMScheduler'],
    text_encoder: ort,
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ort,
    vae_decoder: ort,
    vae_encoder: ort,
  };
}

export function schedulerConfigJson(variant: ModelVariant): object {
  return {
    _class_name: 'PNDMScheduler',
    _diffusers_version: DIFFUSERS_VERSION,
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    beta_start: 0.00085,
    clip_sample: false,
    num_train_timesteps: 1000,
    prediction_type: variant.predictionType,
    set_alpha_to_one: false,
    skip_prk_steps: true,
    steps_offset: 1,
    timestep_spacing: 'leading',
    trained_betas: null,
  };
}

export function unetConfigJson(sizes: NetworkSizes, variant: ModelVariant): object {
  return {
    _class_name: 'UNet2DConditionModel',
    _diffusers_version: DIFFUSERS_VERSION,
    in_channels: variant.unetInChannels,
    out_channels: 4,
    sample_size: 64,
    cross_attention_dim: sizes.hidden,
    attention_head_dim: sizes.unetInner,
    block_out_channels: [sizes.unetChannels, sizes.unetChannels * 2],
  };
}

export function vaeConfigJson(sizes: NetworkSizes): object {
  return {
    _class_name: 'AutoencoderKL',
    _diffusers_version: DIFFUSERS_VERSION,
    in_channels: 3,
    out_channels: 3,
    latent_channels: 4,
    sample_size: 512,
    scaling_factor: SD1_SCALING_FACTOR,
    block_out_channels: [...sizes.vaeChannels],
  };
}

export function textEncoderConfigJson(sizes: NetworkSizes): object {
  return {
    architectures: ['CLIPTextModel'],
    model_type: 'clip_text_model',
    hidden_size: sizes.hidden,
    num_hidden_layers: sizes.textLayers,
    intermediate_size: sizes.textMlp,
    max_position_embeddings: 77,
    vocab_size: 49408,
    hidden_act: 'quick_gelu',
    projection_dim: sizes.hidden,
  };
}

export const SPECIAL_TOKENS_MAP = {
  bos_token: { content: '<|startoftext|>', lstrip: false, normalized: true, rstrip: false, single_word: false },
  eos_token: { content: '<|endoftext|>', lstrip: false, normalized: true, rstrip: false, single_word: false },
  pad_token: '<|endoftext|>',
  unk_token: { content: '<|endoftext|>', lstrip: false, normalized: true, rstrip: false, single_word: false },
};

export const TOKENIZER_CONFIG = {
  add_prefix_space: false,
  bos_token: '<|startoftext|>',
  do_lower_case: true,
  eos_token: '<|endoftext|>',
  errors: 'replace',
  model_max_length: 77,
  pad_token: '<|endoftext|>',
  tokenizer_class: 'CLIPTokenizer',
  unk_token: '<|endoftext|>',
};
