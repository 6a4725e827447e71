// Every supported sampler against a float64 port of ComfyUI's own function (comfyRefs.ts): same
// deterministic denoiser, same sigmas, same fixed noise arrays; the whole callback trajectory
// (x and denoised per step), the final latent and the order/arguments of noise draws must agree.

import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { createModelSampling } from '../../../src/inference/sampling/modelSampling';
import { ksamplerSigmas, sigmasKarras } from '../../../src/inference/sampling/schedulers';
import { getSampler, STOCHASTIC_SAMPLERS, SUPPORTED_SAMPLERS } from '../../../src/inference/sampling/samplers/registry';
import type { StepInfo } from '../../../src/inference/sampling/samplers/types';
import { refSampler, type Vec } from './comfyRefs';

const N = 8;
// A smooth, σ-dependent, nonlinear elementwise x0 predictor (ComfyUI calls model(x, σ·s_in)).
const denoiseValue = (v: number, s: number): number => (0.9 * v) / Math.sqrt(1 + 0.05 * s * s) + 0.05 * Math.sin(v) + 0.01 * s;
const noiseValue = (k: number, j: number): number => Math.fround(Math.sin(1.7 * k + 0.9 * j + 0.3) * 1.3);
const noiseArray = (k: number): Float64Array => Float64Array.from({ length: N }, (_, j) => noiseValue(k, j));
const x0 = Float32Array.from({ length: N }, (_, j) => Math.fround(Math.cos(0.8 * j) * 14 + 0.1 * j));

interface Trace { xs: Float64Array[]; dens: Float64Array[]; calls: [number, number][]; out: Float64Array }

async function runOurs(name: string, sigmas: Float64Array, opts: { eta?: number } = {}): Promise<Trace> {
  const calls: [number, number][] = [];
  const xs: Float64Array[] = [];
  const dens: Float64Array[] = [];
  const out = await getSampler(name)(async (x, s) => Float32Array.from(x, (v) => denoiseValue(v, s)), x0, sigmas, {
    ...opts,
    noiseSampler: (s, sn) => {
      calls.push([s, sn]);
      return Float32Array.from(noiseArray(calls.length - 1));
    },
    callback: (info: StepInfo) => {
      assert.equal(info.i, xs.length, `${name}: callback order`);
      xs.push(Float64Array.from(info.x));
      dens.push(Float64Array.from(info.denoised));
    },
  });
  return { xs, dens, calls, out: Float64Array.from(out) };
}

function runRef(name: string, sigmas: Float64Array, eta = 1): Trace {
  const calls: [number, number][] = [];
  const xs: Float64Array[] = [];
  const dens: Float64Array[] = [];
  const s = Array.from(sigmas);
  const out = refSampler(name, s)(
    (x: Vec, sg: number) => x.map((v) => denoiseValue(v, sg)),
    Float64Array.from(x0), s,
    (sg, sn) => {
      calls.push([sg, sn]);
      return noiseArray(calls.length - 1);
    },
    (_i, x, den) => {
      xs.push(Float64Array.from(x));
      dens.push(Float64Array.from(den));
    },
    { eta, sNoise: 1 },
  );
  return { xs, dens, calls, out };
}

function close(a: Float64Array, b: Float64Array, label: string, rel = 1e-5): void {
  assert.equal(a.length, b.length, `${label}: length`);
  let scale = 1e-3;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  for (let j = 0; j < a.length; j++) {
    assert.ok(Number.isFinite(a[j]) && Math.abs(a[j] - b[j]) <= rel * scale, `${label}[${j}]: ours ${a[j]} vs ComfyUI ${b[j]} (scale ${scale})`);
  }
}

function compare(name: string, ours: Trace, ref: Trace, label: string): void {
  assert.equal(ours.xs.length, ref.xs.length, `${label}: number of callbacks`);
  assert.equal(ours.calls.length, ref.calls.length, `${label}: number of noise draws`);
  ours.calls.forEach(([s, sn], k) => {
    assert.ok(Math.abs(s - ref.calls[k][0]) <= 1e-6 * ref.calls[k][0] && Math.abs(sn - ref.calls[k][1]) <= 1e-6 * Math.max(ref.calls[k][1], 1e-6),
      `${label}: noise draw ${k} got (${s}, ${sn}), ComfyUI (${ref.calls[k]})`);
  });
  for (let i = 0; i < ref.xs.length; i++) {
    close(ours.xs[i], ref.xs[i], `${label} step ${i} x`);
    close(ours.dens[i], ref.dens[i], `${label} step ${i} denoised`);
  }
  close(ours.out, ref.out, `${label} result`);
  assert.ok(name.length > 0);
}

const ms = createModelSampling();
const karras7 = sigmasKarras(7, ms.sigmaMin, ms.sigmaMax);
const SCHEDULES: Record<string, Float64Array> = {
  'karras 7 (ends at 0)': karras7,
  'first 4 steps (ends above 0)': karras7.slice(0, 5),
  'one step to 0': Float64Array.of(karras7[0], 0),
  'two steps': Float64Array.of(karras7[0], karras7[3], 0),
  'uniform-ish 12': Float64Array.from({ length: 13 }, (_, i) => (i === 12 ? 0 : Math.fround(14.6 * Math.exp(-0.45 * i)))),
};

describe('sampling/parity: every sampler against a port of ComfyUI', () => {
  it('covers the 21 samplers ComfyUI names', () => {
    assert.equal(SUPPORTED_SAMPLERS.length, 21);
  });

  for (const name of SUPPORTED_SAMPLERS) {
    it(`${name}: callbacks, noise draws and result match on ${Object.keys(SCHEDULES).length} schedules`, async () => {
      for (const [label, sigmas] of Object.entries(SCHEDULES)) {
        compare(name, await runOurs(name, sigmas), runRef(name, sigmas), `${name} / ${label}`);
      }
    });
  }

  it('ancestral and SDE samplers with eta 0: ancestral ones still draw (×0), SDE ones do not', async () => {
    for (const name of ['euler_ancestral', 'dpm_2_ancestral', 'dpmpp_2s_ancestral', 'dpmpp_sde', 'dpmpp_2m_sde', 'dpmpp_2m_sde_heun', 'dpmpp_3m_sde']) {
      const ours = await runOurs(name, karras7, { eta: 0 });
      const ref = runRef(name, karras7, 0);
      compare(name, ours, ref, `${name} eta 0`);
      if (name.includes('sde')) assert.equal(ours.calls.length, 0, `${name} eta 0 draws nothing`);
      else assert.ok(ours.calls.length >= 6, `${name} eta 0 still draws each step`);
    }
  });

  it('uni_pc on the KSampler schedule (steps+1, penultimate σ dropped), including 1 and 2 steps', async () => {
    for (const steps of [1, 2, 3, 5]) {
      const sigmas = ksamplerSigmas(ms, 'karras', steps, 'uni_pc');
      assert.equal(sigmas.length, steps + 1);
      compare('uni_pc', await runOurs('uni_pc', sigmas), runRef('uni_pc', sigmas), `uni_pc ${steps} steps`);
    }
  });

  it('stochastic sampler list is exactly the ones that draw noise', async () => {
    for (const name of SUPPORTED_SAMPLERS) {
      const { calls } = await runOurs(name, karras7);
      assert.equal(calls.length > 0, STOCHASTIC_SAMPLERS.has(name), name);
    }
  });
});
