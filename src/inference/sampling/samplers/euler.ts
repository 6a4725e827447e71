// Euler / Heun / DPM-2 family (Karras et al. 2022 Algorithm 2 and relatives), after
// sample_euler, sample_euler_ancestral, sample_heun, sample_heunpp2, sample_dpm_2 and
// sample_dpm_2_ancestral in ComfyUI's comfy/k_diffusion/sampling.py (eps/VE models; the
// rectified-flow "_RF" branches are not needed for SD-family models).

import {
  addNoise, ancestralNoise, checkAbort, checkInputs, checkNoise, denoise, getAncestralStep, report,
  type Denoiser, type SamplerOptions,
} from './types';
import type { NoiseSampler } from '../noise';

/** Noise for churn, created on first use so deterministic runs need no seed. */
function lazyNoise(name: string, x: Float32Array, opts: SamplerOptions): NoiseSampler {
  let inner: NoiseSampler | null = null;
  return (s, t) => (inner ??= ancestralNoise(name, x, opts))(s, t);
}

/** x_out = x + (x − denoised)/sigma · dt, i.e. one Euler step of the probability-flow ODE. */
function eulerStep(x: Float32Array, denoised: Float32Array, sigma: number, dt: number, out: Float32Array): void {
  const k = dt / sigma;
  for (let i = 0; i < x.length; i++) out[i] = x[i] + (x[i] - denoised[i]) * k;
}

/** Churn (s_churn > 0): raise sigma to sigma_hat by adding fresh noise. Returns sigma_hat. */
function churn(name: string, x: Float32Array, sigmas: Float64Array, i: number, opts: SamplerOptions, noise: NoiseSampler): number {
  const sChurn = opts.s_churn ?? 0;
  const sigma = sigmas[i];
  if (!(sChurn > 0)) return sigma;
  const sTmin = opts.s_tmin ?? 0;
  const sTmax = opts.s_tmax ?? Infinity;
  const gamma = sTmin <= sigma && sigma <= sTmax ? Math.min(sChurn / (sigmas.length - 1), Math.SQRT2 - 1) : 0;
  const sigmaHat = sigma * (gamma + 1);
  if (gamma > 0) {
    addNoise(name, x, noise, sigma, sigmaHat, (opts.s_noise ?? 1) * Math.sqrt(sigmaHat ** 2 - sigma ** 2));
  }
  return sigmaHat;
}

