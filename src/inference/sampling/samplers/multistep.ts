// Linear multistep samplers that reuse past derivatives d = (x − denoised)/σ: lms (k-diffusion),
// ipndm, ipndm_v and deis (zju-pi diff-solvers as vendored in ComfyUI's comfy/k_diffusion).

import { checkAbort, checkInputs, denoise, report, type Denoiser, type SamplerOptions } from './types';

// 8-point Gauss–Legendre nodes/weights on [−1, 1]: exact for the degree ≤ 3 Lagrange polynomials
// that LMS integrates (ComfyUI uses scipy quad, which is exact to ~1e-14 for them).
const GL_X = [-0.9602898564975363, -0.7966664774136267, -0.5255324099163290, -0.1834346424956498, 0.1834346424956498, 0.5255324099163290, 0.7966664774136267, 0.9602898564975363];
const GL_W = [0.1012285362903763, 0.2223810344533745, 0.3137066458778873, 0.3626837833783620, 0.3626837833783620, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763];

/** ∫ from t[i] to t[i+1] of the Lagrange basis polynomial for node i−j over nodes t[i], …, t[i−order+1]. */
export function linearMultistepCoeff(order: number, t: Float64Array, i: number, j: number): number {
  if (order - 1 > i) throw new Error(`lms: order ${order} too high for step ${i}`);
  const fn = (tau: number): number => {
    let prod = 1;
    for (let k = 0; k < order; k++) {
      if (k === j) continue;
      prod *= (tau - t[i - k]) / (t[i - j] - t[i - k]);
    }
    return prod;
  };
  const a = t[i];
  const b = t[i + 1];
  const half = (b - a) / 2;
  const mid = (a + b) / 2;
  let sum = 0;
  for (let q = 0; q < GL_X.length; q++) sum += GL_W[q] * fn(mid + half * GL_X[q]);
  return sum * half;
}

