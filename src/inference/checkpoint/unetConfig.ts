// The LDM U-Net's configuration from its key names and shapes, following ComfyUI's
// comfy/model_detection.py (detect_unet_config) and the family table of comfy/supported_models.py.
// Names here are canonical (no `model.diffusion_model.` prefix).

export interface UnetConfig {
  inChannels: number;
  outChannels: number;
  modelChannels: number;
  channelMult: number[];
  numResBlocks: number[];
  /** per input block (one entry per ResBlock of the down path), 0 = no attention */
  transformerDepth: number[];
  transformerDepthMiddle: number;
  /** per output block */
  transformerDepthOutput: number[];
  contextDim: number;
  /** -1 if numHeadChannels is used */
  numHeads: number;
  /** -1 if numHeads is used */
  numHeadChannels: number;
  useLinearInTransformer: boolean;
  admInChannels?: number;
  /**
   * SDXL: how many size/crop/score values the ADM vector embeds after the pooled text embedding,
   * each as a 256-wide Fourier embedding (ComfyUI's Timestep(256)): 6 for the base (orig h, w,
   * crop top, left, target h, w), 5 for the refiner (… aesthetic score).
   */
  admTimeValues?: number;
}

export type UnetFamily = 'sd1' | 'sd2' | 'sdxl' | 'sdxl_refiner';

/** Width of each Fourier-embedded SDXL size/crop/score value (ComfyUI's Timestep(256)). */
export const SDXL_FOURIER_DIM = 256;

/** The number of Fourier-embedded values in an SDXL U-Net's ADM vector. */
export function sdxlTimeValues(family: UnetFamily): number | undefined {
  return family === 'sdxl' ? 6 : family === 'sdxl_refiner' ? 5 : undefined;
}

export interface ShapeLookup {
  names: readonly string[];
  shape(name: string): number[] | undefined;
}

/** ComfyUI's count_blocks: how many consecutive `i` have some key starting with `prefix(i)`. */
export function countBlocks(names: readonly string[], prefix: (i: number) => string): number {
  let count = 0;
  while (names.some((k) => k.startsWith(prefix(count)))) count++;
  return count;
}

function need(s: ShapeLookup, name: string, why: string): number[] {
  const shape = s.shape(name);
  if (!shape) throw new Error(`U-Net tensor '${name}' is missing (${why})`);
  return shape;
}

interface TransformerInfo {
  depth: number;
  contextDim: number;
  useLinear: boolean;
}

/** Attention of one block (`<prefix>1.…`), or undefined when the block has none. */
function transformerDepth(s: ShapeLookup, prefix: string): TransformerInfo | undefined {
  const tp = `${prefix}1.transformer_blocks.`;
  if (!s.names.some((k) => k.startsWith(tp))) return undefined;
  const depth = countBlocks(s.names, (i) => `${tp}${i}`);
  const contextDim = need(s, `${tp}0.attn2.to_k.weight`, 'cross-attention key')[1];
  // A Linear proj_in is 2-D, the 1×1 Conv of SD1 is 4-D.
  const useLinear = need(s, `${prefix}1.proj_in.weight`, 'transformer input projection').length === 2;
  return { depth, contextDim, useLinear };
}

/**
 * detect_unet_config for the LDM U-Net: undefined when `input_blocks.0.0.weight` is absent.
 * Throws (plain Error) when the layout is inconsistent; the caller adds the file name.
 */
