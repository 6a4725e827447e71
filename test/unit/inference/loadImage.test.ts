// LoadImage / LoadImageMask: pixels, alpha → mask, EXIF orientation, IS_CHANGED, path safety.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { createNodeRegistry } from '../../../src/inference/nodes/registry';
import { defaultRuntimeConfig } from '../../../src/inference/nodes/runtimeConfig';
import type { Tensor } from '../../../src/inference/tensor';
import { fakeCtx, tempDir } from './helpers';

const close = (a: ArrayLike<number>, b: number[], eps = 1e-6) =>
  assert.ok(b.every((v, i) => Math.abs(a[i] - v) <= eps), `${Array.from(a).slice(0, b.length)} ≉ ${b}`);

describe('LoadImage / LoadImageMask', () => {
  const tmp = tempDir('marble-load-');
  const config = defaultRuntimeConfig(tmp.dir);
  const registry = createNodeRegistry(() => config);
  const load = registry.get('LoadImage')!;
  const loadMask = registry.get('LoadImageMask')!;
  after(() => tmp.remove());

  before(async () => {
    mkdirSync(config.inputDir, { recursive: true });
    mkdirSync(config.outputDir, { recursive: true });
    // 2×2 RGBA: alpha 255, 128, 0, 64.
    const rgba = Buffer.from([10, 20, 30, 255, 40, 50, 60, 128, 70, 80, 90, 0, 100, 110, 120, 64]);
    await sharp(rgba, { raw: { width: 2, height: 2, channels: 4 } }).png().toFile(path.join(config.inputDir, 'rgba.png'));
    await sharp(Buffer.alloc(4 * 2 * 3, 200), { raw: { width: 4, height: 2, channels: 3 } }).png().toFile(path.join(config.outputDir, 'rgb.png'));
    // 4×2 JPEG marked "rotate 90° clockwise" (EXIF orientation 6) → loads as 2×4.
    await sharp(Buffer.alloc(4 * 2 * 3, 100), { raw: { width: 4, height: 2, channels: 3 } }).withMetadata({ orientation: 6 }).jpeg()
      .toFile(path.join(config.inputDir, 'rotated.jpg'));
  });

  it('loads RGB as [1,H,W,3] in 0..1 and MASK = 1 − alpha', async () => {
    const { outputs } = await load.run({ image: 'rgba.png' }, fakeCtx());
    const [image, mask] = outputs as [Tensor, Tensor];
    assert.deepEqual(image.shape, [1, 2, 2, 3]);
    close(image.data, [10 / 255, 20 / 255, 30 / 255, 40 / 255]);
    assert.deepEqual(mask.shape, [1, 2, 2]);
    close(mask.data, [0, 1 - 128 / 255, 1, 1 - 64 / 255]);
  });

  it('gives a 64×64 zero mask when there is no alpha, and reads " [output]" names from the output folder', async () => {
    const [image, mask] = (await load.run({ image: 'rgb.png [output]' }, fakeCtx())).outputs as [Tensor, Tensor];
    assert.deepEqual(image.shape, [1, 2, 4, 3]);
    assert.deepEqual(mask.shape, [1, 64, 64]);
    assert.ok(mask.data.every((v) => v === 0));
  });

  it('applies EXIF orientation', async () => {
    const [image] = (await load.run({ image: 'rotated.jpg' }, fakeCtx())).outputs as [Tensor];
    assert.deepEqual(image.shape, [1, 4, 2, 3]);
  });

  it('refuses names that escape the input folder, and reports missing files in validation', async () => {
    await assert.rejects(async () => load.run({ image: '../../etc/passwd' }, fakeCtx()), /image: '..\/..\/etc\/passwd' is outside the input folder/);
    assert.equal(await load.validateInputs!({ image: 'missing.png' }), 'Invalid image file: missing.png');
    assert.equal(await load.validateInputs!({ image: 'rgba.png' }), true);
  });

  it('IS_CHANGED is the SHA-256 of the file, so editing it re-runs the node', async () => {
    const file = path.join(config.inputDir, 'edit.png');
    writeFileSync(file, 'one');
    const a = await load.isChanged!({ image: 'edit.png' });
    assert.equal(a, '7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed');
    writeFileSync(file, 'two');
    assert.notEqual(await load.isChanged!({ image: 'edit.png' }), a);
  });

  it('LoadImageMask reads a channel; alpha is inverted; no alpha → zeros of the image size', async () => {
    const [red] = (await loadMask.run({ image: 'rgba.png', channel: 'red' }, fakeCtx())).outputs as [Tensor];
    assert.deepEqual(red.shape, [1, 2, 2]);
    close(red.data, [10 / 255, 40 / 255, 70 / 255, 100 / 255]);
    const [alpha] = (await loadMask.run({ image: 'rgba.png', channel: 'alpha' }, fakeCtx())).outputs as [Tensor];
    close(alpha.data, [0, 1 - 128 / 255, 1, 1 - 64 / 255]);
    const [none] = (await loadMask.run({ image: 'rgb.png [output]', channel: 'alpha' }, fakeCtx())).outputs as [Tensor];
    assert.deepEqual(none.shape, [1, 2, 4]);
    assert.ok(none.data.every((v) => v === 0));
    await assert.rejects(async () => loadMask.run({ image: 'rgba.png', channel: 'cyan' }, fakeCtx()), /channel: expected one of alpha, red, green, blue/);
  });
});
