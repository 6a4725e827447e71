// Shared contract of the k-diffusion-style samplers: each is one function of
// (model, x, sigmas, options) that returns the final latent, like comfy/k_diffusion/sampling.py.
// Latents are flat Float32Arrays (state is stored in float32 like torch); per-element arithmetic is
// done in float64 and rounded on store.

import { BrownianNoiseSampler } from '../brownianNoise';
import { defaultNoiseSampler, type NoiseSampler } from '../noise';
import type { Seed } from '../torchGenerator';

/** Returns the denoised (x0) prediction for x at noise level sigma. */
export type Denoiser = (x: Float32Array, sigma: number) => Promise<Float32Array>;

export interface StepInfo {
  i: number;
  /**
   * The x ComfyUI's sampler hands its callback: the current latent for most samplers, but the
   * sampler's input for ipndm / ipndm_v / deis and the VP-scaled x (x/√(1+σ²)) for uni_pc.
   */
  x: Float32Array;
  sigma: number;
  sigma_hat: number;
  denoised: Float32Array;
  /** len(sigmas) − 1, what ComfyUI's progress callback reports as total steps. */
  totalSteps: number;
}

export interface SamplerOptions {
  /** Per-step noise; defaults to ComfyUI's (seeded from `seed`) for samplers that need noise. */
  noiseSampler?: NoiseSampler;
  /** The KSampler seed: ancestral samplers draw torch randn with seed+1, SDE samplers a Brownian tree. */
  seed?: Seed;
  callback?: (info: StepInfo) => void | Promise<void>;
  signal?: AbortSignal;
  eta?: number;
  s_noise?: number;
  s_churn?: number;
  s_tmin?: number;
  s_tmax?: number;
  /** lms order (4), ipndm/deis max order (4 / 3). */
  order?: number;
  /** dpmpp_sde midpoint fraction (1/2). */
  r?: number;
  /** dpmpp_2m_sde second-order correction. */
  solver_type?: 'midpoint' | 'heun';
}

export type SamplerFn = (model: Denoiser, x: Float32Array, sigmas: ArrayLike<number>, options?: SamplerOptions) => Promise<Float32Array>;

export function checkInputs(name: string, x: Float32Array, sigmas: ArrayLike<number>): Float64Array {
  if (!(x instanceof Float32Array)) throw new Error(`sampler ${name}: x must be a Float32Array`);
  const s = Float64Array.from(sigmas);
  for (let i = 0; i < s.length; i++) {
    if (!Number.isFinite(s[i]) || s[i] < 0) throw new Error(`sampler ${name}: sigma[${i}] = ${s[i]} is not a finite non-negative number`);
  }
  return s;
}

/** Calls the model and checks the shape of what comes back. */
export async function denoise(name: string, model: Denoiser, x: Float32Array, sigma: number): Promise<Float32Array> {
  const out = await model(x, sigma);
  if (!(out instanceof Float32Array) || out.length !== x.length) {
    throw new Error(`sampler ${name}: the model returned ${out instanceof Float32Array ? out.length + ' values' : 'no Float32Array'} for an input of ${x.length}`);
  }
  return out;
}

export async function report(options: SamplerOptions | undefined, i: number, x: Float32Array, sigma: number, sigmaHat: number, denoised: Float32Array, totalSteps: number): Promise<void> {
  if (options?.callback) await options.callback({ i, x, sigma, sigma_hat: sigmaHat, denoised, totalSteps });
}

export function checkAbort(options: SamplerOptions | undefined): void {
  options?.signal?.throwIfAborted();
}

/** ComfyUI default_noise_sampler (torch randn, seed+1) for ancestral samplers. */
export function ancestralNoise(name: string, x: Float32Array, options: SamplerOptions | undefined): NoiseSampler {
  if (options?.noiseSampler) return options.noiseSampler;
  if (options?.seed === undefined) throw new Error(`sampler ${name} adds noise: pass options.seed or options.noiseSampler`);
  return defaultNoiseSampler([x.length], options.seed);
}

/** Brownian-tree noise for SDE samplers over [smallest positive σ, largest σ]. */
export function sdeNoise(name: string, x: Float32Array, sigmas: Float64Array, options: SamplerOptions | undefined): NoiseSampler {
  if (options?.noiseSampler) return options.noiseSampler;
  if (options?.seed === undefined) throw new Error(`sampler ${name} adds noise: pass options.seed or options.noiseSampler`);
  let lo = Infinity;
  let hi = 0;
  for (const s of sigmas) {
    if (s > 0 && s < lo) lo = s;
    if (s > hi) hi = s;
  }
  const tree = new BrownianNoiseSampler(x.length, lo, hi, options.seed);
  return (s, sNext) => tree.sample(s, sNext);
}

export function checkNoise(name: string, noise: Float32Array, n: number): Float32Array {
  if (noise.length !== n) throw new Error(`sampler ${name}: noise sampler returned ${noise.length} values, expected ${n}`);
  return noise;
}

/** target += noise(σ, σ_next)·scale: the noise injection most stochastic samplers end a step with. */
export function addNoise(name: string, target: Float32Array, noise: NoiseSampler, sigma: number, sigmaNext: number, scale: number): void {
  const nz = checkNoise(name, noise(sigma, sigmaNext), target.length);
  for (let j = 0; j < target.length; j++) target[j] += nz[j] * scale;
}

/** k-diffusion get_ancestral_step: how far to step down deterministically and how much noise to add. */
export function getAncestralStep(sigmaFrom: number, sigmaTo: number, eta = 1): { sigmaDown: number; sigmaUp: number } {
  if (!eta) return { sigmaDown: sigmaTo, sigmaUp: 0 };
  const sigmaUp = Math.min(sigmaTo, eta * Math.sqrt((sigmaTo ** 2 * (sigmaFrom ** 2 - sigmaTo ** 2)) / sigmaFrom ** 2));
  const sigmaDown = Math.sqrt(Math.max(sigmaTo ** 2 - sigmaUp ** 2, 0));
  return { sigmaDown, sigmaUp };
}