export function detectUnetShape(s: ShapeLookup): Omit<UnetConfig, 'numHeads' | 'numHeadChannels'> | undefined {
  const first = s.shape('input_blocks.0.0.weight');
  if (!first) return undefined;
  if (first.length !== 4) throw new Error(`U-Net tensor 'input_blocks.0.0.weight' has shape [${first.join(', ')}]; expected a 4-D convolution`);
  const [modelChannels, inChannels] = first;
  const adm = s.shape('label_emb.0.0.weight');
  const out = s.shape('out.2.weight');
  const outChannels = out ? out[0] : 4;

  const numResBlocks: number[] = [];
  const channelMult: number[] = [];
  const depthIn: number[] = [];
  const depthOut: number[] = [];
  let contextDim: number | undefined;
  let useLinear = false;
  let lastRes = 0;
  let lastMult = 0;
  const inputCount = countBlocks(s.names, (i) => `input_blocks.${i}.`);
  for (let count = 0; count < inputCount; count++) {
    const prefix = `input_blocks.${count}.`;
    const prefixOut = `output_blocks.${inputCount - count - 1}.`;
    if (!s.names.some((k) => k.startsWith(prefix))) break;
    if (s.shape(`${prefix}0.op.weight`)) {
      // A downsampling block starts a new resolution level.
      numResBlocks.push(lastRes);
      channelMult.push(lastMult);
      lastRes = 0;
      lastMult = 0;
      depthOut.push(transformerDepth(s, prefixOut)?.depth ?? 0);
      continue;
    }
    if (s.shape(`${prefix}0.in_layers.0.weight`)) {
      lastRes++;
      lastMult = need(s, `${prefix}0.out_layers.3.weight`, 'ResBlock output convolution')[0] / modelChannels;
      const t = transformerDepth(s, prefix);
      depthIn.push(t?.depth ?? 0);
      if (t && contextDim === undefined) {
        contextDim = t.contextDim;
        useLinear = t.useLinear;
      }
    }
    if (s.shape(`${prefixOut}0.in_layers.0.weight`)) depthOut.push(transformerDepth(s, prefixOut)?.depth ?? 0);
  }
  numResBlocks.push(lastRes);
  channelMult.push(lastMult);

  let depthMiddle: number;
  if (s.shape('middle_block.1.proj_in.weight')) depthMiddle = countBlocks(s.names, (i) => `middle_block.1.transformer_blocks.${i}`);
  else if (s.shape('middle_block.0.in_layers.0.weight')) depthMiddle = -1;
  else depthMiddle = -2;

  if (contextDim === undefined) throw new Error('the U-Net has no cross-attention (no transformer_blocks.0.attn2.to_k.weight); not a text-to-image Stable Diffusion U-Net');
  return {
    inChannels,
    outChannels,
    modelChannels,
    channelMult,
    numResBlocks,
    transformerDepth: depthIn,
    transformerDepthMiddle: depthMiddle,
    transformerDepthOutput: depthOut,
    contextDim,
    useLinearInTransformer: useLinear,
    ...(adm ? { admInChannels: adm[1] } : {}),
  };
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * supported_models.py's matching, for the families Marble knows: the first whose fixed values
 * all match, then a structural fallback for small test models. Returns the family and the head
 * layout it adds (unet_extra_config).
 */
export function unetFamily(c: Omit<UnetConfig, 'numHeads' | 'numHeadChannels'>): { family: UnetFamily; numHeads: number; numHeadChannels: number } | undefined {
  if (c.contextDim === 768 && c.modelChannels === 320 && !c.useLinearInTransformer && c.admInChannels === undefined) {
    return { family: 'sd1', numHeads: 8, numHeadChannels: -1 };
  }
  if (c.contextDim === 1024 && c.modelChannels === 320 && c.useLinearInTransformer && c.admInChannels === undefined) {
    return { family: 'sd2', numHeads: -1, numHeadChannels: 64 };
  }
  if (c.modelChannels === 384 && c.useLinearInTransformer && c.contextDim === 1280 && c.admInChannels === 2560 && same(c.transformerDepth, [0, 0, 4, 4, 4, 4, 0, 0])) {
    return { family: 'sdxl_refiner', numHeads: -1, numHeadChannels: 64 };
  }
  // SDXL and its distilled variants (SSD-1B, Segmind Vega, KOALA) share context 2048 and adm 2816.
  if (c.modelChannels === 320 && c.useLinearInTransformer && c.contextDim === 2048 && c.admInChannels === 2816) {
    return { family: 'sdxl', numHeads: -1, numHeadChannels: 64 };
  }
  // Small SDXL-layout models (generated test checkpoints): the refiner's context is its OpenCLIP-G
  // width, which is also its pooled width (adm = pooled + 5·256); the base's context is CLIP-L and
  // OpenCLIP-G side by side, wider than its pooled part (adm = pooled + 6·256).
  if (c.useLinearInTransformer && c.admInChannels !== undefined && c.contextDim % 64 === 0 && c.modelChannels !== 320 && c.modelChannels !== 384) {
    if (c.admInChannels - 5 * SDXL_FOURIER_DIM === c.contextDim) return { family: 'sdxl_refiner', numHeads: -1, numHeadChannels: 64 };
    if (c.admInChannels - 6 * SDXL_FOURIER_DIM > 0 && c.admInChannels - 6 * SDXL_FOURIER_DIM < c.contextDim) return { family: 'sdxl', numHeads: -1, numHeadChannels: 64 };
  }
  // Small models in the same layouts (generated test checkpoints) are not in ComfyUI's table;
  // they are told apart by what distinguishes the families structurally. SD1 keeps 8 heads; SD2
  // keeps 64-channel heads, so its widths must be multiples of 64.
  if (c.admInChannels === undefined && c.contextDim !== 2048 && c.contextDim !== 1280) {
    return c.useLinearInTransformer ? { family: 'sd2', numHeads: -1, numHeadChannels: 64 } : { family: 'sd1', numHeads: 8, numHeadChannels: -1 };
  }
  return undefined;
}

/** One line describing a config, for errors about unknown U-Nets. */
export function describeUnet(c: Omit<UnetConfig, 'numHeads' | 'numHeadChannels'>): string {
  return `model_channels ${c.modelChannels}, context_dim ${c.contextDim}, in_channels ${c.inChannels}, ${c.useLinearInTransformer ? 'linear' : 'conv'} proj_in, adm_in_channels ${c.admInChannels ?? 'none'}, transformer_depth [${c.transformerDepth.join(',')}]`;
}
