// Which Stable Diffusion model a safetensors file holds, from its key names and shapes alone,
// as ComfyUI's comfy/model_detection.py and comfy/supported_models.py decide it: the U-Net's
// configuration and family, the text encoder (CLIP-L for SD1, OpenCLIP-H for SD2), the VAE, and
// for SD2 whether it predicts v or eps. Each part comes with a WeightSource under canonical names
// (prefix stripped, OpenCLIP and diffusers names rewritten), read lazily.
import type { SafetensorsFile } from '../safetensors/read';
import { clipConfigOf, hasOpenClipKeys, hfClipMapping, openClipMapping, type ClipMapping, type ClipTextConfig } from './clipKeys';
import { describeUnet, detectUnetShape, SDXL_FOURIER_DIM, sdxlTimeValues, unetFamily, type UnetConfig } from './unetConfig';
import { diffusersUnetMapping, isDiffusersUnet } from './unetDiffusers';
import { isDiffusersVae, SD_SCALING_FACTOR, SDXL_SCALING_FACTOR, vaeConfigOf, vaeMapping, type VaeConfig } from './vaeKeys';
import { MappedWeights, sourceOfSafetensors, type TensorSource, type WeightMapping, type WeightSource } from './weights';

export type { ClipTextConfig } from './clipKeys';
export type { UnetConfig } from './unetConfig';
export type { VaeConfig } from './vaeKeys';
export type { WeightSource, TensorSource } from './weights';
export { sourceOfShapes, sourceOfSafetensors } from './weights';

export type ModelFamily = 'sd1' | 'sd2' | 'sdxl' | 'sdxl_refiner';
export type CheckpointRole = 'checkpoint' | 'vae' | 'unet' | 'clip';

export interface DetectedCheckpoint {
  file: string;
  family: ModelFamily;
  prediction: 'eps' | 'v_prediction';
  unet?: { config: UnetConfig; weights: WeightSource };
  clip?: { config: ClipTextConfig; weights: WeightSource };
  /** SDXL's OpenCLIP-G (with its text projection): beside CLIP-L in the base, alone in the refiner. */
  clipG?: { config: ClipTextConfig; weights: WeightSource };
  vae?: { config: VaeConfig; weights: WeightSource };
  /** tensors of the file that no part uses (model_ema.*, position_ids, schedule buffers…) */
  ignored: string[];
}

/** A file that is not what it was loaded as: one line, naming the file, what was found and what was expected. */
export class CheckpointError extends Error {
  readonly file: string;
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'CheckpointError';
    this.file = file;
  }
}

const UNET_PREFIX = 'model.diffusion_model.';
const VAE_PREFIX = 'first_stage_model.';
const SD1_CLIP_PREFIX = 'cond_stage_model.transformer.';
const SD2_CLIP_PREFIX = 'cond_stage_model.model.';
const SD2_SGM_CLIP_PREFIX = 'conditioner.embedders.0.model.';
/** SDXL base: CLIP-L (HF names) then OpenCLIP-G; the refiner has OpenCLIP-G alone as embedder 0. */
const SDXL_CLIP_L_PREFIX = 'conditioner.embedders.0.transformer.';
const SDXL_BASE_CLIP_G_PREFIX = 'conditioner.embedders.1.model.';
const SDXL_REFINER_CLIP_G_PREFIX = 'conditioner.embedders.0.model.';
const UNET_TOP = ['input_blocks.', 'middle_block.', 'output_blocks.', 'time_embed.', 'out.', 'label_emb.'];
const UNET_REQUIRED = ['time_embed.0.weight', 'time_embed.2.weight', 'out.0.weight', 'out.2.weight', 'middle_block.0.in_layers.0.weight'];
const FLOAT_DTYPES = new Set(['F16', 'BF16', 'F32', 'F64', 'F8_E4M3', 'F8_E5M2']);
/** ComfyUI's SD20.model_type looks at this bias: std > 0.09 means a v-prediction (768-v) model. */
export const SD2_V_STATISTIC_KEY = 'output_blocks.11.1.transformer_blocks.0.norm1.bias';

