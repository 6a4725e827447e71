// Sigma schedules, after SCHEDULER_HANDLERS and KSampler in ComfyUI's comfy/samplers.py,
// get_sigmas_karras / get_sigmas_exponential in comfy/k_diffusion/sampling.py and the custom-sampling
// nodes in comfy_extras/nodes_custom_sampler.py. Every list is descending and (except where a
// schedule says otherwise) ends with 0. Values are rounded to float32 at the end, as ComfyUI returns
// torch.FloatTensor lists; intermediate math is float64 (≤ 1 float32 ulp from ComfyUI).

import type { ModelSampling } from './modelSampling';
import { inverseRegularizedIncompleteBeta, linspace } from './numeric';

/** KSampler.SCHEDULERS, in ComfyUI's order. */
export const SCHEDULER_NAMES = [
  'simple', 'sgm_uniform', 'karras', 'exponential', 'ddim_uniform', 'beta', 'normal', 'linear_quadratic', 'kl_optimal',
] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

/** Samplers for which KSampler computes steps+1 sigmas and drops the second-to-last. */
export const DISCARD_PENULTIMATE_SIGMA_SAMPLERS: ReadonlySet<string> = new Set(['dpm_2', 'dpm_2_ancestral', 'uni_pc', 'uni_pc_bh2']);

const f32 = (values: ArrayLike<number>): Float64Array => Float64Array.from(values, (v) => Math.fround(v));

function checkSteps(steps: number, what: string): void {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`${what}: steps must be an integer ≥ 1, got ${steps}`);
}

/**
 * Karras et al. (2022) schedule with ρ (default 7), plus a trailing 0. torch evaluates it on a
 * float32 ramp with the Python-float constants rounded to float32 inside each op, then pow in
 * float32; those roundings are reproduced (they move σ by up to ~1e-6 relative near σ_max).
 */
export function sigmasKarras(n: number, sigmaMin: number, sigmaMax: number, rho = 7): Float64Array {
  checkSteps(n, 'karras');
  if (!(sigmaMin > 0 && sigmaMax > sigmaMin)) throw new Error(`karras: need 0 < sigma_min < sigma_max, got ${sigmaMin}, ${sigmaMax}`);
  const ramp = linspace(0, 1, n, true);
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  const span = Math.fround(minInv - maxInv);
  const out = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    const base = Math.fround(Math.fround(maxInv) + Math.fround(ramp[i] * span));
    out[i] = Math.fround(base ** rho);
  }
  return out;
}

/** Evenly spaced in log σ (a float32 linspace, then float32 exp) from σ_max to σ_min, plus a trailing 0. */
export function sigmasExponential(n: number, sigmaMin: number, sigmaMax: number): Float64Array {
  checkSteps(n, 'exponential');
  if (!(sigmaMin > 0 && sigmaMax > sigmaMin)) throw new Error(`exponential: need 0 < sigma_min < sigma_max, got ${sigmaMin}, ${sigmaMax}`);
  const logs = linspace(Math.log(sigmaMax), Math.log(sigmaMin), n, true);
  const out = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) out[i] = Math.exp(logs[i]);
  return f32(out);
}

function simpleScheduler(ms: ModelSampling, steps: number): Float64Array {
  const len = ms.sigmas.length;
  const ss = len / steps;
  const out = new Float64Array(steps + 1);
  for (let x = 0; x < steps; x++) out[x] = ms.sigmas[len - 1 - Math.floor(x * ss)];
  return out;
}

function ddimUniformScheduler(ms: ModelSampling, steps: number): Float64Array {
  const len = ms.sigmas.length;
  const sigs: number[] = [];
  let n = steps;
  if (Math.abs(ms.sigmas[1]) <= 1e-5) n += 1;
  else sigs.push(0);
  const ss = Math.max(Math.floor(len / n), 1);
  for (let x = 1; x < len; x += ss) sigs.push(ms.sigmas[x]);
  return f32(sigs.reverse());
}

