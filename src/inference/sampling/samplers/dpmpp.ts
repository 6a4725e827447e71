// DPM-Solver++ family (Lu et al. 2022), after sample_dpmpp_2s_ancestral, sample_dpmpp_sde,
// sample_dpmpp_2m, sample_dpmpp_2m_sde and sample_dpmpp_3m_sde in ComfyUI's
// comfy/k_diffusion/sampling.py, for VE-parameterised (eps / v) models where the half-log-SNR is
// λ = −log σ and α = σ·e^λ = 1 (kept explicit to mirror the reference).

import {
  addNoise, ancestralNoise, checkAbort, checkInputs, denoise, getAncestralStep, report, sdeNoise,
  type Denoiser, type SamplerOptions,
} from './types';

const lambdaOf = (sigma: number): number => -Math.log(sigma);
const sigmaOf = (lambda: number): number => Math.exp(-lambda);

export async function sampleDpmpp2sAncestral(model: Denoiser, x0: Float32Array, sigmasIn: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> {
  const name = 'dpmpp_2s_ancestral';
  const sigmas = checkInputs(name, x0, sigmasIn);
  const x = Float32Array.from(x0);
  const x2 = new Float32Array(x.length);
  const steps = sigmas.length - 1;
  if (steps < 1) return x;
  const noise = ancestralNoise(name, x, opts);
  const eta = opts.eta ?? 1;
  const sNoise = opts.s_noise ?? 1;
  for (let i = 0; i < steps; i++) {
    checkAbort(opts);
    const den = await denoise(name, model, x, sigmas[i]);
    const { sigmaDown, sigmaUp } = getAncestralStep(sigmas[i], sigmas[i + 1], eta);
    await report(opts, i, x, sigmas[i], sigmas[i], den, steps);
    if (sigmaDown === 0) {
      const k = (sigmaDown - sigmas[i]) / sigmas[i];
      for (let j = 0; j < x.length; j++) x[j] = x[j] + (x[j] - den[j]) * k;
    } else {
      const t = lambdaOf(sigmas[i]);
      const tNext = lambdaOf(sigmaDown);
      const h = tNext - t;
      const s = t + 0.5 * h;
      const a1 = sigmaOf(s) / sigmaOf(t);
      const b1 = Math.expm1(-h * 0.5);
      for (let j = 0; j < x.length; j++) x2[j] = a1 * x[j] - b1 * den[j];
      const den2 = await denoise(name, model, x2, sigmaOf(s));
      const a2 = sigmaOf(tNext) / sigmaOf(t);
      const b2 = Math.expm1(-h);
      for (let j = 0; j < x.length; j++) x[j] = a2 * x[j] - b2 * den2[j];
    }
    if (sigmas[i + 1] > 0) {
      addNoise(name, x, noise, sigmas[i], sigmas[i + 1], sNoise * sigmaUp);
    }
  }
  return x;
}

export async function sampleDpmppSde(model: Denoiser, x0: Float32Array, sigmasIn: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> {
  const name = 'dpmpp_sde';
  const sigmas = checkInputs(name, x0, sigmasIn);
  const x = Float32Array.from(x0);
  if (sigmas.length <= 1) return x;
  const x2 = new Float32Array(x.length);
  const steps = sigmas.length - 1;
  const eta = opts.eta ?? 1;
  const sNoise = opts.s_noise ?? 1;
  const r = opts.r ?? 0.5;
  const stochastic = eta > 0 && sNoise > 0;
  const noise = stochastic ? sdeNoise(name, x, sigmas, opts) : null;
  for (let i = 0; i < steps; i++) {
    checkAbort(opts);
    const den = await denoise(name, model, x, sigmas[i]);
    await report(opts, i, x, sigmas[i], sigmas[i], den, steps);
    if (sigmas[i + 1] === 0) {
      x.set(den);
      continue;
    }
    const lambdaS = lambdaOf(sigmas[i]);
    const lambdaT = lambdaOf(sigmas[i + 1]);
    const h = lambdaT - lambdaS;
    const lambdaS1 = lambdaS + r * h;
    const fac = 1 / (2 * r);
    const sigmaS1 = sigmaOf(lambdaS1);
    const alphaS = sigmas[i] * Math.exp(lambdaS);
    const alphaS1 = sigmaS1 * Math.exp(lambdaS1);
    const alphaT = sigmas[i + 1] * Math.exp(lambdaT);

    // Step 1: to the intermediate point, with its share of the noise.
    let st = getAncestralStep(sigmaOf(lambdaS), sigmaOf(lambdaS1), eta);
    let hh = -Math.log(st.sigmaDown) - lambdaS;
    let a = (alphaS1 / alphaS) * Math.exp(-hh);
    let b = alphaS1 * Math.expm1(-hh);
    for (let j = 0; j < x.length; j++) x2[j] = a * x[j] - b * den[j];
    if (noise) {
      addNoise(name, x2, noise, sigmas[i], sigmaS1, alphaS1 * sNoise * st.sigmaUp);
    }
    const den2 = await denoise(name, model, x2, sigmaS1);

    // Step 2: the full step using the blended x0 estimate.
    st = getAncestralStep(sigmaOf(lambdaS), sigmaOf(lambdaT), eta);
    hh = -Math.log(st.sigmaDown) - lambdaS;
    a = (alphaT / alphaS) * Math.exp(-hh);
    b = alphaT * Math.expm1(-hh);
    for (let j = 0; j < x.length; j++) x[j] = a * x[j] - b * ((1 - fac) * den[j] + fac * den2[j]);
    if (noise) {
      addNoise(name, x, noise, sigmas[i], sigmas[i + 1], alphaT * sNoise * st.sigmaUp);
    }
  }
  return x;
}

export async function sampleDpmpp2m(model: Denoiser, x0: Float32Array, sigmasIn: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> {
  const name = 'dpmpp_2m';
  const sigmas = checkInputs(name, x0, sigmasIn);
  const x = Float32Array.from(x0);
  const steps = sigmas.length - 1;
  let old: Float32Array | null = null;
  for (let i = 0; i < steps; i++) {
    checkAbort(opts);
    const den = await denoise(name, model, x, sigmas[i]);
    await report(opts, i, x, sigmas[i], sigmas[i], den, steps);
    const t = lambdaOf(sigmas[i]);
    const tNext = lambdaOf(sigmas[i + 1]);
    const h = tNext - t;
    const a = sigmaOf(tNext) / sigmaOf(t);
    const b = Math.expm1(-h);
    if (old === null || sigmas[i + 1] === 0) {
      for (let j = 0; j < x.length; j++) x[j] = a * x[j] - b * den[j];
    } else {
      const hLast = t - lambdaOf(sigmas[i - 1]);
      const r = hLast / h;
      const c1 = 1 + 1 / (2 * r);
      const c2 = 1 / (2 * r);
      for (let j = 0; j < x.length; j++) x[j] = a * x[j] - b * (c1 * den[j] - c2 * old[j]);
    }
    old = den;
  }
  return x;
}

export async function sampleDpmpp2mSde(model: Denoiser, x0: Float32Array, sigmasIn: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> {
  const name = 'dpmpp_2m_sde';
  const sigmas = checkInputs(name, x0, sigmasIn);
  const x = Float32Array.from(x0);
  if (sigmas.length <= 1) return x;
  const solver = opts.solver_type ?? 'midpoint';
  if (solver !== 'midpoint' && solver !== 'heun') throw new Error(`sampler ${name}: solver_type must be 'heun' or 'midpoint', got '${String(solver)}'`);
  const steps = sigmas.length - 1;
  const eta = opts.eta ?? 1;
  const sNoise = opts.s_noise ?? 1;
  const noise = eta > 0 && sNoise > 0 ? sdeNoise(name, x, sigmas, opts) : null;
  let old: Float32Array | null = null;
  let h = 0;
  let hLast = 0;
  for (let i = 0; i < steps; i++) {
    checkAbort(opts);
    const den = await denoise(name, model, x, sigmas[i]);
    await report(opts, i, x, sigmas[i], sigmas[i], den, steps);
    if (sigmas[i + 1] === 0) {
      x.set(den);
    } else {
      const lambdaS = lambdaOf(sigmas[i]);
      const lambdaT = lambdaOf(sigmas[i + 1]);
      h = lambdaT - lambdaS;
      const hEta = h * (eta + 1);
      const alphaT = sigmas[i + 1] * Math.exp(lambdaT);
      const a = (sigmas[i + 1] / sigmas[i]) * Math.exp(-h * eta);
      const b = alphaT * -Math.expm1(-hEta);
      let c = 0;
      if (old !== null) {
        const r = hLast / h;
        c = solver === 'heun' ? alphaT * (-Math.expm1(-hEta) / -hEta + 1) * (1 / r) : 0.5 * alphaT * -Math.expm1(-hEta) * (1 / r);
      }
      for (let j = 0; j < x.length; j++) {
        let v = a * x[j] + b * den[j];
        if (old !== null) v += c * (den[j] - old[j]);
        x[j] = v;
      }
      if (noise) {
        addNoise(name, x, noise, sigmas[i], sigmas[i + 1], sigmas[i + 1] * Math.sqrt(-Math.expm1(-2 * h * eta)) * sNoise);
      }
    }
    old = den;
    hLast = h;
  }
  return x;
}

export const sampleDpmpp2mSdeHeun = (model: Denoiser, x: Float32Array, sigmas: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> =>
  sampleDpmpp2mSde(model, x, sigmas, { ...opts, solver_type: opts.solver_type ?? 'heun' });

export async function sampleDpmpp3mSde(model: Denoiser, x0: Float32Array, sigmasIn: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> {
  const name = 'dpmpp_3m_sde';
  const sigmas = checkInputs(name, x0, sigmasIn);
  const x = Float32Array.from(x0);
  if (sigmas.length <= 1) return x;
  const steps = sigmas.length - 1;
  const eta = opts.eta ?? 1;
  const sNoise = opts.s_noise ?? 1;
  const noise = eta > 0 && sNoise > 0 ? sdeNoise(name, x, sigmas, opts) : null;
  let den1: Float32Array | null = null;
  let den2: Float32Array | null = null;
  let h: number | null = null;
  let h1: number | null = null;
  let h2: number | null = null;
  for (let i = 0; i < steps; i++) {
    checkAbort(opts);
    const den = await denoise(name, model, x, sigmas[i]);
    await report(opts, i, x, sigmas[i], sigmas[i], den, steps);
    if (sigmas[i + 1] === 0) {
      x.set(den);
    } else {
      const lambdaS = lambdaOf(sigmas[i]);
      const lambdaT = lambdaOf(sigmas[i + 1]);
      const hh = lambdaT - lambdaS;
      h = hh;
      const hEta = hh * (eta + 1);
      const alphaT = sigmas[i + 1] * Math.exp(lambdaT);
      const a = (sigmas[i + 1] / sigmas[i]) * Math.exp(-hh * eta);
      const b = alphaT * -Math.expm1(-hEta);
      const phi2 = Math.expm1(-hEta) / hEta + 1;
      for (let j = 0; j < x.length; j++) x[j] = a * x[j] + b * den[j];
      if (h2 !== null && den1 && den2 && h1 !== null) {
        const r0 = h1 / hh;
        const r1 = h2 / hh;
        const phi3 = phi2 / hEta - 0.5;
        const k1 = alphaT * phi2;
        const k2 = alphaT * phi3;
        for (let j = 0; j < x.length; j++) {
          const d10 = (den[j] - den1[j]) / r0;
          const d11 = (den1[j] - den2[j]) / r1;
          const d1 = d10 + ((d10 - d11) * r0) / (r0 + r1);
          const d2 = (d10 - d11) / (r0 + r1);
          x[j] = x[j] + k1 * d1 - k2 * d2;
        }
      } else if (h1 !== null && den1) {
        const r = h1 / hh;
        const k = alphaT * phi2;
        for (let j = 0; j < x.length; j++) x[j] = x[j] + k * ((den[j] - den1[j]) / r);
      }
      if (noise) {
        addNoise(name, x, noise, sigmas[i], sigmas[i + 1], sigmas[i + 1] * Math.sqrt(-Math.expm1(-2 * hh * eta)) * sNoise);
      }
    }
    den2 = den1;
    den1 = den;
    h2 = h1;
    h1 = h;
  }
  return x;
}
