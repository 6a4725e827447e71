// Reads the on-disk layout of an ONNX Stable Diffusion folder without loading any model:
// optimum/diffusers (model_index.json + subfolders), the legacy diffusers `weights.pb` layout,
// Olive (`model.onnx.data`) and OnnxStack/Amuse folders with no model_index.json (ort-sd.md §1).
import * as fs from 'node:fs';
import * as path from 'node:path';

export type ModelKind = 'sd1' | 'sd2' | 'sdxl' | 'unknown';
export type ComponentName = 'text_encoder' | 'text_encoder_2' | 'unet' | 'vae_decoder' | 'vae_encoder';
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';

export const COMPONENT_NAMES: readonly ComponentName[] = ['text_encoder', 'text_encoder_2', 'unet', 'vae_decoder', 'vae_encoder'];

export type ModelFolderErrorCode = 'missing-folder' | 'missing-component' | 'bad-config' | 'corrupt-model' | 'ep-unavailable' | 'io-mismatch' | 'not-found' | 'not-supported';

export class ModelFolderError extends Error {
  constructor(
    readonly code: ModelFolderErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ModelFolderError';
  }
}

export interface ComponentFiles {
  model: string;
  /** Files beside model.onnx that may hold its weights (model.onnx_data, weights.pb, per-tensor files). */
  externalData: string[];
  config?: Record<string, unknown>;
}

export interface TokenizerFiles {
  dir: string;
  vocab: string;
  merges: string;
  specialTokensMap?: string;
  tokenizerConfig?: string;
}

export interface ModelFolderDescription {
  dir: string;
  /** Folder name, i.e. the checkpoint name shown in a ckpt_name combo. */
  name: string;
  kind: ModelKind;
  layout: 'diffusers' | 'no-model-index';
  pipelineClass?: string;
  components: Partial<Record<ComponentName, ComponentFiles>> & { unet: ComponentFiles };
  tokenizer?: TokenizerFiles;
  tokenizer2?: TokenizerFiles;
  /** scheduler/scheduler_config.json as written, if any. */
  schedulerConfig?: Record<string, unknown>;
  predictionType: PredictionType;
  scalingFactor: number;
  /** U-Net input channels: 9 for inpainting models. Undefined until known (config or IO). */
  unetInChannels?: number;
  crossAttentionDim?: number;
  /** Native image size in pixels (unet sample_size × 8 or the family default). */
  defaultImageSize: number;
  /** LCM U-Nets take a guidance embedding input of this width. */
  timeCondProjDim?: number;
  /** model_index.json: an SDXL refiner (time_ids carry the aesthetic score, not the target size). */
  requiresAestheticsScore?: boolean;
  warnings: string[];
}

const META_FILE = /\.(json|txt|md|onnx|py|yaml|yml|png|jpg)$|^\./i;

function readJson(file: string): Record<string, unknown> | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    const v: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new ModelFolderError('bad-config', `could not read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function component(dir: string, name: ComponentName): ComponentFiles | undefined {
  const sub = path.join(dir, name);
  const model = path.join(sub, 'model.onnx');
  if (!fs.existsSync(model)) return undefined;
  const externalData = fs
    .readdirSync(sub, { withFileTypes: true })
    .filter((e) => e.isFile() && !META_FILE.test(e.name))
    .map((e) => path.join(sub, e.name))
    .sort();
  return { model, externalData, config: readJson(path.join(sub, 'config.json')) };
}

function tokenizer(dir: string, sub: string): TokenizerFiles | undefined {
  const t = path.join(dir, sub);
  const vocab = path.join(t, 'vocab.json');
  const merges = path.join(t, 'merges.txt');
  if (!fs.existsSync(vocab) || !fs.existsSync(merges)) return undefined;
  const opt = (f: string) => (fs.existsSync(path.join(t, f)) ? path.join(t, f) : undefined);
  return { dir: t, vocab, merges, specialTokensMap: opt('special_tokens_map.json'), tokenizerConfig: opt('tokenizer_config.json') };
}

export function kindFromCrossAttentionDim(dim: number | undefined): ModelKind {
  if (dim === 768) return 'sd1';
  if (dim === 1024) return 'sd2';
  if (dim === 2048) return 'sdxl';
  return 'unknown';
}

/** Scaling factors used when vae config.json is absent (OnnxStack's in-code defaults). */
export function defaultScalingFactor(kind: ModelKind): number {
  return kind === 'sdxl' ? 0.13025 : 0.18215;
}

export function defaultImageSize(kind: ModelKind): number {
  return kind === 'sdxl' ? 1024 : kind === 'sd2' ? 768 : 512;
}

export function describeModelFolder(dir: string): ModelFolderDescription {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs)) throw new ModelFolderError('missing-folder', `model folder ${abs} does not exist`);
  if (!fs.statSync(abs).isDirectory()) throw new ModelFolderError('missing-folder', `${abs} is a file, not a model folder (expected a folder with unet/model.onnx)`);
  const warnings: string[] = [];
  const index = readJson(path.join(abs, 'model_index.json'));
  const components: Partial<Record<ComponentName, ComponentFiles>> = {};
  for (const name of COMPONENT_NAMES) {
    const c = component(abs, name);
    if (c) components[name] = c;
  }
  const unet = components.unet;
  if (!unet) {
    const present = fs.readdirSync(abs).filter((f) => !f.startsWith('.'));
    throw new ModelFolderError('missing-component', `model folder ${abs} has no unet/model.onnx (it contains: ${present.join(', ') || 'nothing'})`);
  }
  for (const name of ['text_encoder', 'vae_decoder'] as const) if (!components[name]) warnings.push(`no ${name}/model.onnx`);

  const pipelineClass = typeof index?._class_name === 'string' ? index._class_name : undefined;
  const unetCfg = unet.config ?? {};
  const teCfg = components.text_encoder?.config ?? {};
  const crossAttentionDim = num(unetCfg.cross_attention_dim) ?? num(teCfg.hidden_size);
  let kind = kindFromCrossAttentionDim(crossAttentionDim);
  if (components.text_encoder_2 || (pipelineClass && /XL/.test(pipelineClass)) || unetCfg.addition_embed_type === 'text_time') kind = 'sdxl';

  const schedulerConfig = readJson(path.join(abs, 'scheduler', 'scheduler_config.json'));
  const pt = schedulerConfig?.prediction_type ?? unetCfg.prediction_type;
  let predictionType: PredictionType = 'epsilon';
  if (pt === 'epsilon' || pt === 'v_prediction' || pt === 'sample') predictionType = pt;
  else if (pt !== undefined) warnings.push(`unknown prediction_type ${JSON.stringify(pt)}; using epsilon`);

  const vaeCfg = components.vae_decoder?.config ?? components.vae_encoder?.config;
  const scalingFactor = num(vaeCfg?.scaling_factor) ?? defaultScalingFactor(kind);
  const sampleSize = num(unetCfg.sample_size);

  return {
    dir: abs,
    name: path.basename(abs),
    kind,
    layout: index ? 'diffusers' : 'no-model-index',
    pipelineClass,
    components: { ...components, unet },
    tokenizer: tokenizer(abs, 'tokenizer'),
    tokenizer2: tokenizer(abs, 'tokenizer_2'),
    schedulerConfig,
    predictionType,
    scalingFactor,
    unetInChannels: num(unetCfg.in_channels),
    crossAttentionDim,
    defaultImageSize: sampleSize ? sampleSize * 8 : defaultImageSize(kind),
    timeCondProjDim: num(unetCfg.time_cond_proj_dim),
    requiresAestheticsScore: index?.requires_aesthetics_score === true,
    warnings,
  };
}
