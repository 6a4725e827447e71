import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { getSampler, STOCHASTIC_SAMPLERS, SUPPORTED_SAMPLERS } from '../../../src/inference/sampling/samplers/registry';
import { linearMultistepCoeff } from '../../../src/inference/sampling/samplers/multistep';
import type { Denoiser, StepInfo } from '../../../src/inference/sampling/samplers/types';
import { getAncestralStep } from '../../../src/inference/sampling/samplers/types';
import { randn, randnFromSeed } from '../../../src/inference/sampling/noise';
import { sigmasKarras } from '../../../src/inference/sampling/schedulers';
import { TorchCpuGenerator } from '../../../src/inference/sampling/torchGenerator';

// Test model: data x0 ~ N(0, S2) per element. Its exact denoiser is linear, D(x, σ) = x·S2/(S2+σ²),
// and the probability-flow ODE keeps x/√(S2+σ²) constant, so every trajectory is x_init times a
// scalar that a float64 reference can compute independently.
const S2 = 0.25;
const gain = (sigma: number) => S2 / (S2 + sigma * sigma);
const gaussian: Denoiser = async (x, sigma) => x.map((v) => v * gain(sigma));
const N = 2048;
const NOISE = randnFromSeed(1, [N]);

function start(sigmas: Float64Array): Float32Array {
  return NOISE.map((v) => v * Math.sqrt(S2 + sigmas[0] * sigmas[0]));
}

function meanRatio(out: Float32Array, x: Float32Array): number {
  let r = 0;
  for (let i = 0; i < x.length; i++) r += out[i] / x[i];
  return r / x.length;
}

function variance(v: Float32Array): number {
  let s = 0;
  for (const a of v) s += a * a;
  return s / v.length;
}

// Scalar float64 references (one element; x is a multiple of it).
function refEuler(s: Float64Array): number {
  let g = 1;
  for (let i = 0; i + 1 < s.length; i++) g = g + ((g - gain(s[i]) * g) / s[i]) * (s[i + 1] - s[i]);
  return g;
}
function refHeun(s: Float64Array): number {
  let g = 1;
  for (let i = 0; i + 1 < s.length; i++) {
    const d = (g - gain(s[i]) * g) / s[i];
    const dt = s[i + 1] - s[i];
    if (s[i + 1] === 0) { g = g + d * dt; continue; }
    const g2 = g + d * dt;
    const d2 = (g2 - gain(s[i + 1]) * g2) / s[i + 1];
    g = g + ((d + d2) / 2) * dt;
  }
  return g;
}
function refDpmpp2m(s: Float64Array): number {
  let g = 1;
  let old: number | null = null;
  for (let i = 0; i + 1 < s.length; i++) {
    const den = gain(s[i]) * g;
    const t = -Math.log(s[i]);
    const tn = -Math.log(s[i + 1]);
    const h = tn - t;
    if (old === null || s[i + 1] === 0) g = (s[i + 1] / s[i]) * g - Math.expm1(-h) * den;
    else {
      const r = (t + Math.log(s[i - 1])) / h;
      g = (s[i + 1] / s[i]) * g - Math.expm1(-h) * ((1 + 1 / (2 * r)) * den - (1 / (2 * r)) * old);
    }
    old = den;
  }
  return g;
}
function refDpm2(s: Float64Array): number {
  let g = 1;
  for (let i = 0; i + 1 < s.length; i++) {
    const d = (g - gain(s[i]) * g) / s[i];
    if (s[i + 1] === 0) { g = g + d * (s[i + 1] - s[i]); continue; }
    const mid = Math.sqrt(s[i] * s[i + 1]);
    const g2 = g + d * (mid - s[i]);
    g = g + ((g2 - gain(mid) * g2) / mid) * (s[i + 1] - s[i]);
  }
  return g;
}

function assertScaled(out: Float32Array, x: Float32Array, g: number, tol: number, label: string): void {
  for (let i = 0; i < x.length; i += 97) {
    assert.ok(Math.abs(out[i] - x[i] * g) <= tol * Math.max(1, Math.abs(x[i] * g)), `${label}[${i}] ${out[i]} vs ${x[i] * g}`);
  }
}