const LOADER_HINT: Record<CheckpointRole, string> = {
  checkpoint: 'put it in models/checkpoints/ and load it with Load Checkpoint (CheckpointLoaderSimple)',
  vae: 'put it in models/vae/ and load it with Load VAE (VAELoader)',
  unet: 'put it in models/unet/ or models/diffusion_models/ and load it with Load Diffusion Model (UNETLoader)',
  clip: 'put it in models/clip/ or models/text_encoders/ and load it with Load CLIP (CLIPLoader)',
};

const ROLE_WANTS: Record<CheckpointRole, string> = {
  checkpoint: 'a Stable Diffusion checkpoint (model.diffusion_model.*, cond_stage_model.*, first_stage_model.*)',
  vae: 'a VAE (encoder.*/decoder.* in LDM or diffusers naming)',
  unet: 'a U-Net (LDM names input_blocks.*, middle_block.*, output_blocks.*, optionally under model.diffusion_model., or diffusers names)',
  clip: 'a CLIP text encoder (text_model.* in HF naming, or OpenCLIP transformer.resblocks.*)',
};

/** "model.diffusion_model (686), cond_stage_model.transformer (197), …" */
function describeKeys(names: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const n of names) {
    const parts = n.split('.');
    const head = parts.length >= 3 ? parts.slice(0, 2).join('.') : parts[0];
    counts.set(head, (counts.get(head) ?? 0) + 1);
  }
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  const shown = top.slice(0, 8).map(([k, c]) => `${k}.* (${c})`).join(', ');
  return `${names.length} tensors: ${shown}${top.length > 8 ? `, and ${top.length - 8} more prefixes` : ''}`;
}

function checkFloat(source: TensorSource, map: ReadonlyMap<string, WeightMapping>, what: string): void {
  for (const m of map.values()) {
    const dtype = source.tensors.get(m.raw)?.dtype;
    if (dtype !== undefined && !FLOAT_DTYPES.has(dtype)) {
      throw new CheckpointError(source.file, `${what} tensor '${m.raw}' is ${dtype}; weights must be F16, BF16, F32 or F64`);
    }
  }
}

interface Found {
  unetPrefix?: string;
  diffusersUnet: boolean;
  vaePrefix?: string;
  clip?: { prefix: string; openClip: boolean };
  sdxlConditioner: boolean;
}

/** Where each part lives in the file, by the prefixes ComfyUI's loaders accept. */
function locate(source: TensorSource, role: CheckpointRole): Found {
  const names = [...source.tensors.keys()];
  const has = (n: string) => source.tensors.has(n);
  const any = (p: string) => names.some((n) => n.startsWith(p));
  const found: Found = { diffusersUnet: false, sdxlConditioner: any('conditioner.embedders.') };
  if (has(`${UNET_PREFIX}input_blocks.0.0.weight`)) found.unetPrefix = UNET_PREFIX;
  else if (has('input_blocks.0.0.weight')) found.unetPrefix = '';
  found.diffusersUnet = isDiffusersUnet(names);

  if (has(`${VAE_PREFIX}decoder.conv_in.weight`) || has(`${VAE_PREFIX}encoder.conv_in.weight`)) found.vaePrefix = VAE_PREFIX;
  else if (has('decoder.conv_in.weight') || has('encoder.conv_in.weight') || isDiffusersVae(names, '')) found.vaePrefix = '';

  const clipPrefixes = role === 'clip' || !found.unetPrefix
    ? ['', 'transformer.', SD1_CLIP_PREFIX, SD2_CLIP_PREFIX, SD2_SGM_CLIP_PREFIX, 'clip_l.transformer.', 'clip_h.transformer.']
    : [SD1_CLIP_PREFIX, SD2_CLIP_PREFIX, SD2_SGM_CLIP_PREFIX];
  for (const p of clipPrefixes) {
    if (has(`${p}text_model.embeddings.token_embedding.weight`) || has(`${p}embeddings.token_embedding.weight`)) {
      found.clip = { prefix: p, openClip: false };
      break;
    }
    if (has(`${p}token_embedding.weight`) && hasOpenClipKeys(names, p)) {
      found.clip = { prefix: p, openClip: true };
      break;
    }
  }
  return found;
}

