// The 9 KSampler schedulers and the model-sampling pieces against ports of ComfyUI's
// comfy/samplers.py, comfy/k_diffusion/sampling.py and comfy/model_sampling.py, written here from
// the Python (float64 where Python computes in float64, float32 steps where torch does).

import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { createModelSampling, SD_SCHEDULE } from '../../../src/inference/sampling/modelSampling';
import { denoisedSigmas, SCHEDULER_NAMES } from '../../../src/inference/sampling/schedulers';

const f = Math.fround;

// ModelSamplingDiscrete(beta_schedule "linear" = diffusers scaled_linear, 0.00085 → 0.012).
function torchLinspace(start: number, end: number, n: number, r: (v: number) => number): number[] {
  if (n === 1) return [r(start)];
  const s = r(start);
  const e = r(end);
  const step = r((e - s) / (n - 1));
  const half = Math.floor(n / 2);
  return Array.from({ length: n }, (_, i) => (i < half ? r(s + r(step * i)) : r(e - r(step * (n - i - 1)))));
}
const betas = torchLinspace(Math.sqrt(0.00085), Math.sqrt(0.012), 1000, (v) => v).map((b) => b * b);
let acc = 1;
const sigmas64 = betas.map((b) => {
  acc *= 1 - b;
  return Math.sqrt((1 - acc) / acc);
});
const tableSigmas = Float32Array.from(sigmas64);
const tableLog = Float32Array.from(sigmas64, Math.log);
const sigmaMin = tableSigmas[0];
const sigmaMax = tableSigmas[999];

function refSigma(timestep: number): number {
  const t = f(Math.min(Math.max(f(timestep), 0), 999));
  const lo = Math.floor(t);
  const w = f(t - lo);
  return f(Math.exp(f(f(f(1 - w) * tableLog[lo]) + f(w * tableLog[Math.ceil(t)]))));
}
function refTimestep(sigma: number): number {
  const ls = f(Math.log(f(sigma)));
  const d = Array.from(tableLog, (l) => Math.abs(f(ls - l)));
  return d.indexOf(Math.min(...d)); // argmin: first of equal minima
}

