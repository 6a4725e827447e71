// The values that flow on MODEL, CLIP, VAE and CONDITIONING sockets. ComfyUI passes Python objects
// here; Marble passes handles to ONNX sessions plus what the sampler and encoders need to know.
import type { ComponentSession, ModelFolderDescription } from '../models';
import type { Latent2RgbFactors, ModelSampling } from '../sampling';
import type { ClipTokenizer } from '../text';
import type { Tensor } from '../tensor';

/** MODEL: the U-Net and its noise schedule. */
export interface SdModel {
  readonly name: string;
  readonly description: ModelFolderDescription;
  readonly unet: ComponentSession;
  readonly modelSampling: ModelSampling;
  /** VAE latent scale (process_latent_in multiplies by it before sampling). */
  readonly latentScale: number;
  readonly latentRgb: Latent2RgbFactors;
  /** 4 for normal U-Nets, 9 for inpainting ones (latent ‖ mask ‖ masked-image latent). */
  readonly inChannels: number;
  /**
   * SDXL U-Nets take text_embeds [B, pooledDim] and time_ids [B, timeValues]: 6 for the base
   * (size, crop, target size), 5 for the refiner (size, crop, aesthetic score).
   */
  readonly sdxl?: { readonly pooledDim: number; readonly timeValues: 5 | 6 };
}

/** One text encoder with its tokenizer (SDXL's CLIP carries two). */
export interface ClipEncoder {
  readonly encoder: ComponentSession;
  readonly tokenizer: ClipTokenizer;
  readonly padId: number;
}

/** CLIP: a text encoder with its tokenizer; `layerIdx` is CLIPSetLastLayer's value (−1 = last). */
export interface ClipModel {
  readonly name: string;
  readonly encoder: ComponentSession;
  readonly tokenizer: ClipTokenizer;
  readonly padId: number;
  readonly layerIdx: number;
  /** ComfyUI's embeddings folders (folder_paths "embeddings"), searched for "embedding:name". */
  readonly embeddingDirs?: readonly string[];
  /**
   * Which tensor of a multi-encoder embedding file this encoder reads ('clip_l', 'clip_g',
   * 'clip_h'); by default chosen from the encoder's width (768, 1280, 1024).
   */
  readonly embeddingKey?: string;
  /**
   * CLIPSetLastLayer's layer is read without CLIP's final LayerNorm (ComfyUI's
   * layer_norm_hidden_state=False, as SDXL's encoders use), so −1 is the raw last layer.
   */
  readonly rawHidden?: boolean;
  /**
   * SDXL: CLIP-L (absent on the refiner) and OpenCLIP-G. CLIPTextEncode encodes with both as
   * ComfyUI's SDXLClipModel (sdxlClip.ts); `layerIdx` applies to both.
   */
  readonly sdxl?: { readonly l?: ClipEncoder; readonly g: ClipEncoder };
}

/** VAE: decoder and/or encoder sessions. LATENT values are raw VAE latents (unscaled), as in ComfyUI. */
export interface VaeModel {
  readonly name: string;
  readonly decoder?: ComponentSession;
  readonly encoder?: ComponentSession;
}

export interface ConditioningExtras {
  pooled_output?: Float32Array | null;
  /** SDXL size conditioning (CLIPTextEncodeSDXL/…Refiner); absent values take ComfyUI's defaults when sampling. */
  width?: number;
  height?: number;
  crop_w?: number;
  crop_h?: number;
  target_width?: number;
  target_height?: number;
  aesthetic_score?: number;
  /** The sampler's resolved SDXL U-Net inputs for this entry (ComfyUI's encode_adm result). */
  sdxl_adm?: { readonly textEmbeds: Float32Array; readonly timeIds: Float32Array };
  /** InpaintModelConditioning: the masked image's latent (raw) and the mask, for 9-channel U-Nets. */
  concat_latent_image?: Tensor;
  concat_mask?: Tensor;
  /** Weight of this entry where several cover the same latent element (ConditioningSetArea). */
  strength?: number;
  /** ConditioningSetArea: [height, width, y, x] in latent units (pixels ÷ 8), ComfyUI's tuple order. */
  area?: readonly [number, number, number, number];
  /** ConditioningSetMask: MASK [B,H,W] at any size; resized to the latent (bilinear) when sampling starts. */
  mask?: Tensor;
  mask_strength?: number;
  /** ConditioningSetMask "mask bounds": the U-Net runs on the mask's bounding box only. */
  set_area_to_bounds?: boolean;
  /** Fraction of the schedule where the entry starts/stops applying (ComfyUI's start_percent/end_percent). */
  start_percent?: number;
  end_percent?: number;
}

/** CONDITIONING: a list of [cross-attention tensor [1, 77·k, D], extras], as in ComfyUI. */
export type Conditioning = Array<[Tensor, ConditioningExtras]>;

export function expectObject<T>(value: unknown, type: string, input: string, check: (v: object) => boolean): T {
  if (typeof value !== 'object' || value === null || !check(value)) {
    throw new Error(`input '${input}' must be a ${type} (connect the ${type} output of a loader node)`);
  }
  return value as T;
}

export const asModel = (v: unknown, input = 'model') => expectObject<SdModel>(v, 'MODEL', input, (o) => 'unet' in o && 'modelSampling' in o);
export const asClip = (v: unknown, input = 'clip') => expectObject<ClipModel>(v, 'CLIP', input, (o) => 'encoder' in o && 'tokenizer' in o);
export const asVae = (v: unknown, input = 'vae') => expectObject<VaeModel>(v, 'VAE', input, (o) => 'decoder' in o || 'encoder' in o);

export function asConditioning(v: unknown, input: string): Conditioning {
  if (!Array.isArray(v) || v.some((e) => !Array.isArray(e) || !(e[0]?.data instanceof Float32Array))) {
    throw new Error(`input '${input}' must be a CONDITIONING (connect a CLIP Text Encode node)`);
  }
  return v as Conditioning;
}
