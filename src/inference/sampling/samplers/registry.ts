// Sampler names exactly as ComfyUI's KSampler.SAMPLERS spells them, for the ones implemented here.

import { sampleDpm2, sampleDpm2Ancestral, sampleEuler, sampleEulerAncestral, sampleHeun, sampleHeunpp2 } from './euler';
import { sampleDpmpp2m, sampleDpmpp2mSde, sampleDpmpp2mSdeHeun, sampleDpmpp2sAncestral, sampleDpmpp3mSde, sampleDpmppSde } from './dpmpp';
import { sampleDeis, sampleIpndm, sampleIpndmV, sampleLms } from './multistep';
import { sampleDdpm, sampleLcm } from './stepSamplers';
import { sampleUniPc, sampleUniPcBh2 } from './unipc';
import type { SamplerFn } from './types';

const SAMPLERS: ReadonlyMap<string, SamplerFn> = new Map<string, SamplerFn>([
  ['euler', sampleEuler],
  ['euler_ancestral', sampleEulerAncestral],
  ['heun', sampleHeun],
  ['heunpp2', sampleHeunpp2],
  ['dpm_2', sampleDpm2],
  ['dpm_2_ancestral', sampleDpm2Ancestral],
  ['lms', sampleLms],
  ['dpmpp_2s_ancestral', sampleDpmpp2sAncestral],
  ['dpmpp_sde', sampleDpmppSde],
  ['dpmpp_2m', sampleDpmpp2m],
  ['dpmpp_2m_sde', sampleDpmpp2mSde],
  ['dpmpp_2m_sde_heun', sampleDpmpp2mSdeHeun],
  ['dpmpp_3m_sde', sampleDpmpp3mSde],
  ['ddpm', sampleDdpm],
  ['lcm', sampleLcm],
  ['ipndm', sampleIpndm],
  ['ipndm_v', sampleIpndmV],
  ['deis', sampleDeis],
  // ComfyUI's ddim is euler; its only difference (random inpaint noise) lives in ksampler.ts.
  ['ddim', sampleEuler],
  ['uni_pc', sampleUniPc],
  ['uni_pc_bh2', sampleUniPcBh2],
]);

/** Implemented sampler names, in ComfyUI's KSampler.SAMPLERS order. */
export const SUPPORTED_SAMPLERS: readonly string[] = [...SAMPLERS.keys()];

/** Samplers that draw per-step noise (need a seed or a noise sampler). */
export const STOCHASTIC_SAMPLERS: ReadonlySet<string> = new Set([
  'euler_ancestral', 'dpm_2_ancestral', 'dpmpp_2s_ancestral', 'dpmpp_sde', 'dpmpp_2m_sde', 'dpmpp_2m_sde_heun', 'dpmpp_3m_sde', 'ddpm', 'lcm',
]);

export function getSampler(name: string): SamplerFn {
  const fn = SAMPLERS.get(name);
  if (!fn) throw new Error(`unknown or unsupported sampler "${name}"; supported: ${SUPPORTED_SAMPLERS.join(', ')}`);
  return fn;
}