export async function sampleLms(model: Denoiser, x0: Float32Array, sigmasIn: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> {
  const name = 'lms';
  const sigmas = checkInputs(name, x0, sigmasIn);
  const order = opts.order ?? 4;
  const x = Float32Array.from(x0);
  const n = x.length;
  const steps = sigmas.length - 1;
  const ds: Float32Array[] = [];
  for (let i = 0; i < steps; i++) {
    checkAbort(opts);
    const den = await denoise(name, model, x, sigmas[i]);
    const d = new Float32Array(n);
    for (let j = 0; j < n; j++) d[j] = (x[j] - den[j]) / sigmas[i];
    ds.push(d);
    if (ds.length > order) ds.shift();
    await report(opts, i, x, sigmas[i], sigmas[i], den, steps);
    if (sigmas[i + 1] === 0) {
      x.set(den);
    } else {
      const cur = Math.min(i + 1, order);
      for (let k = 0; k < cur; k++) {
        const c = linearMultistepCoeff(cur, sigmas, i, k);
        const dk = ds[ds.length - 1 - k];
        for (let j = 0; j < n; j++) x[j] += c * dk[j];
      }
    }
  }
  return x;
}

/** Keeps the last maxOrder−1 derivatives, newest last. */
function pushHistory(buffer: Float32Array[], d: Float32Array, maxOrder: number): void {
  buffer.push(d);
  if (buffer.length > maxOrder - 1) buffer.shift();
}

/** Shared loop for ipndm / ipndm_v / deis: the step rule turns (x, d, history) into x_next. */
async function multistepLoop(
  name: string, model: Denoiser, x0: Float32Array, sigmas: Float64Array, opts: SamplerOptions, maxOrder: number,
  step: (i: number, order: number, x: Float32Array, d: Float32Array, den: Float32Array, hist: Float32Array[]) => void,
): Promise<Float32Array> {
  const x = Float32Array.from(x0);
  const n = x.length;
  const steps = sigmas.length - 1;
  const hist: Float32Array[] = [];
  for (let i = 0; i < steps; i++) {
    checkAbort(opts);
    const den = await denoise(name, model, x, sigmas[i]);
    // ComfyUI's ipndm / ipndm_v / deis pass the sampler's *input* x to the callback at every step
    // (their loop variable is x_cur); reproduced so callbacks match step for step.
    await report(opts, i, x0, sigmas[i], sigmas[i], den, steps);
    const d = new Float32Array(n);
    for (let j = 0; j < n; j++) d[j] = (x[j] - den[j]) / sigmas[i];
    step(i, Math.min(maxOrder, i + 1), x, d, den, hist);
    pushHistory(hist, d, maxOrder);
  }
  return x;
}

/** x += scale · Σ c_k · v_k where v_0 = d and v_k = hist[hist.length − k]. */
function combine(x: Float32Array, scale: number, coeffs: readonly number[], d: Float32Array, hist: Float32Array[]): void {
  for (let j = 0; j < x.length; j++) {
    let acc = coeffs[0] * d[j];
    for (let k = 1; k < coeffs.length; k++) acc += coeffs[k] * hist[hist.length - k][j];
    x[j] += scale * acc;
  }
}

export async function sampleIpndm(model: Denoiser, x0: Float32Array, sigmasIn: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> {
  const sigmas = checkInputs('ipndm', x0, sigmasIn);
  const maxOrder = opts.order ?? 4;
  return multistepLoop('ipndm', model, x0, sigmas, opts, maxOrder, (i, order, x, d, den, hist) => {
    const dt = sigmas[i + 1] - sigmas[i];
    if (sigmas[i + 1] === 0) x.set(den);
    else if (order === 1) combine(x, dt, [1], d, hist);
    else if (order === 2) combine(x, dt / 2, [3, -1], d, hist);
    else if (order === 3) combine(x, dt / 12, [23, -16, 5], d, hist);
    else combine(x, dt / 24, [55, -59, 37, -9], d, hist);
  });
}

/** iPNDM with variable step sizes (coefficients from the step-size ratios). */
export async function sampleIpndmV(model: Denoiser, x0: Float32Array, sigmasIn: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> {
  const t = checkInputs('ipndm_v', x0, sigmasIn);
  const maxOrder = opts.order ?? 4;
  return multistepLoop('ipndm_v', model, x0, t, opts, maxOrder, (i, order, x, d, den, hist) => {
    const hn = t[i + 1] - t[i];
    if (t[i + 1] === 0) {
      x.set(den);
    } else if (order === 1) {
      combine(x, hn, [1], d, hist);
    } else if (order === 2) {
      const h1 = t[i] - t[i - 1];
      combine(x, hn, [(2 + hn / h1) / 2, -(hn / h1) / 2], d, hist);
    } else if (order === 3) {
      const h1 = t[i] - t[i - 1];
      const h2 = t[i - 1] - t[i - 2];
      const temp = (1 - (hn / (3 * (hn + h1))) * ((hn * (hn + h1)) / (h1 * (h1 + h2)))) / 2;
      combine(x, hn, [(2 + hn / h1) / 2 + temp, -(hn / h1) / 2 - (1 + h1 / h2) * temp, (temp * h1) / h2], d, hist);
    } else {
      const h1 = t[i] - t[i - 1];
      const h2 = t[i - 1] - t[i - 2];
      const h3 = t[i - 2] - t[i - 3];
      const temp1 = (1 - (hn / (3 * (hn + h1))) * ((hn * (hn + h1)) / (h1 * (h1 + h2)))) / 2;
      const temp2 = ((1 - hn / (3 * (hn + h1))) / 2 + ((1 - hn / (2 * (hn + h1))) * hn) / (6 * (hn + h1 + h2)))
        * ((hn * (hn + h1) * (hn + h1 + h2)) / (h1 * (h1 + h2) * (h1 + h2 + h3)));
      const q = (h1 * (h1 + h2)) / (h2 * (h2 + h3));
      combine(x, hn, [
        (2 + hn / h1) / 2 + temp1 + temp2,
        -(hn / h1) / 2 - (1 + h1 / h2) * temp1 - (1 + h1 / h2 + q) * temp2,
        (temp1 * h1) / h2 + (h1 / h2 + q * (1 + h2 / h3)) * temp2,
        -temp2 * q * (h1 / h2),
      ], d, hist);
    }
  });
}

/**
 * DEIS "tab" coefficients (comfy/k_diffusion/deis.py get_deis_coeff_list): σ is mapped to the time
 * of a VP-SDE fitted to EDM's σ range [0.002, 80] (fixed, whatever the model), and each coefficient is
 * a left Riemann sum with N = 10000 points of the exponential-integrator integrand times the
 * Lagrange basis polynomial over the previous times. ComfyUI evaluates this in float32; float64 here.
 */
export function deisCoefficients(sigmas: Float64Array, maxOrder: number, N = 10000): number[][] {
  const epsS = 1e-3;
  const sMin = 0.002;
  const sMax = 80;
  const betaD = (2 * (Math.log(sMin ** 2 + 1) / epsS - Math.log(sMax ** 2 + 1))) / (epsS - 1);
  const betaMin = Math.log(sMax ** 2 + 1) - 0.5 * betaD;
  const beta0 = betaMin;
  const beta1 = betaD + betaMin;
  const t = sigmas.map((s) => (Math.sqrt(betaMin ** 2 + 2 * betaD * Math.log(s * s + 1)) - betaMin) / betaD);
  const out: number[][] = [];
  for (let i = 0; i + 1 < t.length; i++) {
    const order = Math.min(i + 1, maxOrder);
    if (order === 1) {
      out.push([]);
      continue;
    }
    const tCur = t[i];
    const tNext = t[i + 1];
    const dtau = (tNext - tCur) / N;
    const prev = Array.from({ length: order }, (_, k) => t[i - k]);
    const coeffs = new Array<number>(order).fill(0);
    for (let q = 0; q < N; q++) {
      const tau = N === 1 ? tCur : tCur + ((tNext - tCur) * q) / (N - 1);
      const alpha = Math.exp(-0.5 * tau * tau * (beta1 - beta0) - tau * beta0);
      const dLogAlpha = -(tau * (beta1 - beta0) + beta0);
      const integrand = (-0.5 * dLogAlpha) / Math.sqrt(alpha * (1 - alpha));
      for (let j = 0; j < order; j++) {
        let poly = 1;
        for (let k = 0; k < order; k++) if (k !== j) poly *= (tau - prev[k]) / (prev[j] - prev[k]);
        coeffs[j] += integrand * poly;
      }
    }
    out.push(coeffs.map((c) => c * dtau));
  }
  return out;
}

export async function sampleDeis(model: Denoiser, x0: Float32Array, sigmasIn: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> {
  const sigmas = checkInputs('deis', x0, sigmasIn);
  const maxOrder = opts.order ?? 3;
  const coeffs = deisCoefficients(sigmas, maxOrder);
  return multistepLoop('deis', model, x0, sigmas, opts, maxOrder, (i, order, x, d, _den, hist) => {
    const o = sigmas[i + 1] <= 0 ? 1 : order;
    if (o === 1) combine(x, sigmas[i + 1] - sigmas[i], [1], d, hist);
    else combine(x, 1, coeffs[i], d, hist);
  });
}