function what(found: Found): string {
  if (found.unetPrefix !== undefined && (found.vaePrefix === VAE_PREFIX || found.clip)) return 'a full checkpoint';
  if (found.unetPrefix !== undefined) return 'a U-Net';
  if (found.diffusersUnet) return 'a diffusers-format U-Net';
  if (found.sdxlConditioner) return 'SDXL text encoders';
  if (found.vaePrefix !== undefined && found.clip) return 'a VAE and a text encoder without a U-Net';
  if (found.vaePrefix !== undefined) return 'a VAE';
  if (found.clip) return 'a text encoder';
  return 'an unknown layout';
}

function roleOf(found: Found): CheckpointRole | undefined {
  if (found.unetPrefix !== undefined) return found.vaePrefix === VAE_PREFIX || found.clip ? 'checkpoint' : 'unet';
  if (found.diffusersUnet) return 'unet';
  if (found.vaePrefix !== undefined && !found.clip) return 'vae';
  if (found.clip && found.vaePrefix === undefined) return 'clip';
  return undefined;
}

/** Standard deviation (population, as torch.std(unbiased=False)) of a small tensor. */
function populationStd(v: Float32Array): number {
  let mean = 0;
  for (const x of v) mean += x;
  mean /= v.length;
  let sq = 0;
  for (const x of v) sq += (x - mean) * (x - mean);
  return Math.sqrt(sq / v.length);
}