export async function sampleEuler(model: Denoiser, x0: Float32Array, sigmasIn: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> {
  const sigmas = checkInputs('euler', x0, sigmasIn);
  const churnNoise = lazyNoise('euler', x0, opts);
  const x = Float32Array.from(x0);
  const steps = sigmas.length - 1;
  for (let i = 0; i < steps; i++) {
    checkAbort(opts);
    const sigmaHat = churn('euler', x, sigmas, i, opts, churnNoise);
    const den = await denoise('euler', model, x, sigmaHat);
    await report(opts, i, x, sigmas[i], sigmaHat, den, steps);
    eulerStep(x, den, sigmaHat, sigmas[i + 1] - sigmaHat, x);
  }
  return x;
}

export async function sampleEulerAncestral(model: Denoiser, x0: Float32Array, sigmasIn: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> {
  const sigmas = checkInputs('euler_ancestral', x0, sigmasIn);
  const x = Float32Array.from(x0);
  const steps = sigmas.length - 1;
  if (steps < 1) return x;
  const noise = ancestralNoise('euler_ancestral', x, opts);
  const eta = opts.eta ?? 1;
  const sNoise = opts.s_noise ?? 1;
  for (let i = 0; i < steps; i++) {
    checkAbort(opts);
    const den = await denoise('euler_ancestral', model, x, sigmas[i]);
    const { sigmaDown, sigmaUp } = getAncestralStep(sigmas[i], sigmas[i + 1], eta);
    await report(opts, i, x, sigmas[i], sigmas[i], den, steps);
    if (sigmaDown === 0) {
      x.set(den);
    } else {
      const n = checkNoise('euler_ancestral', noise(sigmas[i], sigmas[i + 1]), x.length);
      const k = (sigmaDown - sigmas[i]) / sigmas[i];
      const ku = sNoise * sigmaUp;
      for (let j = 0; j < x.length; j++) x[j] = x[j] + (x[j] - den[j]) * k + n[j] * ku;
    }
  }
  return x;
}

export async function sampleHeun(model: Denoiser, x0: Float32Array, sigmasIn: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> {
  const sigmas = checkInputs('heun', x0, sigmasIn);
  const churnNoise = lazyNoise('heun', x0, opts);
  const x = Float32Array.from(x0);
  const x2 = new Float32Array(x.length);
  const steps = sigmas.length - 1;
  for (let i = 0; i < steps; i++) {
    checkAbort(opts);
    const sigmaHat = churn('heun', x, sigmas, i, opts, churnNoise);
    const den = await denoise('heun', model, x, sigmaHat);
    await report(opts, i, x, sigmas[i], sigmaHat, den, steps);
    const dt = sigmas[i + 1] - sigmaHat;
    if (sigmas[i + 1] === 0) {
      eulerStep(x, den, sigmaHat, dt, x);
    } else {
      eulerStep(x, den, sigmaHat, dt, x2);
      const den2 = await denoise('heun', model, x2, sigmas[i + 1]);
      for (let j = 0; j < x.length; j++) {
        const d = (x[j] - den[j]) / sigmaHat;
        const d2 = (x2[j] - den2[j]) / sigmas[i + 1];
        x[j] = x[j] + ((d + d2) / 2) * dt;
      }
    }
  }
  return x;
}

export async function sampleHeunpp2(model: Denoiser, x0: Float32Array, sigmasIn: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> {
  const sigmas = checkInputs('heunpp2', x0, sigmasIn);
  const churnNoise = lazyNoise('heunpp2', x0, opts);
  const x = Float32Array.from(x0);
  const n = x.length;
  const x2 = new Float32Array(n);
  const x3 = new Float32Array(n);
  const steps = sigmas.length - 1;
  const sEnd = sigmas[sigmas.length - 1];
  for (let i = 0; i < steps; i++) {
    checkAbort(opts);
    const sigmaHat = churn('heunpp2', x, sigmas, i, opts, churnNoise);
    const den = await denoise('heunpp2', model, x, sigmaHat);
    await report(opts, i, x, sigmas[i], sigmaHat, den, steps);
    const dt = sigmas[i + 1] - sigmaHat;
    if (sigmas[i + 1] === sEnd) {
      eulerStep(x, den, sigmaHat, dt, x);
    } else if (sigmas[i + 2] === sEnd) {
      eulerStep(x, den, sigmaHat, dt, x2);
      const den2 = await denoise('heunpp2', model, x2, sigmas[i + 1]);
      const w2 = sigmas[i + 1] / (2 * sigmas[0]);
      const w1 = 1 - w2;
      for (let j = 0; j < n; j++) {
        const d = (x[j] - den[j]) / sigmaHat;
        const d2 = (x2[j] - den2[j]) / sigmas[i + 1];
        x[j] = x[j] + (d * w1 + d2 * w2) * dt;
      }
    } else {
      eulerStep(x, den, sigmaHat, dt, x2);
      const den2 = await denoise('heunpp2', model, x2, sigmas[i + 1]);
      const dt2 = sigmas[i + 2] - sigmas[i + 1];
      eulerStep(x2, den2, sigmas[i + 1], dt2, x3);
      const den3 = await denoise('heunpp2', model, x3, sigmas[i + 2]);
      const w = 3 * sigmas[0];
      const w2 = sigmas[i + 1] / w;
      const w3 = sigmas[i + 2] / w;
      const w1 = 1 - w2 - w3;
      for (let j = 0; j < n; j++) {
        const d = (x[j] - den[j]) / sigmaHat;
        const d2 = (x2[j] - den2[j]) / sigmas[i + 1];
        const d3 = (x3[j] - den3[j]) / sigmas[i + 2];
        x[j] = x[j] + (w1 * d + w2 * d2 + w3 * d3) * dt;
      }
    }
  }
  return x;
}

/** DPM-Solver-2 midpoint: sigma_mid = exp(lerp(log a, log b, 1/2)). */
async function dpm2Midpoint(name: string, model: Denoiser, x: Float32Array, den: Float32Array, sigma: number, sigmaTarget: number, tmp: Float32Array): Promise<void> {
  const sigmaMid = Math.exp(0.5 * (Math.log(sigma) + Math.log(sigmaTarget)));
  eulerStep(x, den, sigma, sigmaMid - sigma, tmp);
  const den2 = await denoise(name, model, tmp, sigmaMid);
  const k = (sigmaTarget - sigma) / sigmaMid;
  for (let j = 0; j < x.length; j++) x[j] = x[j] + (tmp[j] - den2[j]) * k;
}

export async function sampleDpm2(model: Denoiser, x0: Float32Array, sigmasIn: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> {
  const sigmas = checkInputs('dpm_2', x0, sigmasIn);
  const churnNoise = lazyNoise('dpm_2', x0, opts);
  const x = Float32Array.from(x0);
  const tmp = new Float32Array(x.length);
  const steps = sigmas.length - 1;
  for (let i = 0; i < steps; i++) {
    checkAbort(opts);
    const sigmaHat = churn('dpm_2', x, sigmas, i, opts, churnNoise);
    const den = await denoise('dpm_2', model, x, sigmaHat);
    await report(opts, i, x, sigmas[i], sigmaHat, den, steps);
    if (sigmas[i + 1] === 0) eulerStep(x, den, sigmaHat, sigmas[i + 1] - sigmaHat, x);
    else await dpm2Midpoint('dpm_2', model, x, den, sigmaHat, sigmas[i + 1], tmp);
  }
  return x;
}

export async function sampleDpm2Ancestral(model: Denoiser, x0: Float32Array, sigmasIn: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> {
  const sigmas = checkInputs('dpm_2_ancestral', x0, sigmasIn);
  const x = Float32Array.from(x0);
  const tmp = new Float32Array(x.length);
  const steps = sigmas.length - 1;
  if (steps < 1) return x;
  const noise = ancestralNoise('dpm_2_ancestral', x, opts);
  const eta = opts.eta ?? 1;
  const sNoise = opts.s_noise ?? 1;
  for (let i = 0; i < steps; i++) {
    checkAbort(opts);
    const den = await denoise('dpm_2_ancestral', model, x, sigmas[i]);
    const { sigmaDown, sigmaUp } = getAncestralStep(sigmas[i], sigmas[i + 1], eta);
    await report(opts, i, x, sigmas[i], sigmas[i], den, steps);
    if (sigmaDown === 0) {
      eulerStep(x, den, sigmas[i], sigmaDown - sigmas[i], x);
    } else {
      await dpm2Midpoint('dpm_2_ancestral', model, x, den, sigmas[i], sigmaDown, tmp);
      addNoise('dpm_2_ancestral', x, noise, sigmas[i], sigmas[i + 1], sNoise * sigmaUp);
    }
  }
  return x;
}