function normalScheduler(ms: ModelSampling, steps: number, sgm: boolean): Float64Array {
  const start = ms.timestep(ms.sigmaMax);
  const end = ms.timestep(ms.sigmaMin);
  let appendZero = true;
  let ts: Float64Array;
  if (sgm) {
    ts = linspace(start, end, steps + 1, true).subarray(0, steps);
  } else {
    let n = steps;
    if (Math.abs(ms.sigma(end)) <= 1e-5) {
      n += 1;
      appendZero = false;
    }
    ts = linspace(start, end, n, true);
  }
  const sigs = Array.from(ts, (t) => ms.sigma(t));
  if (appendZero) sigs.push(0);
  return f32(sigs);
}

/** `beta` scheduler (arXiv 2407.12173): timesteps at Beta(α, β) quantiles, duplicates dropped. */
export function betaScheduler(ms: ModelSampling, steps: number, alpha = 0.6, beta = 0.6): Float64Array {
  checkSteps(steps, 'beta');
  const total = ms.sigmas.length - 1;
  const sigs: number[] = [];
  let last = -1;
  for (let i = 0; i < steps; i++) {
    const p = 1 - i * (1 / steps); // 1 − numpy.linspace(0, 1, steps, endpoint=False): i·step, not i/steps
    const t = roundHalfEven(inverseRegularizedIncompleteBeta(p, alpha, beta) * total);
    if (t !== last) sigs.push(ms.sigmas[t]);
    last = t;
  }
  sigs.push(0);
  return f32(sigs);
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Mochi's linear-quadratic schedule, scaled by σ_max (ComfyUI linear_quadratic_schedule). */
function linearQuadraticScheduler(ms: ModelSampling, steps: number, thresholdNoise = 0.025, linearSteps?: number): Float64Array {
  let schedule: number[];
  if (steps === 1) {
    schedule = [1, 0];
  } else {
    const ls = linearSteps ?? Math.floor(steps / 2);
    const lin = Array.from({ length: ls }, (_, i) => (i * thresholdNoise) / ls);
    const diff = ls - thresholdNoise * steps;
    const qSteps = steps - ls;
    const qCoef = diff / (ls * qSteps ** 2);
    const lCoef = thresholdNoise / ls - (2 * diff) / qSteps ** 2;
    const c = qCoef * ls ** 2;
    const quad: number[] = [];
    for (let i = ls; i < steps; i++) quad.push(qCoef * i * i + lCoef * i + c);
    schedule = [...lin, ...quad, 1].map((x) => 1 - x);
  }
  const sMax = ms.sigmaMax;
  return Float64Array.from(schedule, (x) => Math.fround(Math.fround(x) * sMax));
}

/**
 * KL-optimal schedule: tan of a linear blend of atan σ_max → atan σ_min; last value 0. ComfyUI does
 * this in float32 (arange(n)/(n−1), the blend, tan_); the argument's rounding is amplified ~15× by
 * tan near σ_max, so the float32 steps are reproduced. For n = 1 ComfyUI divides 0 by 0 and returns
 * NaN; here the single step starts at σ_max instead (a deliberate divergence).
 */
export function sigmasKlOptimal(n: number, sigmaMin: number, sigmaMax: number): Float64Array {
  checkSteps(n, 'kl_optimal');
  const fr = Math.fround;
  const atanMin = fr(Math.atan(sigmaMin));
  const atanMax = fr(Math.atan(sigmaMax));
  const out = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    const u = n === 1 ? 0 : fr(i / (n - 1));
    out[i] = fr(Math.tan(fr(fr(u * atanMin) + fr(fr(1 - u) * atanMax))));
  }
  return out;
}

/** comfy.samplers.calculate_sigmas. */
export function calculateSigmas(ms: ModelSampling, scheduler: string, steps: number): Float64Array {
  checkSteps(steps, `scheduler "${scheduler}"`);
  switch (scheduler as SchedulerName) {
    case 'simple':
      return simpleScheduler(ms, steps);
    case 'sgm_uniform':
      return normalScheduler(ms, steps, true);
    case 'karras':
      return sigmasKarras(steps, ms.sigmaMin, ms.sigmaMax);
    case 'exponential':
      return sigmasExponential(steps, ms.sigmaMin, ms.sigmaMax);
    case 'ddim_uniform':
      return ddimUniformScheduler(ms, steps);
    case 'beta':
      return betaScheduler(ms, steps);
    case 'normal':
      return normalScheduler(ms, steps, false);
    case 'linear_quadratic':
      return linearQuadraticScheduler(ms, steps);
    case 'kl_optimal':
      return sigmasKlOptimal(steps, ms.sigmaMin, ms.sigmaMax);
    default:
      throw new Error(`unknown scheduler "${scheduler}"; supported: ${SCHEDULER_NAMES.join(', ')}`);
  }
}

