// What a generated model folder looks like: network sizes and the IO/layout variants that real
// SD1.x ONNX downloads come in (ort-sd.md §1-§2).

export type ModelSize = 'tiny' | 'medium';

export interface NetworkSizes {
  /** CLIP hidden size; the U-Net's cross-attention dim. 768 = SD1.x. */
  hidden: number;
  textLayers: number;
  textInner: number;
  textMlp: number;
  /** Hashed token table rows: Gather(ids mod K) keeps the 49,408-token vocab without a 150 MB table. */
  tokenBuckets: number;
  unetChannels: number;
  unetInner: number;
  timeFreqs: number;
  vaeChannels: [number, number, number, number];
  vaeEncoderChannels: number;
}

export const SIZES: Record<ModelSize, NetworkSizes> = {
  tiny: {
    hidden: 768, textLayers: 2, textInner: 32, textMlp: 64, tokenBuckets: 1024,
    unetChannels: 32, unetInner: 32, timeFreqs: 64,
    vaeChannels: [32, 16, 16, 8], vaeEncoderChannels: 16,
  },
  medium: {
    hidden: 768, textLayers: 4, textInner: 64, textMlp: 256, tokenBuckets: 1024,
    unetChannels: 160, unetInner: 64, timeFreqs: 128,
    vaeChannels: [64, 32, 16, 16], vaeEncoderChannels: 32,
  },
};

export type TimestepKind = 'float32-vector' | 'float32-scalar' | 'int64-vector' | 'float16-vector';

export interface ModelVariant {
  /** Storage type of the weights. */
  weights: 'float32' | 'float16';
  /** Type of float inputs/outputs (fp16 IO = the diffusers `--fp16` / Olive keep_io_types=false case). */
  io: 'float32' | 'float16';
  inputIds: 'int32' | 'int64';
  timestep: TimestepKind;
  predictionType: 'epsilon' | 'v_prediction';
  unetInChannels: 4 | 9;
  vaeEncoderOutput: 'latent_sample' | 'latent_parameters';
  /** false = OnnxStack/Amuse style: no model_index.json, no scheduler/ and no config.json files. */
  modelIndex: boolean;
  /** External data file for the U-Net weights, or undefined for a self-contained model.onnx. */
  unetExternalData?: 'model.onnx_data' | 'model.onnx.data' | 'weights.pb';
}

export const DEFAULT_VARIANT: ModelVariant = {
  weights: 'float32',
  io: 'float32',
  inputIds: 'int32',
  timestep: 'float32-vector',
  predictionType: 'epsilon',
  unetInChannels: 4,
  vaeEncoderOutput: 'latent_sample',
  modelIndex: true,
};

/** Named tweaks; the CLI accepts a comma-separated list applied left to right. */
export const VARIANT_TWEAKS: Record<string, Partial<ModelVariant>> = {
  fp32: {},
  fp16: { weights: 'float16' },
  'fp16-io': { weights: 'float16', io: 'float16', timestep: 'float16-vector' },
  'int64-ids': { inputIds: 'int64' },
  'timestep-scalar': { timestep: 'float32-scalar' },
  'timestep-int64': { timestep: 'int64-vector' },
  vpred: { predictionType: 'v_prediction' },
  inpaint: { unetInChannels: 9 },
  'latent-parameters': { vaeEncoderOutput: 'latent_parameters' },
  'no-index': { modelIndex: false },
  'external-data': { unetExternalData: 'model.onnx_data' },
  'external-weights-pb': { unetExternalData: 'weights.pb' },
  'external-dot-data': { unetExternalData: 'model.onnx.data' },
  // optimum >= 1.24 exports: int64 ids, scalar timestep, 8-channel encoder output, model.onnx_data.
  'optimum-new': { inputIds: 'int64', timestep: 'float32-scalar', vaeEncoderOutput: 'latent_parameters', unetExternalData: 'model.onnx_data' },
};

export function parseVariant(spec: string): ModelVariant {
  let v: ModelVariant = { ...DEFAULT_VARIANT };
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const tweak = VARIANT_TWEAKS[part];
    if (!tweak) throw new Error(`modelgen: unknown variant '${part}'; expected one of ${Object.keys(VARIANT_TWEAKS).join(', ')}`);
    v = { ...v, ...tweak };
  }
  return v;
}

export function isModelSize(s: string): s is ModelSize {
  return s === 'tiny' || s === 'medium';
}
