// One sampling run the way ComfyUI's KSAMPLER.sample does it: scale the noise onto the latent,
// wrap the denoiser for inpainting, run the named sampler, undo the model's noise scaling.
// The caller prepares `noise` (prepareNoise) and scales the latent into model space
// (process_latent_in: ×0.18215 SD1.x, ×0.13025 SDXL — ComfyUI skips this for an all-zero latent).

import { createInpaintDenoiser } from './cfg';
import type { ModelSampling } from './modelSampling';
import { inpaintRandomNoise } from './noise';
import { getSampler } from './samplers/registry';
import type { Denoiser, SamplerOptions, StepInfo } from './samplers/types';
import type { Seed } from './torchGenerator';

export interface KSampleRequest {
  sampler: string;
  sigmas: ArrayLike<number>;
  modelSampling: ModelSampling;
  /** x0 predictor, usually createCfgDenoiser(...). */
  denoiser: Denoiser;
  /** Latent in model space, [B, C, H, W] flattened. */
  latent: Float32Array;
  /** Initial noise of the same size (zeros when noise is disabled). */
  noise: Float32Array;
  /** The KSampler seed, for per-step noise (seed+1) and ddim's inpaint noise. */
  seed: Seed;
  /** Optional inpaint mask: 1 = denoise, 0 = keep; same size as the latent. */
  denoiseMask?: Float32Array;
  callback?: (info: StepInfo) => void | Promise<void>;
  signal?: AbortSignal;
  /** Extra sampler options (eta, s_noise, …). */
  samplerOptions?: Omit<SamplerOptions, 'seed' | 'callback' | 'signal'>;
}

export async function ksample(req: KSampleRequest): Promise<Float32Array> {
  const { latent, noise, modelSampling: ms } = req;
  if (noise.length !== latent.length) throw new Error(`KSampler: noise has ${noise.length} values, the latent ${latent.length}`);
  const sampler = getSampler(req.sampler);
  const sigmas = Float64Array.from(req.sigmas);
  if (sigmas.length === 0) return Float32Array.from(latent);

  let model = req.denoiser;
  if (req.denoiseMask) {
    // ddim is euler with random inpaint noise (torch.manual_seed(seed + 1)).
    const inpaintNoise = req.sampler === 'ddim' ? inpaintRandomNoise([latent.length], req.seed) : noise;
    model = createInpaintDenoiser(model, { latent, noise: inpaintNoise, denoiseMask: req.denoiseMask });
  }
  const x = ms.noiseScaling(sigmas[0], noise, latent, ms.isMaxDenoise(sigmas[0]));
  const out = await sampler(model, x, sigmas, {
    ...req.samplerOptions,
    seed: req.seed,
    callback: req.callback,
    signal: req.signal,
  });
  return ms.inverseNoiseScaling(sigmas[sigmas.length - 1], out);
}
