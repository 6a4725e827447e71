// Classifier-free guidance around a batched U-Net call, after sampling_function / calc_cond_batch /
// cfg_function in ComfyUI's comfy/samplers.py, plus KSamplerX0Inpaint's mask blending.
// Conditioning stays opaque (type parameter C): the inference nodes own tensors and the U-Net call.

import type { ModelSampling } from './modelSampling';
import type { Denoiser } from './samplers/types';

export interface ModelCallInput<C> {
  /** U-Net input already scaled by calculateInput (x/√(σ²+1)): `batch` samples back to back. */
  x: Float32Array;
  batch: number;
  sigma: number;
  /** modelSampling.timestep(sigma): the integer training timestep the U-Net expects. */
  timestep: number;
  /** The conditioning of each sample in this call (length = batch). */
  conds: readonly C[];
  /** The latent sample index (0‥batchSize−1) of each entry: per-sample masks are chosen by it. */
  samples: readonly number[];
  /** The same entries of x before calculateInput, for calls that return x0 themselves. */
  xUnscaled: Float32Array;
}

/**
 * A call's result: the raw model output (eps, v, …) of the same size as x, which the wrapper turns
 * into x0; or `{ denoised }` when the call already combined x0 predictions itself (conditioning
 * areas and masks are weighted in x0 space, as ComfyUI's calc_cond_batch does).
 */
export type ModelCallResult = Float32Array | { denoised: Float32Array };

/** Runs the U-Net on a batch. */
export type ModelCall<C> = ((input: ModelCallInput<C>) => Promise<ModelCallResult>) & {
  /**
   * Called once when the denoiser is built, with both conditionings together, because some
   * preparation needs the pair (ComfyUI's process_conds gives each area an opposite of equal area).
   * Returns the conditionings to pass on every call instead.
   */
  prepareConds?: (positive: C, negative: C | null) => { positive: C; negative: C | null };
};

export interface CfgDenoiserOptions<C> {
  modelSampling: ModelSampling;
  model: ModelCall<C>;
  positive: C;
  /** Required unless cfg is 1 (then it is not evaluated). */
  negative?: C | null;
  cfg: number;
  /** Number of latent samples in x (default 1). */
  batchSize?: number;
  /**
   * Most samples one model call may take (default: unlimited). With room for 2·batchSize the
   * positive and negative passes share one call, as ComfyUI does when memory allows; otherwise
   * they are split into several calls.
   */
  maxBatch?: number;
  /** ComfyUI's disable_cfg1_optimization: evaluate the negative even at cfg 1. */
  disableCfg1Optimization?: boolean;
}

/** Python math.isclose(a, b) with its default rel_tol 1e-9. */
export function isClose(a: number, b: number, relTol = 1e-9): boolean {
  return Math.abs(a - b) <= relTol * Math.max(Math.abs(a), Math.abs(b));
}

interface Job<C> {
  cond: C;
  sample: number;
  /** 0 = positive, 1 = negative */
  which: 0 | 1;
}

