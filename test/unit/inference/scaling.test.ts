// Resizing against hand-computed torch.nn.functional.interpolate values (align_corners=False),
// ComfyUI's bislerp, and the size rules of the image/latent scaling nodes.
import assert from 'node:assert/strict';
import { pyRound } from '../../../src/inference/image/convert';
import { bislerp, centerCrop, commonUpscale, interpolate } from '../../../src/inference/image/resize';
import { latentUpscale, latentUpscaleBy } from '../../../src/inference/nodes/latent';
import { createNodeRegistry } from '../../../src/inference/nodes/registry';
import { defaultRuntimeConfig } from '../../../src/inference/nodes/runtimeConfig';
import { tensor, type Tensor } from '../../../src/inference/tensor';
import { fakeCtx } from './helpers';

const row = (values: number[]) => tensor([1, 1, 1, values.length], Float32Array.from(values));
const close = (a: ArrayLike<number>, b: number[], eps = 1e-5) =>
  assert.ok(a.length === b.length && b.every((v, i) => Math.abs(a[i] - v) <= eps), `[${Array.from(a)}] ≉ [${b}]`);

describe('float resizing (torch interpolate semantics)', () => {
  it('nearest-exact picks floor((i + 0.5) · in/out)', () => {
    close(interpolate(row([0, 1, 2, 3]), 1, 2, 'nearest-exact').data, [1, 3]);
    close(interpolate(row([0, 1]), 1, 4, 'nearest-exact').data, [0, 0, 1, 1]);
    close(interpolate(row([0, 1, 2]), 1, 2, 'nearest-exact').data, [0, 2]);
  });

  it('bilinear uses half-pixel centres, clamped at the edges', () => {
    close(interpolate(row([0, 1]), 1, 4, 'bilinear').data, [0, 0.25, 0.75, 1]);
    close(interpolate(row([0, 2, 4, 6]), 1, 2, 'bilinear').data, [1, 5]); // no antialias: averages pairs
  });

  it('bicubic uses a = −0.75 and overshoots like torch', () => {
    close(interpolate(row([0, 1]), 1, 4, 'bicubic').data, [-0.10546875, 0.2265625, 0.7734375, 1.10546875]);
  });

  it('area is adaptive average pooling', () => {
    close(interpolate(row([0, 1, 2, 3]), 1, 2, 'area').data, [0.5, 2.5]);
    close(interpolate(row([0, 3, 6]), 1, 2, 'area').data, [1.5, 4.5]); // overlapping windows
  });

  it('resizes both axes of every plane', () => {
    // 2 planes of 2×2 → 4×4 bilinear: the corners keep their values.
    const t = tensor([1, 2, 2, 2], Float32Array.from([0, 1, 2, 3, 10, 11, 12, 13]));
    const out = interpolate(t, 4, 4, 'bilinear');
    assert.deepEqual(out.shape, [1, 2, 4, 4]);
    close([out.data[0], out.data[3], out.data[12], out.data[15], out.data[16], out.data[31]], [0, 1, 2, 3, 10, 13]);
    close([out.data[1]], [0.25]);
  });

  it('bislerp slerps channel vectors (direction and magnitude), unlike bilinear', () => {
    // Two pixels with 2 channels: (2,0) and (0,4); 2 → 3 wide puts the middle at r = 0.5.
    const t = tensor([1, 2, 1, 2], Float32Array.from([2, 0, 0, 4]));
    const out = bislerp(t, 1, 3);
    const s = Math.SQRT1_2 * 3; // unit direction (√½, √½) × mean magnitude 3
    close(out.data, [2, s, 0, 0, s, 4]);
    close(commonUpscale(t, 3, 1, 'bilinear', 'disabled').data, [2, 1, 0, 0, 2, 4]);
  });

  it('center crop trims the longer side to the target aspect', () => {
    const t = tensor([1, 1, 2, 6], Float32Array.from([0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15]));
    const c = centerCrop(t, 2, 2); // aspect 1: keep the middle 2 columns
    assert.deepEqual(c.shape, [1, 1, 2, 2]);
    close(c.data, [2, 3, 12, 13]);
  });

  it('pyRound rounds halves to even like Python', () => {
    assert.deepEqual([0.5, 1.5, 2.5, 4.5, 7.5, 2.6].map(pyRound), [0, 2, 2, 4, 8, 3]);
  });
});

describe('scaling nodes', () => {
  const registry = createNodeRegistry(() => defaultRuntimeConfig('/nonexistent'));
  const latent = (h: number, w: number) => ({ samples: tensor([1, 4, h, w]) });

  it('LatentUpscale keeps the aspect when a side is 0 and never goes below 64 px', () => {
    assert.deepEqual(latentUpscale(latent(8, 16), 'nearest-exact', 0, 128, 'disabled').samples.shape, [1, 4, 16, 32]);
    assert.deepEqual(latentUpscale(latent(8, 8), 'bilinear', 32, 40, 'disabled').samples.shape, [1, 4, 8, 8]);
    const same = latent(8, 8);
    assert.equal(latentUpscale(same, 'area', 0, 0, 'disabled'), same);
  });

  it('LatentUpscaleBy rounds sizes with Python round() and keeps other latent keys', () => {
    const l = { ...latent(3, 5), batch_index: [3] };
    const out = latentUpscaleBy(l, 'bislerp', 1.5);
    assert.deepEqual(out.samples.shape, [1, 4, 4, 8]); // 4.5 → 4, 7.5 → 8
    assert.deepEqual(out.batch_index, [3]);
  });

  it('ImageScale with width 0 keeps the aspect; ImageScaleBy scales', async () => {
    const image = tensor([1, 2, 4, 3], new Float32Array(24).fill(0.25));
    const scaled = (await registry.get('ImageScale')!.run({ image, upscale_method: 'bilinear', width: 0, height: 4, crop: 'disabled' }, fakeCtx())).outputs[0] as Tensor;
    assert.deepEqual(scaled.shape, [1, 4, 8, 3]);
    assert.ok(scaled.data.every((v) => Math.abs(v - 0.25) < 1e-6));
    const by = (await registry.get('ImageScaleBy')!.run({ image, upscale_method: 'area', scale_by: 0.5 }, fakeCtx())).outputs[0] as Tensor;
    assert.deepEqual(by.shape, [1, 1, 2, 3]);
  });

  it('lanczos goes through 8-bit pixels as ComfyUI does through PIL', async () => {
    const image = tensor([1, 4, 4, 3], new Float32Array(48).fill(0.5));
    const out = (await registry.get('ImageScale')!.run({ image, upscale_method: 'lanczos', width: 8, height: 6, crop: 'disabled' }, fakeCtx())).outputs[0] as Tensor;
    assert.deepEqual(out.shape, [1, 6, 8, 3]);
    assert.ok(out.data.every((v) => Math.abs(v - 127 / 255) < 1e-6), 'a flat 0.5 image becomes 127/255 (truncated), not 0.5');
  });

  it('ImageInvert is 1 − x; bad methods are named', async () => {
    const image = tensor([1, 1, 2, 1], Float32Array.from([0.25, 1]));
    close(((await registry.get('ImageInvert')!.run({ image }, fakeCtx())).outputs[0] as Tensor).data, [0.75, 0]);
    await assert.rejects(
      Promise.resolve().then(() => registry.get('ImageScale')!.run({ image, upscale_method: 'magic', width: 2, height: 2, crop: 'disabled' }, fakeCtx())),
      /upscale_method: expected one of nearest-exact, bilinear, area, bicubic, lanczos/,
    );
  });
});