/** KSampler.calculate_sigmas: adds a step and drops the penultimate σ for DISCARD_PENULTIMATE samplers. */
export function ksamplerSigmas(ms: ModelSampling, scheduler: string, steps: number, sampler: string): Float64Array {
  if (!DISCARD_PENULTIMATE_SIGMA_SAMPLERS.has(sampler)) return calculateSigmas(ms, scheduler, steps);
  const s = calculateSigmas(ms, scheduler, steps + 1);
  const out = new Float64Array(s.length - 1);
  out.set(s.subarray(0, s.length - 2));
  out[out.length - 1] = s[s.length - 1];
  return out;
}

/**
 * KSampler.set_steps / BasicScheduler denoise handling: denoise ≥ 0.9999 → the full list; ≤ 0 →
 * empty (the sampler returns the latent unchanged); otherwise a schedule for int(steps/denoise)
 * steps of which the last steps+1 sigmas are kept.
 */
export function denoisedSigmas(ms: ModelSampling, scheduler: string, steps: number, denoise = 1, sampler = ''): Float64Array {
  checkSteps(steps, 'KSampler');
  if (!(denoise <= 1 && Number.isFinite(denoise))) throw new Error(`KSampler: denoise must be ≤ 1, got ${denoise}`);
  if (denoise > 0.9999) return ksamplerSigmas(ms, scheduler, steps, sampler);
  if (denoise <= 0) return new Float64Array(0);
  const newSteps = Math.floor(steps / denoise);
  const s = ksamplerSigmas(ms, scheduler, newSteps, sampler);
  return s.slice(Math.max(0, s.length - (steps + 1)));
}

/**
 * KSampler.sample step-range handling (KSamplerAdvanced start_at_step / end_at_step). Returns null
 * when start is past the end: ComfyUI then returns the input latent untouched.
 */
export function sliceSigmas(sigmas: Float64Array, startStep?: number, lastStep?: number, forceFullDenoise = false): Float64Array | null {
  let s = sigmas;
  if (lastStep !== undefined && lastStep < s.length - 1) {
    s = s.slice(0, lastStep + 1);
    if (forceFullDenoise) s[s.length - 1] = 0;
  }
  if (startStep !== undefined) {
    if (startStep < s.length - 1) s = s.slice(startStep);
    else return null;
  }
  return s;
}

/** SDTurboScheduler: timesteps 999, 899, …; start = 10 − int(10·denoise); steps of them, then 0. */
export function sdTurboSigmas(ms: ModelSampling, steps: number, denoise = 1): Float64Array {
  checkSteps(steps, 'SDTurboScheduler');
  const start = 10 - Math.floor(10 * denoise);
  const out: number[] = [];
  for (let k = 0; k < steps; k++) {
    const idx = start + k;
    if (idx >= 10) break; // torch slicing past the end of the 10 timesteps yields fewer
    out.push(ms.sigma(999 - 100 * idx));
  }
  out.push(0);
  return f32(out);
}

/** SplitSigmas: [0..step] and [step..] (the boundary σ is in both). */
export function splitSigmas(sigmas: Float64Array, step: number): [Float64Array, Float64Array] {
  if (!Number.isInteger(step) || step < 0) throw new Error(`SplitSigmas: step must be a non-negative integer, got ${step}`);
  return [sigmas.slice(0, step + 1), sigmas.slice(step)];
}

/** SplitSigmasDenoise: the last round(steps·denoise) steps go to the second list (Python round). */
export function splitSigmasDenoise(sigmas: Float64Array, denoise: number): [Float64Array, Float64Array] {
  const steps = Math.max(sigmas.length - 1, 0);
  const total = roundHalfEven(steps * denoise);
  // sigmas[:-total] and sigmas[-(total+1):] in Python; [:-0] is empty.
  const first = total === 0 ? new Float64Array(0) : sigmas.slice(0, sigmas.length - total);
  return [first, sigmas.slice(Math.max(0, sigmas.length - (total + 1)))];
}