/** Builds the Denoiser a sampler calls: x0 = uncond + (cond − uncond)·cfg on the model's x0 predictions. */
export function createCfgDenoiser<C>(opts: CfgDenoiserOptions<C>): Denoiser {
  const { modelSampling: ms, model, cfg } = opts;
  const batchSize = opts.batchSize ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`CFG: batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isFinite(cfg)) throw new Error(`CFG: cfg must be a finite number, got ${cfg}`);
  const maxBatch = opts.maxBatch ?? Infinity;
  if (!(maxBatch >= 1)) throw new Error(`CFG: maxBatch must be ≥ 1, got ${maxBatch}`);
  const skipUncond = isClose(cfg, 1) && !opts.disableCfg1Optimization;
  const hasNegative = opts.negative !== undefined && opts.negative !== null;
  if (!skipUncond && !hasNegative) throw new Error(`CFG: a negative conditioning is needed when cfg is ${cfg} (not 1)`);
  const prepared = model.prepareConds
    ? model.prepareConds(opts.positive, hasNegative ? (opts.negative as C) : null)
    : { positive: opts.positive, negative: hasNegative ? (opts.negative as C) : null };

  return async (x: Float32Array, sigma: number): Promise<Float32Array> => {
    if (x.length % batchSize !== 0) throw new Error(`CFG: x has ${x.length} values, not divisible by batch size ${batchSize}`);
    const per = x.length / batchSize;
    const jobs: Job<C>[] = [];
    for (let b = 0; b < batchSize; b++) jobs.push({ cond: prepared.positive, sample: b, which: 0 });
    if (!skipUncond) for (let b = 0; b < batchSize; b++) jobs.push({ cond: prepared.negative as C, sample: b, which: 1 });

    const scaled = ms.calculateInput(sigma, x);
    const timestep = ms.timestep(sigma);
    const preds = [new Float32Array(x.length), skipUncond ? null : new Float32Array(x.length)];
    for (let start = 0; start < jobs.length; start += maxBatch) {
      const chunk = jobs.slice(start, start + Math.min(maxBatch, jobs.length - start));
      const input = new Float32Array(chunk.length * per);
      const xUnscaled = new Float32Array(chunk.length * per);
      chunk.forEach((job, k) => {
        input.set(scaled.subarray(job.sample * per, (job.sample + 1) * per), k * per);
        xUnscaled.set(x.subarray(job.sample * per, (job.sample + 1) * per), k * per);
      });
      const result = await model({
        x: input, batch: chunk.length, sigma, timestep, conds: chunk.map((j) => j.cond), samples: chunk.map((j) => j.sample), xUnscaled,
      });
      const out = result instanceof Float32Array ? result : result?.denoised;
      if (!(out instanceof Float32Array) || out.length !== input.length) {
        throw new Error(`CFG: the model returned ${out instanceof Float32Array ? out.length + ' values' : 'no Float32Array'} for a batch of ${chunk.length} × ${per}`);
      }
      const isDenoised = !(result instanceof Float32Array);
      chunk.forEach((job, k) => {
        const xs = x.subarray(job.sample * per, (job.sample + 1) * per);
        const target = preds[job.which]!.subarray(job.sample * per, (job.sample + 1) * per);
        if (isDenoised) target.set(out.subarray(k * per, (k + 1) * per));
        else ms.calculateDenoised(sigma, out.subarray(k * per, (k + 1) * per), xs, target);
      });
    }
    const cond = preds[0]!;
    const uncond = preds[1];
    const result = new Float32Array(x.length);
    // With the negative skipped ComfyUI combines against zeros: 0 + (cond − 0)·cfg.
    if (!uncond) for (let i = 0; i < x.length; i++) result[i] = cond[i] * cfg;
    else for (let i = 0; i < x.length; i++) result[i] = uncond[i] + (cond[i] - uncond[i]) * cfg;
    return result;
  };
}

export interface InpaintOptions {
  /** The (process_latent_in-scaled) latent being inpainted. */
  latent: Float32Array;
  /** The noise that re-noises the kept region (the initial noise; fresh seed+1 noise for ddim). */
  noise: Float32Array;
  /** 1 where the model may change the latent, 0 where the original is kept; same size as latent. */
  denoiseMask: Float32Array;
}

/**
 * KSamplerX0Inpaint: before each call the kept region is replaced by the latent noised to the
 * current σ (latent + noise·σ), and the prediction there is replaced by the latent itself.
 */
export function createInpaintDenoiser(model: Denoiser, opts: InpaintOptions): Denoiser {
  const { latent, noise, denoiseMask: mask } = opts;
  if (noise.length !== latent.length || mask.length !== latent.length) {
    throw new Error(`inpaint: latent (${latent.length}), noise (${noise.length}) and denoise mask (${mask.length}) must have the same size`);
  }
  return async (x: Float32Array, sigma: number): Promise<Float32Array> => {
    if (x.length !== latent.length) throw new Error(`inpaint: x has ${x.length} values, the latent ${latent.length}`);
    const xin = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) xin[i] = x[i] * mask[i] + (latent[i] + noise[i] * sigma) * (1 - mask[i]);
    const out = await model(xin, sigma);
    const res = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) res[i] = out[i] * mask[i] + latent[i] * (1 - mask[i]);
    return res;
  };
}