/** Detects from names and shapes (and, for SD2, one small tensor's values). */
export function detectFromSource(source: TensorSource, opts: { role?: CheckpointRole } = {}): DetectedCheckpoint {
  const role = opts.role ?? 'checkpoint';
  const file = source.file;
  const names = [...source.tensors.keys()];
  const fail = (message: string): never => {
    throw new CheckpointError(file, message);
  };
  if (names.length === 0) fail(`holds no tensors; expected ${ROLE_WANTS[role]}`);
  const found = locate(source, role);
  const found_ = what(found);
  const wrongFile = (): never => {
    const actual = roleOf(found);
    const hint = actual && actual !== role ? `; ${LOADER_HINT[actual]}` : '';
    return fail(`is ${found_} (${describeKeys(names)}), not ${ROLE_WANTS[role]}${hint}`);
  };

  const used = new Set<string>();
  const result: DetectedCheckpoint = { file, family: 'sd1', prediction: 'eps', ignored: [] };

  // --- the parts each role takes ---
  const wantUnet = role === 'checkpoint' || role === 'unet';
  // A diffusers U-Net (unet/diffusion_pytorch_model.safetensors) loads as a U-Net, as ComfyUI's
  // UNETLoader takes it; a checkpoint is always LDM-named.
  const diffusersUnet = role === 'unet' && found.unetPrefix === undefined && found.diffusersUnet;
  if (wantUnet && found.unetPrefix === undefined && !diffusersUnet) wrongFile();
  if (role === 'checkpoint' && found.unetPrefix === '' && found.vaePrefix !== VAE_PREFIX && !found.clip) wrongFile();
  if (role === 'vae' && (found.vaePrefix === undefined || found.unetPrefix !== undefined)) wrongFile();
  if (role === 'clip' && (!found.clip || found.unetPrefix !== undefined)) wrongFile();

  if (wantUnet) {
    const prefix = found.unetPrefix ?? '';
    const map = new Map<string, WeightMapping>();
    if (diffusersUnet) {
      for (const [name, m] of diffusersUnetMapping(source).map) map.set(name, m);
    } else {
      for (const [raw, t] of source.tensors) {
        if (!raw.startsWith(prefix)) continue;
        const n = raw.slice(prefix.length);
        if (UNET_TOP.some((p) => n.startsWith(p))) map.set(n, { raw, shape: [...t.shape] });
      }
    }
    const lookup = { names: [...map.keys()], shape: (n: string) => map.get(n)?.shape };
    let shapeConfig: ReturnType<typeof detectUnetShape>;
    try {
      shapeConfig = detectUnetShape(lookup);
    } catch (e) {
      return fail((e as Error).message);
    }
    if (!shapeConfig) return wrongFile();
    const fam = unetFamily(shapeConfig);
    if (!fam) {
      const unclip = shapeConfig.contextDim === 1024 && shapeConfig.admInChannels !== undefined ? ' (an SD2 unCLIP model)' : '';
      fail(`has a U-Net Marble does not know${unclip}: ${describeUnet(shapeConfig)}; supported: SD1.x (context 768), SD2.x (context 1024, linear proj_in), SDXL base (context 2048, adm 2816) and refiner (context 1280, adm 2560)`);
    }
    const timeValues = sdxlTimeValues(fam!.family);
    const config: UnetConfig = { ...shapeConfig, numHeads: fam!.numHeads, numHeadChannels: fam!.numHeadChannels, ...(timeValues ? { admTimeValues: timeValues } : {}) };
    for (const r of UNET_REQUIRED) if (!map.has(r)) fail(`U-Net is incomplete: no '${diffusersUnet ? r : prefix + r}'${diffusersUnet ? ' (LDM name; diffusers naming)' : ''} (found ${describeKeys(names)})`);
    checkFloat(source, map, 'U-Net');
    for (const m of map.values()) used.add(m.raw);
    result.family = fam!.family;
    result.unet = { config, weights: new MappedWeights(source, map) };

    const statistic = map.get(SD2_V_STATISTIC_KEY);
    if (fam!.family === 'sd2' && config.inChannels === 4 && statistic) {
      if (!source.float32Sync) fail(`telling SD2 v-prediction from eps needs the values of '${statistic.raw}', and this source has none`);
      // torch compares a float tensor with a Python float in the tensor's precision.
      if (Math.fround(populationStd(source.float32Sync!(statistic.raw))) > Math.fround(0.09)) result.prediction = 'v_prediction';
    }
    if ((fam!.family === 'sdxl' || fam!.family === 'sdxl_refiner') && source.tensors.has('v_pred')) result.prediction = 'v_prediction';
  }

  const isSdxl = result.family === 'sdxl' || result.family === 'sdxl_refiner';
  if (isSdxl && role === 'checkpoint') detectSdxlClips(source, result, used, fail);
  // SDXL's two text encoders live under conditioner.embedders.* (detectSdxlClips); the generic
  // path below takes SD1/SD2 encoders and standalone CLIP files.
  if (found.clip && (role === 'checkpoint' || role === 'clip') && !(isSdxl && found.clip.prefix !== SD1_CLIP_PREFIX && found.clip.prefix !== SD2_CLIP_PREFIX)) {
    const mapping: ClipMapping = found.clip.openClip ? openClipMapping(source, found.clip.prefix) : hfClipMapping(source, found.clip.prefix);
    let config: ClipTextConfig;
    try {
      // A standalone HF-named encoder with a text projection that is not CLIP-L's width is SDXL's
      // OpenCLIP-G (clip_g.safetensors); real ones are recognised by width anyway.
      const projected = mapping.map.has('text_projection.weight');
      const hint = result.unet ? (result.family === 'sd1' ? 'clip-l' : result.family === 'sd2' ? 'open-clip-h' : undefined) : found.clip.openClip ? 'open-clip-h' : projected ? 'open-clip-g' : 'clip-l';
      config = clipConfigOf(mapping.map, hint);
    } catch (e) {
      return fail(`${(e as Error).message} (text encoder under '${found.clip.prefix}')`);
    }
    checkFloat(source, mapping.map, 'text encoder');
    if (result.unet && result.unet.config.contextDim !== config.hiddenSize && !isSdxl) {
      fail(`its U-Net takes ${result.unet.config.contextDim}-wide conditioning but its text encoder (${config.kind}) gives ${config.hiddenSize}`);
    }
    for (const m of mapping.map.values()) used.add(m.raw);
    result.clip = { config, weights: new MappedWeights(source, mapping.map) };
    if (!result.unet) result.family = config.kind === 'clip-l' ? 'sd1' : config.kind === 'open-clip-h' ? 'sd2' : 'sdxl';
  }

  if (found.vaePrefix !== undefined && (role === 'checkpoint' || role === 'vae')) {
    const mapping = vaeMapping(source, found.vaePrefix);
    let config: VaeConfig;
    try {
      config = vaeConfigOf(mapping.map, isSdxl ? SDXL_SCALING_FACTOR : SD_SCALING_FACTOR);
    } catch (e) {
      return fail(`${(e as Error).message} (VAE under '${found.vaePrefix || '(no prefix)'}')`);
    }
    checkFloat(source, mapping.map, 'VAE');
    for (const m of mapping.map.values()) used.add(m.raw);
    result.vae = { config, weights: new MappedWeights(source, mapping.map) };
  }

  result.ignored = names.filter((n) => !used.has(n)).sort();
  return result;
}

