import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { createModelSampling, makeBetas, SD_SCHEDULE } from '../../../src/inference/sampling/modelSampling';
import { inverseRegularizedIncompleteBeta, linspace, regularizedIncompleteBeta } from '../../../src/inference/sampling/numeric';
import {
  calculateSigmas, denoisedSigmas, ksamplerSigmas, SCHEDULER_NAMES, sdTurboSigmas, sigmasKarras, sliceSigmas,
  splitSigmas, splitSigmasDenoise,
} from '../../../src/inference/sampling/schedulers';

const ms = createModelSampling();
const near = (a: number, b: number, tol: number, label = '') => assert.ok(Math.abs(a - b) <= tol, `${label} ${a} vs ${b}`);
const starts = (s: Float64Array, expected: number[], tol = 6e-5, label = '') => expected.forEach((e, i) => near(s[i], e, tol, `${label}[${i}]`));
const ends = (s: Float64Array, expected: number[], tol = 6e-5, label = '') => expected.forEach((e, i) => near(s[s.length - expected.length + i], e, tol, `${label}[-${expected.length - i}]`));

describe('sampling/modelSampling', () => {
  it('builds the SD1.5 discrete table (σ_min 0.0291672, σ_max 14.614641, float32)', () => {
    assert.equal(ms.sigmas.length, 1000);
    near(ms.sigmaMin, 0.0291672, 5e-7, 'min');
    near(ms.sigmaMax, 14.614641, 5e-6, 'max');
    assert.equal(ms.sigmaMax, Math.fround(ms.sigmaMax));
    for (let i = 1; i < 1000; i++) assert.ok(ms.sigmas[i] > ms.sigmas[i - 1]);
  });

  it('timestep(σ) is the nearest log-σ index and sigma(t) interpolates log-linearly', () => {
    assert.equal(ms.timestep(ms.sigmaMax), 999);
    assert.equal(ms.timestep(ms.sigmaMin), 0);
    assert.equal(ms.timestep(ms.sigma(500)), 500);
    assert.equal(ms.timestep(ms.sigma(500.4)), 500);
    assert.equal(ms.timestep(ms.sigma(500.6)), 501);
    const mid = ms.sigma(10.5);
    // sigma(t) is float32 like torch's: one float32 rounding of exp.
    near(Math.log(mid), 0.5 * (ms.logSigmas[10] + ms.logSigmas[11]), 1e-6, 'interp');
    assert.equal(mid, Math.fround(mid));
    near(ms.sigma(-5), ms.sigma(0), 0, 'clamp low');
    near(ms.sigma(5000), ms.sigma(999), 0, 'clamp high');
  });

  it('eps / v / x0 formulas and the input scaling', () => {
    const x = Float32Array.of(1, -2);
    const out = Float32Array.of(0.5, 0.25);
    const s = 2;
    assert.deepEqual(Array.from(ms.calculateInput(s, x)), [1 / Math.sqrt(5), -2 / Math.sqrt(5)].map(Math.fround));
    assert.deepEqual(Array.from(ms.calculateDenoised(s, out, x)), [0, -2.5]);
    const v = createModelSampling(SD_SCHEDULE, { prediction: 'v_prediction' });
    const dv = v.calculateDenoised(s, out, x);
    near(dv[0], 1 / 5 - (0.5 * 2) / Math.sqrt(5), 1e-6, 'v0');
    near(dv[1], -2 / 5 - (0.25 * 2) / Math.sqrt(5), 1e-6, 'v1');
    const x0 = createModelSampling({ ...SD_SCHEDULE, prediction_type: 'sample' });
    assert.equal(x0.prediction, 'x0');
    assert.deepEqual(Array.from(x0.calculateDenoised(s, out, x)), [0.5, 0.25]);
  });

  it('noise scaling: √(1+σ²) at full denoise, σ otherwise', () => {
    const noise = Float32Array.of(1, 2);
    const latent = Float32Array.of(0.5, 0);
    const full = ms.noiseScaling(3, noise, latent, true);
    near(full[0], Math.sqrt(10) + 0.5, 1e-6);
    const part = ms.noiseScaling(3, noise, latent, false);
    assert.deepEqual(Array.from(part), [3.5, 6]);
    assert.ok(ms.isMaxDenoise(ms.sigmaMax));
    assert.ok(!ms.isMaxDenoise(1.5482));
  });

  it('LCM (distilled, 50 original steps): σ_min 0.13445 and timesteps mapped ×20+19', () => {
    const lcm = createModelSampling(SD_SCHEDULE, { prediction: 'lcm' });
    assert.equal(lcm.sigmas.length, 50);
    near(lcm.sigmaMin, 0.13445, 1e-5, 'lcm min');
    assert.equal(lcm.sigmaMax, ms.sigmaMax);
    assert.equal(lcm.timestep(lcm.sigmaMax), 999);
    assert.equal(lcm.timestep(lcm.sigmaMin), 19);
    assert.equal(lcm.sigmas[10], ms.sigmas[219]);
    // Boundary condition: near t = 19 (scaled 190) c_out ≈ 1, so x0 ≈ x − eps·σ.
    const d = lcm.calculateDenoised(lcm.sigmaMin, Float32Array.of(1), Float32Array.of(2));
    near(d[0], 2 - lcm.sigmaMin, 1e-4, 'lcm x0');
  });

  it('zero terminal SNR pushes σ_max to ≈ 4518.76 and keeps σ_min', () => {
    const z = createModelSampling(SD_SCHEDULE, { zsnr: true });
    near(z.sigmaMax, Math.sqrt((1 - 4.8973451890853435e-8) / 4.8973451890853435e-8), 1e-2, 'zsnr max');
    near(z.sigmaMin, ms.sigmaMin, 1e-7, 'zsnr min');
  });

  it('diffusers beta schedules: scaled_linear squares a linspace of roots; linear does not', () => {
    const sl = makeBetas({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000 });
    const l = makeBetas({ beta_schedule: 'linear', beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000 });
    near(sl[0], 0.00085, 1e-15);
    near(sl[999], 0.012, 1e-15);
    near(sl[500], ((Math.sqrt(0.00085) + (500 / 999) * (Math.sqrt(0.012) - Math.sqrt(0.00085))) ** 2), 1e-15);
    near(l[500], 0.00085 + (500 / 999) * (0.012 - 0.00085), 1e-15);
    assert.ok(makeBetas({ beta_schedule: 'squaredcos_cap_v2' }).every((b) => b > 0 && b <= 0.999));
    assert.throws(() => makeBetas({ trained_betas: [0.1, 0.2], num_train_timesteps: 1000 }), /trained_betas has 2 entries/);
    assert.throws(() => makeBetas({ beta_schedule: 'cosine' as never }), /unsupported beta_schedule "cosine"/);
    assert.throws(() => createModelSampling({ prediction_type: 'flow' as never }), /unsupported prediction_type/);
  });
});

