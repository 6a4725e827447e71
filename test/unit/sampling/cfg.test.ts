import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { createCfgDenoiser, createInpaintDenoiser, isClose, type ModelCallInput } from '../../../src/inference/sampling/cfg';
import { ksample } from '../../../src/inference/sampling/ksampler';
import { createModelSampling } from '../../../src/inference/sampling/modelSampling';
import { prepareNoise, inpaintRandomNoise } from '../../../src/inference/sampling/noise';
import { calculateSigmas } from '../../../src/inference/sampling/schedulers';
import { BrownianNoiseSampler } from '../../../src/inference/sampling/brownianNoise';
import { latentToRgb, SD15_LATENT_RGB, SDXL_LATENT_RGB } from '../../../src/inference/sampling/preview';

const ms = createModelSampling();

// A fake eps-model: eps = scaledInput·k(cond) + timestep/1000, so results depend on the cond, the
// input scaling and the timestep the wrapper passes.
type Cond = { k: number };
function fakeUnet(calls: ModelCallInput<Cond>[]) {
  return async (input: ModelCallInput<Cond>): Promise<Float32Array> => {
    calls.push(input);
    const per = input.x.length / input.batch;
    const out = new Float32Array(input.x.length);
    for (let b = 0; b < input.batch; b++) {
      for (let i = 0; i < per; i++) out[b * per + i] = input.x[b * per + i] * input.conds[b].k + input.timestep / 1000;
    }
    return out;
  };
}

function expectedDenoised(x: Float32Array, sigma: number, k: number): Float64Array {
  const scale = 1 / Math.sqrt(sigma * sigma + 1);
  const t = ms.timestep(sigma);
  return Float64Array.from(x, (v) => v - (Math.fround(v * scale) * k + t / 1000) * sigma);
}

describe('sampling/cfg', () => {
  const pos = { k: 0.5 };
  const neg = { k: -0.25 };
  const x = Float32Array.from({ length: 12 }, (_, i) => (i - 6) / 3);
  const sigma = 3.2;

  it('combines uncond + (cond − uncond)·cfg of the x0 predictions', async () => {
    const calls: ModelCallInput<Cond>[] = [];
    const den = createCfgDenoiser({ modelSampling: ms, model: fakeUnet(calls), positive: pos, negative: neg, cfg: 7, batchSize: 2 });
    const out = await den(x, sigma);
    const c = expectedDenoised(x, sigma, pos.k);
    const u = expectedDenoised(x, sigma, neg.k);
    out.forEach((v, i) => assert.ok(Math.abs(v - (u[i] + (c[i] - u[i]) * 7)) < 1e-4, `[${i}]`));
    assert.equal(calls.length, 1, 'cond and uncond share one batch');
    assert.equal(calls[0].batch, 4);
    assert.deepEqual(calls[0].conds, [pos, pos, neg, neg]);
    assert.equal(calls[0].timestep, ms.timestep(sigma));
  });

  it('gives the same result batched and split (maxBatch 1)', async () => {
    const callsA: ModelCallInput<Cond>[] = [];
    const callsB: ModelCallInput<Cond>[] = [];
    const a = await createCfgDenoiser({ modelSampling: ms, model: fakeUnet(callsA), positive: pos, negative: neg, cfg: 5.5, batchSize: 2 })(x, sigma);
    const b = await createCfgDenoiser({ modelSampling: ms, model: fakeUnet(callsB), positive: pos, negative: neg, cfg: 5.5, batchSize: 2, maxBatch: 1 })(x, sigma);
    assert.deepEqual(Array.from(a), Array.from(b));
    assert.equal(callsB.length, 4);
    assert.ok(callsB.every((c) => c.batch === 1));
  });

  it('cfg 1 makes one pass without the negative (math.isclose), unless disabled', async () => {
    const calls: ModelCallInput<Cond>[] = [];
    const out = await createCfgDenoiser({ modelSampling: ms, model: fakeUnet(calls), positive: pos, negative: neg, cfg: 1 + 1e-12 })(x, sigma);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].batch, 1);
    assert.deepEqual(calls[0].conds, [pos]);
    const c = expectedDenoised(x, sigma, pos.k);
    out.forEach((v, i) => assert.ok(Math.abs(v - c[i]) < 1e-4));
    const calls2: ModelCallInput<Cond>[] = [];
    await createCfgDenoiser({ modelSampling: ms, model: fakeUnet(calls2), positive: pos, negative: neg, cfg: 1, disableCfg1Optimization: true })(x, sigma);
    assert.equal(calls2[0].batch, 2);
    assert.ok(isClose(1, 1 + 1e-10) && !isClose(1, 1.001));
  });

  it('reports missing negatives and wrong model outputs clearly', async () => {
    assert.throws(() => createCfgDenoiser({ modelSampling: ms, model: fakeUnet([]), positive: pos, cfg: 8 }), /negative conditioning is needed when cfg is 8/);
    const den = createCfgDenoiser({ modelSampling: ms, model: async () => new Float32Array(2), positive: pos, negative: neg, cfg: 8 });
    await assert.rejects(den(x, sigma), /model returned 2 values for a batch of 2 × 12/);
    await assert.rejects(createCfgDenoiser({ modelSampling: ms, model: fakeUnet([]), positive: pos, negative: neg, cfg: 8, batchSize: 5 })(x, sigma), /not divisible by batch size 5/);
  });

  it('inpaint wrapper noises the kept region to σ and returns the latent there', async () => {
    const latent = Float32Array.of(1, 2, 3, 4);
    const noise = Float32Array.of(0.5, -0.5, 1, -1);
    const mask = Float32Array.of(1, 0, 1, 0);
    const seen: Float32Array[] = [];
    const inner = async (v: Float32Array) => { seen.push(v); return v.map((a) => a * 0.1); };
    const out = await createInpaintDenoiser(inner, { latent, noise, denoiseMask: mask })(Float32Array.of(10, 10, 10, 10), 2);
    assert.deepEqual(Array.from(seen[0]), [10, 2 - 1, 10, 4 - 2]);
    assert.deepEqual(Array.from(out), [1, 2, 1, 4].map(Math.fround));
  });
});