// Regularized incomplete beta by quadrature (u = t^a removes the t = 0 singularity; the symmetry
// I_x(a, b) = 1 − I_{1−x}(b, a) keeps the other one away), and its inverse by bisection: scipy's beta.ppf.
function lowerBetaIntegral(x: number, a: number, b: number): number {
  const U = x ** a;
  const M = 200;
  let sum = 0;
  for (let k = 0; k <= M; k++) {
    const u = (U * k) / M;
    const w = k === 0 || k === M ? 1 : k % 2 ? 4 : 2;
    sum += w * (1 - u ** (1 / a)) ** (b - 1);
  }
  return ((U / M / 3) * sum) / a;
}
function incBeta(x: number, a: number, b: number): number {
  const total = lowerBetaIntegral(0.5, a, b) + lowerBetaIntegral(0.5, b, a);
  return x <= 0.5 ? lowerBetaIntegral(x, a, b) / total : 1 - lowerBetaIntegral(1 - x, b, a) / total;
}
const ppfCache = new Map<number, number>();
function betaPpf(p: number, a: number, b: number): number {
  const key = p;
  if (!ppfCache.has(key)) ppfCache.set(key, betaPpfUncached(p, a, b));
  return ppfCache.get(key)!;
}
function betaPpfUncached(p: number, a: number, b: number): number {
  if (p >= 1) return 1;
  if (p <= 0) return 0;
  // Boost's ibeta_inv (behind scipy) returns the inflection point (1−a)/(2−a−b) exactly when
  // I_xs(a, b) is within 3 ε of p: for a = b that is p = 0.5 → 0.5, so 0.5·999 = 499.5 rints to 500.
  if (a === b && p === 0.5) return (1 - a) / (2 - a - b);
  let lo = 0;
  let hi = 1;
  for (let k = 0; k < 48; k++) {
    const mid = (lo + hi) / 2;
    if (incBeta(mid, a, b) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
const rint = (v: number) => {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

function refSchedule(name: string, steps: number): number[] {
  switch (name) {
    case 'simple': {
      const ss = 1000 / steps;
      return [...Array.from({ length: steps }, (_, x) => tableSigmas[999 - Math.trunc(x * ss)]), 0];
    }
    case 'normal': case 'sgm_uniform': {
      const start = refTimestep(sigmaMax);
      const end = refTimestep(sigmaMin);
      let n = steps;
      let appendZero = true;
      let ts: number[];
      if (name === 'sgm_uniform') ts = torchLinspace(start, end, steps + 1, f).slice(0, -1);
      else {
        if (Math.abs(refSigma(end)) <= 1e-5) {
          n += 1;
          appendZero = false;
        }
        ts = torchLinspace(start, end, n, f);
      }
      const out = ts.map(refSigma);
      return appendZero ? [...out, 0] : out;
    }
    case 'karras': {
      const ramp = torchLinspace(0, 1, steps, f);
      const minInv = sigmaMin ** (1 / 7);
      const maxInv = sigmaMax ** (1 / 7);
      return [...ramp.map((r) => f(f(f(maxInv) + f(r * f(minInv - maxInv))) ** 7)), 0];
    }
    case 'exponential':
      return [...torchLinspace(Math.log(sigmaMax), Math.log(sigmaMin), steps, f).map((v) => f(Math.exp(v))), 0];
    case 'ddim_uniform': {
      let n = steps;
      const sigs: number[] = [];
      if (Math.abs(tableSigmas[1]) <= 1e-5) n += 1;
      else sigs.push(0);
      const ss = Math.max(Math.floor(1000 / n), 1);
      for (let x = 1; x < 1000; x += ss) sigs.push(tableSigmas[x]);
      return sigs.reverse();
    }
    case 'beta': {
      const out: number[] = [];
      let last = -1;
      for (let i = 0; i < steps; i++) {
        const t = rint(betaPpf(1 - i * (1 / steps), 0.6, 0.6) * 999);
        if (t !== last) out.push(tableSigmas[t]);
        last = t;
      }
      return [...out, 0];
    }
    case 'linear_quadratic': {
      let sched: number[];
      if (steps === 1) sched = [1, 0];
      else {
        const ls = Math.floor(steps / 2);
        const diff = ls - 0.025 * steps;
        const qs = steps - ls;
        const qc = diff / (ls * qs ** 2);
        const lcoef = 0.025 / ls - (2 * diff) / qs ** 2;
        const c = qc * ls ** 2;
        sched = [...Array.from({ length: ls }, (_, i) => (i * 0.025) / ls), ...Array.from({ length: steps - ls }, (_, k) => qc * (k + ls) ** 2 + lcoef * (k + ls) + c), 1]
          .map((x) => 1 - x);
      }
      return sched.map((x) => f(f(x) * sigmaMax));
    }
    case 'kl_optimal': {
      const out = Array.from({ length: steps }, (_, i) => {
        const u = f(i / (steps - 1));
        return f(Math.tan(f(f(u * f(Math.atan(sigmaMin))) + f(f(1 - u) * f(Math.atan(sigmaMax))))));
      });
      return [...out, 0];
    }
    default:
      throw new Error(name);
  }
}

/** KSampler.set_steps + calculate_sigmas (with the DISCARD_PENULTIMATE rule for dpm_2 / uni_pc). */
function refKSamplerSigmas(name: string, steps: number, denoise: number, sampler: string): number[] {
  const discard = ['dpm_2', 'dpm_2_ancestral', 'uni_pc', 'uni_pc_bh2'].includes(sampler);
  const calc = (n: number) => {
    const s = refSchedule(name, discard ? n + 1 : n).map(f);
    return discard ? [...s.slice(0, -2), s[s.length - 1]] : s;
  };
  if (denoise > 0.9999) return calc(steps);
  const s = calc(Math.trunc(steps / denoise));
  return s.slice(-(steps + 1));
}

const ms = createModelSampling(SD_SCHEDULE);

describe('sampling/parity: schedulers against ports of ComfyUI', () => {
  it('builds the same σ table and the same timestep/sigma conversions', () => {
    assert.deepEqual(Array.from(ms.sigmas), Array.from(tableSigmas));
    assert.deepEqual(Array.from(ms.logSigmas), Array.from(tableLog));
    for (const t of [0, 0.25, 10.5, 499.5, 500.4, 998.9, 999, 1200, -3]) assert.equal(ms.sigma(t), refSigma(t), `sigma(${t})`);
    for (const steps of [3, 5, 7, 20]) {
      for (const t of torchLinspace(999, 0, steps, f)) {
        const s = refSigma(t);
        assert.equal(ms.timestep(s), refTimestep(s), `timestep(sigma(${t}))`);
      }
    }
  });

  for (const name of SCHEDULER_NAMES) {
    it(`${name}: steps 1, 2, 3, 7, 20, 50 × denoise 0.3, 0.5, 1 within 1e-6 relative`, function () {
      // A hang bound, not a speed check: the beta reference inverts a quadrature by bisection
      // (~8 s on one free core; several times that on a loaded CI machine).
      this.timeout(180_000);
      for (const steps of [1, 2, 3, 7, 20, 50]) {
        for (const denoise of [0.3, 0.5, 1]) {
          for (const sampler of ['euler', 'uni_pc']) {
            const label = `${name} steps ${steps} denoise ${denoise} ${sampler}`;
            const ours = Array.from(denoisedSigmas(ms, name, steps, denoise, sampler));
            if (name === 'kl_optimal' && steps / denoise < 2 && sampler === 'euler') {
              // ComfyUI divides by n − 1 = 0 and yields NaN; Marble starts the single step at σ_max.
              assert.ok(Math.abs(ours[0] - sigmaMax) <= 1e-6 * sigmaMax, label);
              continue;
            }
            const ref = refKSamplerSigmas(name, steps, denoise, sampler);
            assert.equal(ours.length, ref.length, `${label}: length ${ours.length} vs ${ref.length}`);
            ours.forEach((v, i) => assert.ok(Math.abs(v - ref[i]) <= 1e-6 * Math.abs(ref[i]), `${label}[${i}]: ${v} vs ComfyUI ${ref[i]}`));
          }
        }
      }
    });
  }
});

describe('sampling/parity: model-sampling formulas', () => {
  const x = Float32Array.of(0.7, -1.3, 2.2);
  const out = Float32Array.of(0.1, 0.4, -0.6);
  const sigma = 3.5;
  const near = (a: ArrayLike<number>, b: number[], label: string) =>
    b.forEach((v, i) => assert.ok(Math.abs(a[i] - v) <= 1e-6 * Math.max(1, Math.abs(v)), `${label}[${i}]: ${a[i]} vs ${v}`));

  it('EPS / V_PREDICTION / X0 calculate_denoised and calculate_input', () => {
    near(ms.calculateDenoised(sigma, out, x), Array.from(x, (v, i) => v - out[i] * sigma), 'eps');
    const v = createModelSampling(SD_SCHEDULE, { prediction: 'v_prediction' });
    near(v.calculateDenoised(sigma, out, x), Array.from(x, (xi, i) => (xi * 1) / (sigma ** 2 + 1) - (out[i] * sigma * 1) / (sigma ** 2 + 1) ** 0.5), 'v');
    near(createModelSampling(SD_SCHEDULE, { prediction: 'x0' }).calculateDenoised(sigma, out, x), Array.from(out), 'x0');
    near(ms.calculateInput(sigma, x), Array.from(x, (xi) => xi / (sigma ** 2 + 1) ** 0.5), 'input');
  });

  it('LCM: distilled 50-entry table (log of the float32 σ), timestep = idx·20 + 19, c_skip/c_out at 10·t', () => {
    const lcm = createModelSampling(SD_SCHEDULE, { prediction: 'lcm' });
    const valid = Array.from({ length: 50 }, (_, k) => tableSigmas[19 + 20 * k]);
    assert.deepEqual(Array.from(lcm.sigmas), valid);
    assert.deepEqual(Array.from(lcm.logSigmas), valid.map((s) => f(Math.log(s))));
    const t = lcm.timestep(sigma);
    const dist = valid.map((s) => Math.abs(f(f(Math.log(f(sigma))) - f(Math.log(s)))));
    assert.equal(t, dist.indexOf(Math.min(...dist)) * 20 + 19);
    const st = t * 10;
    const cSkip = 0.25 / (st ** 2 + 0.25);
    const cOut = st / (st ** 2 + 0.25) ** 0.5;
    near(lcm.calculateDenoised(sigma, out, x), Array.from(x, (xi, i) => cOut * (xi - out[i] * sigma) + cSkip * xi), 'lcm');
  });

  it('noise_scaling (max_denoise √(1+σ²) vs σ), inverse_noise_scaling and KSAMPLER.max_denoise', () => {
    const noise = Float32Array.of(0.5, -0.25, 1);
    near(ms.noiseScaling(sigma, noise, x, true), Array.from(noise, (n, i) => n * Math.sqrt(1 + sigma ** 2) + x[i]), 'max');
    near(ms.noiseScaling(sigma, noise, x, false), Array.from(noise, (n, i) => n * sigma + x[i]), 'partial');
    assert.equal(ms.inverseNoiseScaling(0, x), x);
    assert.equal(ms.isMaxDenoise(sigmaMax), true);
    assert.equal(ms.isMaxDenoise(sigmaMax * (1 - 2e-5)), false);
    assert.equal(ms.isMaxDenoise(sigmaMax * (1 - 5e-6)), true);
    assert.equal(ms.isMaxDenoise(100), true);
  });
});