describe('sampling/schedulers', () => {
  it('normal, 20 steps, SD1.5 (ComfyUI values)', () => {
    const s = calculateSigmas(ms, 'normal', 20);
    assert.equal(s.length, 21);
    starts(s, [14.6146, 10.7468, 8.0815, 6.2049], 6e-5, 'normal');
    ends(s, [0.2322, 0.0292, 0], 6e-5, 'normal');
  });

  it('karras, 20 steps, SD1.5', () => {
    const s = calculateSigmas(ms, 'karras', 20);
    starts(s, [14.6146, 11.7254, 9.3402, 7.3836], 6e-5, 'karras');
    ends(s, [0.0485, 0.0292, 0], 6e-5, 'karras');
  });

  it('ddim_uniform starts below σ_max at 11.03 for 20 steps; denoise 0.5 normal starts at 1.5482', () => {
    near(calculateSigmas(ms, 'ddim_uniform', 20)[0], 11.03, 0.005, 'ddim');
    const d = denoisedSigmas(ms, 'normal', 20, 0.5);
    assert.equal(d.length, 21);
    near(d[0], 1.5482, 6e-5, 'denoise');
    assert.deepEqual(Array.from(d), Array.from(calculateSigmas(ms, 'normal', 40).slice(-21)));
    assert.equal(denoisedSigmas(ms, 'normal', 20, 0).length, 0);
    assert.equal(denoisedSigmas(ms, 'normal', 20, 0.99995).length, 21);
  });

  it('every scheduler: descending, ends at 0, right length, starts at or below σ_max', () => {
    for (const name of SCHEDULER_NAMES) {
      for (const steps of [1, 2, 3, 10, 25]) {
        const s = calculateSigmas(ms, name, steps);
        if (name !== 'beta') assert.equal(s.length, steps + 1, `${name}/${steps} length`);
        else assert.ok(s.length <= steps + 1 && s.length >= 2, `${name}/${steps} length`);
        assert.equal(s[s.length - 1], 0, `${name}/${steps} ends at 0`);
        for (let i = 1; i < s.length; i++) assert.ok(s[i] <= s[i - 1], `${name}/${steps} descending at ${i}`);
        assert.ok(s[0] <= ms.sigmaMax * (1 + 1e-6), `${name}/${steps} start`);
      }
    }
  });

  it('exact formula checks: simple, exponential, kl_optimal, linear_quadratic, beta', () => {
    const simple = calculateSigmas(ms, 'simple', 4);
    assert.deepEqual(Array.from(simple), [ms.sigmas[999], ms.sigmas[749], ms.sigmas[499], ms.sigmas[249], 0]);
    const e = calculateSigmas(ms, 'exponential', 5);
    near(Math.log(e[1] / e[0]), Math.log(e[4] / e[3]), 1e-6, 'geometric ratio');
    const kl = calculateSigmas(ms, 'kl_optimal', 3);
    near(kl[1], Math.tan(0.5 * Math.atan(ms.sigmaMin) + 0.5 * Math.atan(ms.sigmaMax)), 1e-5, 'kl mid');
    near(kl[2], ms.sigmaMin, 1e-7, 'kl end');
    const lq = calculateSigmas(ms, 'linear_quadratic', 4);
    // 4 steps: linear part [0, 0.0125], quadratic to 1 → 1 − x scaled by σ_max.
    near(lq[1], (1 - 0.0125) * ms.sigmaMax, 1e-4, 'lq');
    const b = calculateSigmas(ms, 'beta', 4);
    // Beta(0.6, 0.6) is symmetric: ppf(0.5) = 0.5 → timestep rint(499.5) = 500 (half to even).
    assert.equal(b[0], ms.sigmas[999]);
    assert.equal(b[2], ms.sigmas[500]);
  });

  it('DISCARD_PENULTIMATE samplers compute steps+1 and drop the second-to-last σ', () => {
    const plain = calculateSigmas(ms, 'normal', 21);
    const d = ksamplerSigmas(ms, 'normal', 20, 'dpm_2');
    assert.equal(d.length, 21);
    assert.deepEqual(Array.from(d), [...Array.from(plain.slice(0, 20)), 0]);
    assert.deepEqual(Array.from(ksamplerSigmas(ms, 'normal', 20, 'euler')), Array.from(calculateSigmas(ms, 'normal', 20)));
  });

  it('KSamplerAdvanced step ranges with force_full_denoise', () => {
    const s = calculateSigmas(ms, 'normal', 20);
    const first = sliceSigmas(s, 0, 12, false)!;
    assert.equal(first.length, 13);
    assert.equal(first[12], s[12]);
    const forced = sliceSigmas(s, 0, 12, true)!;
    assert.equal(forced[12], 0);
    assert.equal(s[12], calculateSigmas(ms, 'normal', 20)[12], 'input not mutated');
    const second = sliceSigmas(s, 12, 10000, false)!;
    assert.equal(second.length, 9);
    assert.equal(second[0], s[12]);
    assert.equal(sliceSigmas(s, 20, undefined), null);
  });

  it('SDTurboScheduler, explicit karras and SplitSigmas', () => {
    const t1 = sdTurboSigmas(ms, 1);
    assert.equal(t1.length, 2);
    near(t1[0], 14.6146, 6e-5);
    assert.equal(t1[1], 0);
    const t4 = sdTurboSigmas(ms, 4, 0.5);
    near(t4[0], ms.sigma(499), 1e-5, 'turbo start at denoise 0.5');
    assert.equal(t4.length, 5);
    const k = sigmasKarras(3, 0.1, 10, 7);
    near(k[1], ((10 ** (1 / 7) + 0.1 ** (1 / 7)) / 2) ** 7, 1e-5, 'karras mid');
    assert.throws(() => sigmasKarras(3, 10, 0.1), /sigma_min < sigma_max/);
    const [a, b] = splitSigmas(calculateSigmas(ms, 'normal', 10), 4);
    assert.equal(a.length, 5);
    assert.equal(b.length, 7);
    assert.equal(a[4], b[0]);
    const [c, d] = splitSigmasDenoise(calculateSigmas(ms, 'normal', 10), 0.3);
    assert.equal(d.length, 4);
    assert.equal(c.length, 8);
  });

  it('rejects bad input with specific messages', () => {
    assert.throws(() => calculateSigmas(ms, 'fancy', 20), /unknown scheduler "fancy"; supported: simple, sgm_uniform, karras/);
    assert.throws(() => calculateSigmas(ms, 'normal', 0), /steps must be an integer ≥ 1/);
    assert.throws(() => denoisedSigmas(ms, 'normal', 20, 1.5), /denoise must be ≤ 1/);
  });
});