/** Detects the model in an open safetensors file. Throws CheckpointError (one line). */
export function detectCheckpoint(file: SafetensorsFile, opts?: { role?: CheckpointRole }): DetectedCheckpoint {
  return detectFromSource(sourceOfSafetensors(file), opts);
}

/**
 * SDXL's text encoders in a checkpoint, as ComfyUI's SDXL/SDXLRefiner process_clip_state_dict
 * read them: CLIP-L (base only) in HF names, OpenCLIP-G in OpenCLIP names with its raw
 * `text_projection` (transposed into a Linear weight). A checkpoint without any text encoder loads
 * without CLIP, as in ComfyUI; one with a partial or mismatched encoder is refused.
 */
function detectSdxlClips(source: TensorSource, result: DetectedCheckpoint, used: Set<string>, fail: (m: string) => never): void {
  const base = result.family === 'sdxl';
  const names = [...source.tensors.keys()];
  const under = (p: string) => names.some((n) => n.startsWith(p));
  const gPrefix = base ? SDXL_BASE_CLIP_G_PREFIX : SDXL_REFINER_CLIP_G_PREFIX;
  const hasL = base && under(SDXL_CLIP_L_PREFIX);
  const hasG = under(gPrefix);
  if (!hasL && !hasG) return;
  const which = base ? 'SDXL base' : 'SDXL refiner';
  if (base && hasL !== hasG) {
    fail(hasL ? `is an ${which} checkpoint with CLIP-L but no OpenCLIP-G text encoder ('${gPrefix}*')` : `is an ${which} checkpoint with OpenCLIP-G but no CLIP-L text encoder ('${SDXL_CLIP_L_PREFIX}*')`);
  }
  const unet = result.unet!.config;
  const take = (mapping: ClipMapping, hint: ClipTextConfig['kind'], prefix: string) => {
    let config: ClipTextConfig;
    try {
      config = clipConfigOf(mapping.map, hint);
    } catch (e) {
      return fail(`${(e as Error).message} (${which} text encoder under '${prefix}')`);
    }
    checkFloat(source, mapping.map, 'text encoder');
    for (const m of mapping.map.values()) used.add(m.raw);
    return { config: { ...config, kind: hint }, weights: new MappedWeights(source, mapping.map) };
  };
  const g = take(openClipMapping(source, gPrefix), 'open-clip-g', gPrefix);
  if (!g.config.projectionDim) fail(`${which} OpenCLIP-G under '${gPrefix}' has no text_projection; SDXL needs its projected pooled output`);
  const l = hasL ? take(hfClipMapping(source, SDXL_CLIP_L_PREFIX), 'clip-l', SDXL_CLIP_L_PREFIX) : undefined;
  const context = (l ? l.config.hiddenSize : 0) + g.config.hiddenSize;
  if (context !== unet.contextDim) {
    fail(`its U-Net takes ${unet.contextDim}-wide conditioning but its text encoders give ${l ? `${l.config.hiddenSize} (CLIP-L) + ` : ''}${g.config.hiddenSize} (OpenCLIP-G) = ${context}`);
  }
  const adm = g.config.projectionDim! + SDXL_FOURIER_DIM * (unet.admTimeValues ?? 0);
  if (adm !== unet.admInChannels) {
    fail(`its U-Net's label_emb takes ${unet.admInChannels} values but the pooled text embedding (${g.config.projectionDim}) and ${unet.admTimeValues} size values (${SDXL_FOURIER_DIM} each) give ${adm}`);
  }
  if (l) result.clip = l;
  result.clipG = g;
}