describe('sampling/ksample', () => {
  it('runs txt2img end to end: noise scaling at σ_max, CFG, sampler; same seed → same latent', async () => {
    const shape = [1, 4, 4, 4];
    const latent = new Float32Array(64);
    const sigmas = calculateSigmas(ms, 'karras', 6);
    const run = async (seed: number, sampler: string) => ksample({
      sampler, sigmas, modelSampling: ms, seed, latent, noise: prepareNoise(seed, shape),
      denoiser: createCfgDenoiser({ modelSampling: ms, model: fakeUnet([]), positive: { k: 0.2 }, negative: { k: 0.1 }, cfg: 3 }),
    });
    const a = await run(11, 'euler_ancestral');
    assert.deepEqual(Array.from(a), Array.from(await run(11, 'euler_ancestral')));
    assert.notDeepEqual(Array.from(a), Array.from(await run(12, 'euler_ancestral')));
    assert.ok(a.every(Number.isFinite));
    // A single σ means no steps: what comes back is the scaled start, √(1+σ²) at σ_max, σ below it.
    const noise = Float32Array.of(1, -2);
    const lat = Float32Array.of(0.5, 0.25);
    const atMax = await ksample({ sampler: 'euler', sigmas: [ms.sigmaMax], modelSampling: ms, seed: 1, latent: lat, noise, denoiser: async (v) => v });
    assert.ok(Math.abs(atMax[0] - (Math.sqrt(1 + ms.sigmaMax ** 2) + 0.5)) < 1e-4);
    const partial = await ksample({ sampler: 'euler', sigmas: [1.5], modelSampling: ms, seed: 1, latent: lat, noise, denoiser: async (v) => v });
    assert.deepEqual(Array.from(partial), [2, -2.75]);
    // With zero steps the latent comes back unchanged.
    const same = await ksample({ sampler: 'euler', sigmas: [], modelSampling: ms, seed: 1, latent: Float32Array.of(1, 2), noise: Float32Array.of(5, 5), denoiser: async (v) => v });
    assert.deepEqual(Array.from(same), [1, 2]);
  });

  it('keeps the unmasked latent exactly when inpainting (ddim draws its own seed+1 noise)', async () => {
    const latent = Float32Array.from({ length: 32 }, (_, i) => Math.cos(i));
    const mask = Float32Array.from({ length: 32 }, (_, i) => (i < 16 ? 1 : 0));
    const sigmas = calculateSigmas(ms, 'normal', 5);
    for (const sampler of ['euler', 'ddim', 'dpmpp_2m']) {
      const out = await ksample({
        sampler, sigmas, modelSampling: ms, seed: 4, latent, noise: prepareNoise(4, [32]), denoiseMask: mask,
        denoiser: async (v, s) => v.map((a) => a / (1 + s * s)),
      });
      for (let i = 16; i < 32; i++) assert.ok(Math.abs(out[i] - latent[i]) < 1e-6, `${sampler}[${i}]`);
    }
    assert.deepEqual(Array.from(inpaintRandomNoise([8], 4)), Array.from(prepareNoise(5, [8])));
  });
});

