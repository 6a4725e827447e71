// Latent nodes: empty latents, upscaling and batch bookkeeping, as ComfyUI's nodes.py does them.
import type { NodeDefinition } from '../../workflow/nodeDefinition';
import { checkAllocation, numel, tensor, type Latent, type Tensor } from '../tensor';
import { pyRound } from '../image/convert';
import { commonUpscale, FLOAT_UPSCALE_METHODS } from '../image/resize';
import { schemaOf } from './schema';

const MAX_RESOLUTION = 16384;

function asLatent(v: unknown, what: string): Latent {
  const s = (v as Latent | undefined)?.samples;
  if (!s || !(s.data instanceof Float32Array) || s.shape.length !== 4) {
    throw new Error(`${what}: expected a LATENT {samples: [batch, channels, height, width]}, got ${v === null ? 'null' : typeof v}`);
  }
  return v as Latent;
}

function intIn(inputs: Record<string, unknown>, name: string, min: number, max: number): number {
  const v = inputs[name];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new Error(`${name}: expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Rows [start, start+length) of a tensor's first axis, copied. */
function sliceBatch(t: Tensor, start: number, length: number): Tensor {
  const per = numel(t.shape.slice(1));
  return tensor([length, ...t.shape.slice(1)], t.data.slice(start * per, (start + length) * per));
}

/** `t.repeat(times, 1, 1, 1)`: the whole batch `times` over. */
function repeatBatch(t: Tensor, times: number): Tensor {
  const shape = [t.shape[0] * times, ...t.shape.slice(1)];
  const out = tensor(shape, undefined, `amount: ${times} copies of a batch of ${t.shape[0]}`);
  for (let i = 0; i < times; i++) out.data.set(t.data, i * t.data.length);
  return out;
}

export function emptyLatent(width: number, height: number, batch: number): Latent {
  return { samples: tensor([batch, 4, Math.floor(height / 8), Math.floor(width / 8)]) };
}

/** Size problems of EmptyLatentImage's inputs, or undefined; shared by validation and run. */
function emptyLatentProblem(width: number, height: number, batch: number): string | undefined {
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (v % 8 !== 0) return `${name}: ${v} is not a multiple of 8 (the VAE works on 8×8 pixel blocks); try ${Math.max(16, Math.round(v / 8) * 8)}`;
  }
  try {
    checkAllocation(batch * 4 * Math.floor(height / 8) * Math.floor(width / 8), `batch_size: the latent for ${batch} × ${width}×${height}`);
    // The decoded images are 48× the latent; refusing here beats failing after sampling.
    checkAllocation(batch * 3 * height * width, `batch_size: the decoded images for ${batch} × ${width}×${height}`);
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

const emptyLatentImage: NodeDefinition = {
  schema: schemaOf('EmptyLatentImage'),
  validateInputs(inputs) {
    const { width, height, batch_size: batch } = inputs;
    // Linked or out-of-range values are reported by the generic pass.
    if (![width, height, batch].every((v) => typeof v === 'number' && Number.isInteger(v) && v > 0)) return true;
    return emptyLatentProblem(width as number, height as number, batch as number) ?? true;
  },
  run(inputs) {
    const width = intIn(inputs, 'width', 16, MAX_RESOLUTION);
    const height = intIn(inputs, 'height', 16, MAX_RESOLUTION);
    const batch = intIn(inputs, 'batch_size', 1, 4096);
    const problem = emptyLatentProblem(width, height, batch);
    if (problem) throw new Error(problem);
    return { outputs: [emptyLatent(width, height, batch)] };
  },
};

/** LatentUpscale sizing: 0 keeps the aspect ratio; each side at least 64 px; result in latent units. */
export function latentUpscale(latent: Latent, method: string, width: number, height: number, crop: string): Latent {
  if (width === 0 && height === 0) return latent;
  const [, , lh, lw] = latent.samples.shape;
  if (width === 0) {
    height = Math.max(64, height);
    width = Math.max(64, pyRound((lw * height) / lh));
  } else if (height === 0) {
    width = Math.max(64, width);
    height = Math.max(64, pyRound((lh * width) / lw));
  } else {
    width = Math.max(64, width);
    height = Math.max(64, height);
  }
  return { ...latent, samples: commonUpscale(latent.samples, Math.floor(width / 8), Math.floor(height / 8), method, crop) };
}

export function latentUpscaleBy(latent: Latent, method: string, scale: number): Latent {
  const [, , lh, lw] = latent.samples.shape;
  const width = Math.max(1, pyRound(lw * scale));
  const height = Math.max(1, pyRound(lh * scale));
  return { ...latent, samples: commonUpscale(latent.samples, width, height, method, 'disabled') };
}

function methodIn(inputs: Record<string, unknown>): string {
  const m = inputs.upscale_method;
  if (typeof m !== 'string' || !(FLOAT_UPSCALE_METHODS as readonly string[]).includes(m)) {
    throw new Error(`upscale_method: expected one of ${FLOAT_UPSCALE_METHODS.join(', ')}, got ${JSON.stringify(m)}`);
  }
  return m;
}

const latentUpscaleNode: NodeDefinition = {
  schema: schemaOf('LatentUpscale'),
  run(inputs) {
    const latent = asLatent(inputs.samples, "LatentUpscale input 'samples'");
    const crop = inputs.crop === 'center' ? 'center' : inputs.crop === 'disabled' ? 'disabled' : null;
    if (!crop) throw new Error(`crop: expected 'disabled' or 'center', got ${JSON.stringify(inputs.crop)}`);
    const width = intIn(inputs, 'width', 0, MAX_RESOLUTION);
    const height = intIn(inputs, 'height', 0, MAX_RESOLUTION);
    return { outputs: [latentUpscale(latent, methodIn(inputs), width, height, crop)] };
  },
};

const latentUpscaleByNode: NodeDefinition = {
  schema: schemaOf('LatentUpscaleBy'),
  run(inputs) {
    const latent = asLatent(inputs.samples, "LatentUpscaleBy input 'samples'");
    const scale = inputs.scale_by;
    if (typeof scale !== 'number' || !(scale > 0)) throw new Error(`scale_by: expected a number > 0, got ${JSON.stringify(scale)}`);
    return { outputs: [latentUpscaleBy(latent, methodIn(inputs), scale)] };
  },
};

/** Masks repeated up to the batch size (ComfyUI: `masks.repeat(ceil(B / M), 1, 1, 1)[:B]`). */
function masksToBatch(masks: Tensor, batch: number): Tensor {
  if (masks.shape[0] >= batch) return masks;
  return sliceBatch(repeatBatch(masks, Math.ceil(batch / masks.shape[0])), 0, batch);
}

export function latentFromBatch(latent: Latent, batchIndex: number, length: number): Latent {
  const b = latent.samples.shape[0];
  const start = Math.min(b - 1, batchIndex);
  const len = Math.min(b - start, length);
  const out: Latent = { ...latent, samples: sliceBatch(latent.samples, start, len) };
  if (latent.noise_mask) {
    const masks = latent.noise_mask;
    out.noise_mask = masks.shape[0] === 1 ? masks : sliceBatch(masksToBatch(masks, b), start, len);
  }
  // batch_index keeps each item's original noise index, so its noise matches the full batch's.
  out.batch_index = latent.batch_index
    ? latent.batch_index.slice(start, start + len)
    : Array.from({ length: len }, (_, i) => start + i);
  return out;
}

export function repeatLatentBatch(latent: Latent, amount: number): Latent {
  const out: Latent = { ...latent, samples: repeatBatch(latent.samples, amount) };
  // ComfyUI repeats the original masks (its padded copy is computed but unused); so do we.
  if (latent.noise_mask && latent.noise_mask.shape[0] > 1) out.noise_mask = repeatBatch(latent.noise_mask, amount);
  if (latent.batch_index) {
    const idx = latent.batch_index;
    const offset = Math.max(...idx) - Math.min(...idx) + 1;
    const more: number[] = [];
    for (let i = 1; i < amount; i++) for (const x of idx) more.push(x + i * offset);
    out.batch_index = [...idx, ...more];
  }
  return out;
}

export function setLatentNoiseMask(latent: Latent, mask: Tensor): Latent {
  if (!(mask?.data instanceof Float32Array) || mask.shape.length < 2) {
    throw new Error(`mask: expected a MASK tensor [batch, height, width], got ${mask ? `shape [${mask.shape}]` : typeof mask}`);
  }
  const h = mask.shape.at(-2)!, w = mask.shape.at(-1)!;
  return { ...latent, noise_mask: tensor([mask.data.length / (h * w), 1, h, w], mask.data) };
}

const latentFromBatchNode: NodeDefinition = {
  schema: schemaOf('LatentFromBatch'),
  run(inputs) {
    const latent = asLatent(inputs.samples, "LatentFromBatch input 'samples'");
    return { outputs: [latentFromBatch(latent, intIn(inputs, 'batch_index', 0, 63), intIn(inputs, 'length', 1, 64))] };
  },
};

const repeatLatentBatchNode: NodeDefinition = {
  schema: schemaOf('RepeatLatentBatch'),
  run(inputs) {
    const latent = asLatent(inputs.samples, "RepeatLatentBatch input 'samples'");
    return { outputs: [repeatLatentBatch(latent, intIn(inputs, 'amount', 1, 64))] };
  },
};

const setLatentNoiseMaskNode: NodeDefinition = {
  schema: schemaOf('SetLatentNoiseMask'),
  run(inputs) {
    const latent = asLatent(inputs.samples, "SetLatentNoiseMask input 'samples'");
    return { outputs: [setLatentNoiseMask(latent, inputs.mask as Tensor)] };
  },
};

export function latentNodes(): NodeDefinition[] {
  return [emptyLatentImage, latentUpscaleNode, latentUpscaleByNode, latentFromBatchNode, repeatLatentBatchNode, setLatentNoiseMaskNode];
}