describe('sampling/samplers: deterministic trajectories', () => {
  const sigmas = sigmasKarras(12, 0.0292, 14.6146);
  const x = start(sigmas);

  it('euler, heun, dpm_2 and dpmpp_2m follow float64 references of their update rules', async () => {
    assertScaled(await getSampler('euler')(gaussian, x, sigmas), x, refEuler(sigmas), 2e-5, 'euler');
    assertScaled(await getSampler('heun')(gaussian, x, sigmas), x, refHeun(sigmas), 2e-5, 'heun');
    assertScaled(await getSampler('dpm_2')(gaussian, x, sigmas), x, refDpm2(sigmas), 2e-5, 'dpm_2');
    assertScaled(await getSampler('dpmpp_2m')(gaussian, x, sigmas), x, refDpmpp2m(sigmas), 2e-5, 'dpmpp_2m');
    assert.deepEqual(Array.from(await getSampler('ddim')(gaussian, x, sigmas)), Array.from(await getSampler('euler')(gaussian, x, sigmas)));
  });

  it('every deterministic sampler approaches the exact ODE solution; higher orders beat euler', async () => {
    const fine = sigmasKarras(30, 0.0292, 14.6146);
    const xf = start(fine);
    // Exact: x_end / x_start = √S2 / √(S2 + σ0²), i.e. out = NOISE·√S2.
    const exact = Math.sqrt(S2) / Math.sqrt(S2 + fine[0] ** 2);
    const err = async (name: string) => Math.abs(meanRatio(await getSampler(name)(gaussian, xf, fine), xf) / exact - 1);
    const eulerErr = await err('euler');
    assert.ok(eulerErr > 0.01 && eulerErr < 0.1, `euler error ${eulerErr}`);
    for (const name of ['heun', 'dpm_2', 'lms', 'dpmpp_2m', 'ipndm', 'ipndm_v', 'deis', 'uni_pc', 'uni_pc_bh2']) {
      const e = await err(name);
      assert.ok(e < 0.01, `${name} error ${e}`);
      assert.ok(e < eulerErr / 5, `${name} (${e}) should beat euler (${eulerErr})`);
    }
    assert.ok((await err('heunpp2')) < eulerErr * 1.2, 'heunpp2');
  });

  it('lms coefficients: order 1 is the step length, order 2 integrates the linear interpolant', () => {
    const t = Float64Array.of(10, 7, 5, 2);
    assert.ok(Math.abs(linearMultistepCoeff(1, t, 0, 0) - -3) < 1e-12);
    // Nodes t1 = 7 (j=0), t0 = 10 (j=1) integrated over [7, 5]: ∫ (τ−10)/(7−10) dτ = −8/3 … exactly.
    const c0 = linearMultistepCoeff(2, t, 1, 0);
    const c1 = linearMultistepCoeff(2, t, 1, 1);
    assert.ok(Math.abs(c0 - (((5 - 10) ** 2 - (7 - 10) ** 2) / 2) / -3) < 1e-12, `c0 ${c0}`);
    assert.ok(Math.abs(c0 + c1 - -2) < 1e-12, 'coefficients sum to the step');
    assert.throws(() => linearMultistepCoeff(3, t, 1, 0), /order 3 too high for step 1/);
  });

  it('all samplers land on a point-mass dataset (D ≡ μ) at σ = 0', async () => {
    const mu = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
    const pointMass: Denoiser = async () => Float32Array.from(mu);
    const s = sigmasKarras(8, 0.0292, 14.6146);
    const x0 = randnFromSeed(3, [64]).map((v) => v * s[0]);
    for (const name of SUPPORTED_SAMPLERS) {
      const out = await getSampler(name)(pointMass, x0, s, { seed: 9 });
      // UniPC stops at σ = 0.001 (ComfyUI replaces the final 0), leaving 0.001·noise behind.
      const tol = name.startsWith('uni_pc') ? 5e-3 : 1e-5;
      for (let i = 0; i < 64; i++) assert.ok(Math.abs(out[i] - mu[i]) < tol, `${name}[${i}]: ${out[i]} vs ${mu[i]}`);
    }
  });
});

