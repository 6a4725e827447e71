// Samplers that jump to the model's x0 and re-noise: ddpm (generic_step_sampler + DDPMSampler_step)
// and lcm (sample_lcm) from ComfyUI's comfy/k_diffusion/sampling.py.

import {
  addNoise, ancestralNoise, checkAbort, checkInputs, checkNoise, denoise, report, type Denoiser, type SamplerOptions,
} from './types';

/**
 * DDPM ancestral step in VP space: x_vp = x/√(1+σ²), ᾱ = 1/(1+σ²); the posterior mean plus
 * posterior-variance noise, then back to VE scale for the next σ.
 */
export async function sampleDdpm(model: Denoiser, x0: Float32Array, sigmasIn: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> {
  const name = 'ddpm';
  const sigmas = checkInputs(name, x0, sigmasIn);
  const x = Float32Array.from(x0);
  const steps = sigmas.length - 1;
  if (steps < 1) return x;
  const noise = ancestralNoise(name, x, opts);
  for (let i = 0; i < steps; i++) {
    checkAbort(opts);
    const sigma = sigmas[i];
    const sigmaPrev = sigmas[i + 1];
    const den = await denoise(name, model, x, sigma);
    await report(opts, i, x, sigma, sigma, den, steps);
    const ac = 1 / (sigma * sigma + 1);
    const acPrev = 1 / (sigmaPrev * sigmaPrev + 1);
    const alpha = ac / acPrev;
    const inScale = 1 / Math.sqrt(1 + sigma * sigma);
    const muScale = Math.sqrt(1 / alpha);
    const epsScale = (1 - alpha) / Math.sqrt(1 - ac);
    const outScale = sigmaPrev !== 0 ? Math.sqrt(1 + sigmaPrev * sigmaPrev) : 1;
    let nz: Float32Array | null = null;
    let noiseScale = 0;
    if (sigmaPrev > 0) {
      nz = checkNoise(name, noise(sigma, sigmaPrev), x.length);
      noiseScale = Math.sqrt(((1 - alpha) * (1 - acPrev)) / (1 - ac));
    }
    for (let j = 0; j < x.length; j++) {
      const eps = (x[j] - den[j]) / sigma;
      let mu = muScale * (x[j] * inScale - epsScale * eps);
      if (nz) mu += noiseScale * nz[j];
      x[j] = mu * outScale;
    }
  }
  return x;
}

/**
 * LCM multistep sampling: take the consistency model's x0, then re-noise to the next σ with fresh
 * noise (EPS noise_scaling: x0 + σ_next·noise). opts.s_noise scales the injected noise.
 */
export async function sampleLcm(model: Denoiser, x0: Float32Array, sigmasIn: ArrayLike<number>, opts: SamplerOptions = {}): Promise<Float32Array> {
  const name = 'lcm';
  const sigmas = checkInputs(name, x0, sigmasIn);
  const x = Float32Array.from(x0);
  const steps = sigmas.length - 1;
  if (steps < 1) return x;
  const noise = ancestralNoise(name, x, opts);
  const sNoise = opts.s_noise ?? 1;
  for (let i = 0; i < steps; i++) {
    checkAbort(opts);
    const den = await denoise(name, model, x, sigmas[i]);
    await report(opts, i, x, sigmas[i], sigmas[i], den, steps);
    x.set(den);
    if (sigmas[i + 1] > 0) {
      addNoise(name, x, noise, sigmas[i], sigmas[i + 1], sNoise * sigmas[i + 1]);
    }
  }
  return x;
}