describe('sampling/brownianNoise', () => {
  it('is a fixed path per seed: additive over splits, unit variance, seed-dependent', () => {
    const tree = new BrownianNoiseSampler(4096, 0.03, 14.6, 7);
    const again = new BrownianNoiseSampler(4096, 0.03, 14.6, 7);
    assert.deepEqual(Array.from(tree.sample(5, 2)), Array.from(again.sample(5, 2)));
    // W(2) − W(5) = (W(3) − W(5)) + (W(2) − W(3)) in unnormalised form.
    const a = tree.sample(5, 3), b = tree.sample(3, 2), c = tree.sample(5, 2);
    for (let i = 0; i < 4096; i += 53) {
      const lhs = c[i] * Math.sqrt(3);
      const rhs = a[i] * Math.sqrt(2) + b[i] * 1;
      assert.ok(Math.abs(lhs - rhs) < 1e-4, `[${i}]`);
    }
    for (const z of [a, b, tree.sample(14.6, 0.03), tree.sample(0.5, 0.2)]) {
      let s2 = 0;
      for (const v of z) s2 += v * v;
      assert.ok(Math.abs(s2 / z.length - 1) < 0.08, `variance ${s2 / z.length}`);
    }
    let dot = 0;
    for (let i = 0; i < 4096; i++) dot += a[i] * b[i];
    assert.ok(Math.abs(dot / 4096) < 0.06, 'disjoint increments independent');
    const other = new BrownianNoiseSampler(4096, 0.03, 14.6, 8).sample(5, 2);
    assert.notDeepEqual(Array.from(other), Array.from(c));
  });
});

describe('sampling/preview', () => {
  it('maps latent channels to RGB with ComfyUI factors', () => {
    // 1×4×1×2 latent: pixel 0 = (1, 0, 0, 0), pixel 1 = (0, 0, 0, −1).
    const latent = Float32Array.of(1, 0, 0, 0, 0, 0, 0, -1);
    const img = latentToRgb(latent, [1, 4, 1, 2], SD15_LATENT_RGB);
    assert.equal(img.width, 2);
    assert.equal(img.height, 1);
    const px = (v: number) => Math.floor(Math.min(Math.max((v + 1) / 2, 0), 1) * 255);
    assert.deepEqual(Array.from(img.data), [px(0.3512), px(0.2297), px(0.3227), px(0.212), px(0.2616), px(0.7177)]);
    const xl = latentToRgb(new Float32Array(8), [1, 4, 1, 2], SDXL_LATENT_RGB);
    assert.deepEqual(Array.from(xl.data.subarray(0, 3)), [px(0.1084), px(-0.0175), px(-0.0011)]);
    assert.throws(() => latentToRgb(new Float32Array(6), [1, 3, 1, 2], SD15_LATENT_RGB), /3 channels, the factors expect 4/);
  });
});