describe('sampling/samplers: stochastic', () => {
  it('euler_ancestral matches a reference with the same injected noise; eta 0 is euler', async () => {
    const s = sigmasKarras(6, 0.0292, 14.6146);
    const x = start(s);
    const draws: Float32Array[] = [];
    const noiseSampler = () => {
      const z = randnFromSeed(100 + draws.length, [N]);
      draws.push(z);
      return z;
    };
    const out = await getSampler('euler_ancestral')(gaussian, x, s, { noiseSampler });
    assert.equal(draws.length, 5, 'no noise on the last (σ → 0) step');
    for (let j = 0; j < N; j += 61) {
      let v = x[j];
      for (let i = 0; i + 1 < s.length; i++) {
        const { sigmaDown, sigmaUp } = getAncestralStep(s[i], s[i + 1]);
        const den = gain(s[i]) * v;
        v = sigmaDown === 0 ? den : v + ((v - den) / s[i]) * (sigmaDown - s[i]) + draws[i][j] * sigmaUp;
        v = Math.fround(v);
      }
      assert.ok(Math.abs(out[j] - v) < 1e-5, `[${j}] ${out[j]} vs ${v}`);
    }
    assert.deepEqual(Array.from(await getSampler('euler_ancestral')(gaussian, x, s, { eta: 0, seed: 1 })), Array.from(await getSampler('euler')(gaussian, x, s)));
  });

  it('default ancestral noise is torch randn seeded with seed+1, one full draw per step', async () => {
    const s = Float64Array.of(2, 1, 0);
    const x = Float32Array.from({ length: 32 }, (_, i) => i / 10);
    const zero: Denoiser = async (v) => new Float32Array(v.length);
    const out = await getSampler('euler_ancestral')(zero, x, s, { seed: 41 });
    const z = randn(new TorchCpuGenerator(42), [32]);
    const { sigmaDown, sigmaUp } = getAncestralStep(2, 1);
    const first = x.map((v, j) => Math.fround(v + (v / 2) * (sigmaDown - 2) + z[j] * sigmaUp));
    // Second step goes to σ = 0: x = denoised = 0.
    assert.deepEqual(Array.from(out), new Array(32).fill(0));
    const oneStep = await getSampler('euler_ancestral')(zero, x, Float64Array.of(2, 1), { seed: 41 });
    assert.deepEqual(Array.from(oneStep), Array.from(first));
  });

  it('lcm re-noises x0 with σ_next·noise', async () => {
    const s = Float64Array.of(10, 3, 0.5, 0);
    const x = start(s);
    const draws: Float32Array[] = [];
    const out = await getSampler('lcm')(gaussian, x, s, {
      noiseSampler: () => { const z = randnFromSeed(7 + draws.length, [N]); draws.push(z); return z; },
    });
    for (let j = 0; j < N; j += 101) {
      let v = x[j];
      for (let i = 0; i + 1 < s.length; i++) {
        v = Math.fround(gain(s[i]) * v);
        if (s[i + 1] > 0) v = Math.fround(v + draws[i][j] * s[i + 1]);
      }
      assert.ok(Math.abs(out[j] - v) < 1e-5, `[${j}]`);
    }
  });

  it('SDE and ancestral samplers keep the data variance (Gaussian data, 30 steps)', async () => {
    const s = sigmasKarras(30, 0.0292, 14.6146);
    const x = start(s);
    for (const name of ['dpm_2_ancestral', 'dpmpp_2s_ancestral', 'dpmpp_sde', 'dpmpp_2m_sde', 'dpmpp_3m_sde']) {
      const v = variance(await getSampler(name)(gaussian, x, s, { seed: 5 }));
      assert.ok(Math.abs(v - S2) < 0.03, `${name} variance ${v}, expected ≈ ${S2}`);
    }
    // ddpm's posterior step equals euler_ancestral's in VE coordinates, so with the same noise
    // stream (seed+1) the two agree.
    const a = await getSampler('ddpm')(gaussian, x, s, { seed: 5 });
    const b = await getSampler('euler_ancestral')(gaussian, x, s, { seed: 5 });
    for (let i = 0; i < N; i += 37) assert.ok(Math.abs(a[i] - b[i]) < 1e-4, `ddpm vs euler_a [${i}]`);
  });

  it('is deterministic per seed and differs between seeds; needs a seed', async () => {
    const s = sigmasKarras(6, 0.0292, 14.6146);
    const x = start(s);
    for (const name of STOCHASTIC_SAMPLERS) {
      const a = await getSampler(name)(gaussian, x, s, { seed: 1 });
      const b = await getSampler(name)(gaussian, x, s, { seed: 1 });
      const c = await getSampler(name)(gaussian, x, s, { seed: 2 });
      assert.deepEqual(Array.from(a), Array.from(b), `${name} repeatable`);
      assert.notDeepEqual(Array.from(a), Array.from(c), `${name} seed-dependent`);
      await assert.rejects(getSampler(name)(gaussian, x, s), /adds noise: pass options.seed or options.noiseSampler/);
    }
  });
});

describe('sampling/samplers: contract', () => {
  it('reports each step to the callback with ComfyUI fields', async () => {
    const s = sigmasKarras(5, 0.0292, 14.6146);
    const seen: StepInfo[] = [];
    await getSampler('dpmpp_2m')(gaussian, start(s), s, { callback: (info) => { seen.push(info); } });
    assert.deepEqual(seen.map((v) => v.i), [0, 1, 2, 3, 4]);
    assert.deepEqual(seen.map((v) => v.sigma), Array.from(s.slice(0, 5)));
    assert.ok(seen.every((v) => v.totalSteps === 5 && v.denoised.length === N && v.sigma_hat === v.sigma));
  });

  it('stops when the signal is aborted', async () => {
    const s = sigmasKarras(10, 0.0292, 14.6146);
    const ac = new AbortController();
    let calls = 0;
    const model: Denoiser = async (x, sigma) => { if (++calls === 3) ac.abort(); return gaussian(x, sigma); };
    await assert.rejects(getSampler('euler')(model, start(s), s, { signal: ac.signal }), { name: 'AbortError' });
    assert.equal(calls, 3);
  });

  it('rejects unknown samplers, bad sigmas and wrong model output sizes', async () => {
    assert.throws(() => getSampler('euler_cfg_pp'), /unsupported sampler "euler_cfg_pp"; supported: euler, euler_ancestral/);
    await assert.rejects(getSampler('euler')(gaussian, start(Float64Array.of(1, 0)), [1, NaN]), /sigma\[1\] = NaN/);
    const bad: Denoiser = async () => new Float32Array(3);
    await assert.rejects(getSampler('heun')(bad, new Float32Array(8), [2, 1, 0]), /model returned 3 values for an input of 8/);
  });

  it('does not modify the input latent', async () => {
    const s = sigmasKarras(4, 0.0292, 14.6146);
    const x = start(s);
    const copy = Array.from(x);
    for (const name of SUPPORTED_SAMPLERS) await getSampler(name)(gaussian, x, s, { seed: 3 });
    assert.deepEqual(Array.from(x), copy);
  });
});