describe('sampling/numeric', () => {
  it('torch-style linspace has exact endpoints', () => {
    const l = linspace(0.1, 0.7, 7);
    assert.equal(l[0], 0.1);
    assert.equal(l[6], 0.7);
    near(l[3], 0.4, 1e-15);
  });

  it('regularized incomplete beta and its inverse', () => {
    near(regularizedIncompleteBeta(0.5, 0.6, 0.6), 0.5, 1e-14, 'symmetric');
    near(regularizedIncompleteBeta(0.3, 1, 1), 0.3, 1e-14, 'uniform');
    near(regularizedIncompleteBeta(0.3, 2, 1), 0.09, 1e-14, 'x^2');
    near(regularizedIncompleteBeta(0.2, 2, 3), 1 - 0.8 ** 4 - 4 * 0.2 * 0.8 ** 3, 1e-14, 'binomial identity');
    near(inverseRegularizedIncompleteBeta(0.25, 2, 1), 0.5, 1e-14, 'inverse of x^2');
    for (const p of [0.01, 0.2, 0.5, 0.77, 0.99]) {
      const x = inverseRegularizedIncompleteBeta(p, 0.6, 0.6);
      near(regularizedIncompleteBeta(x, 0.6, 0.6), p, 1e-13, `roundtrip ${p}`);
    }
  });
});
