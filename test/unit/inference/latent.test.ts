// Latent nodes and ImagePadForOutpaint: shapes, batch bookkeeping and masks as ComfyUI makes them.
import assert from 'node:assert/strict';
import { padForOutpaint } from '../../../src/inference/nodes/image';
import { latentFromBatch, repeatLatentBatch, setLatentNoiseMask } from '../../../src/inference/nodes/latent';
import { createNodeRegistry } from '../../../src/inference/nodes/registry';
import { defaultRuntimeConfig } from '../../../src/inference/nodes/runtimeConfig';
import { tensor, type Latent } from '../../../src/inference/tensor';
import { fakeCtx } from './helpers';

const batch = (n: number) => tensor([n, 1, 1, 1], Float32Array.from({ length: n }, (_, i) => i));

describe('latent nodes', () => {
  const registry = createNodeRegistry(() => defaultRuntimeConfig('/nonexistent'));

  it('EmptyLatentImage gives zeros [B, 4, H/8, W/8]', async () => {
    const [latent] = (await registry.get('EmptyLatentImage')!.run({ width: 512, height: 768, batch_size: 2 }, fakeCtx())).outputs as [Latent];
    assert.deepEqual(latent.samples.shape, [2, 4, 96, 64]);
    assert.equal(latent.samples.data.length, 2 * 4 * 96 * 64);
    assert.ok(latent.samples.data.every((v) => v === 0));
  });

  it('EmptyLatentImage names a size that is not a multiple of 8 or out of range', async () => {
    const empty = registry.get('EmptyLatentImage')!;
    await assert.rejects(Promise.resolve().then(() => empty.run({ width: 500, height: 512, batch_size: 1 }, fakeCtx())), /width: 500 is not a multiple of 8.*try 504/);
    await assert.rejects(Promise.resolve().then(() => empty.run({ width: 512, height: 16392, batch_size: 1 }, fakeCtx())), /height: expected an integer in \[16, 16384\]/);
  });

  it('LatentFromBatch slices and records the original batch indices', () => {
    const out = latentFromBatch({ samples: batch(4) }, 1, 2);
    assert.deepEqual(Array.from(out.samples.data), [1, 2]);
    assert.deepEqual(out.batch_index, [1, 2]);
    // Clamped like ComfyUI: index past the end takes the last item, length is cut.
    const last = latentFromBatch({ samples: batch(4) }, 9, 5);
    assert.deepEqual(Array.from(last.samples.data), [3]);
    assert.deepEqual(last.batch_index, [3]);
    // A latent that already has batch_index keeps its recorded indices.
    assert.deepEqual(latentFromBatch({ samples: batch(3), batch_index: [7, 8, 9] }, 1, 1).batch_index, [8]);
  });

  it('LatentFromBatch repeats a short mask batch before slicing', () => {
    // 3 masks for 4 latents → [m0, m1, m2, m0]; item 3 gets m0.
    const masks = tensor([3, 1, 1, 1], Float32Array.from([0.1, 0.2, 0.3]));
    const out = latentFromBatch({ samples: batch(4), noise_mask: masks }, 3, 1);
    assert.deepEqual(Array.from(out.noise_mask!.data), [Math.fround(0.1)]);
  });

  it('RepeatLatentBatch tiles samples and offsets batch_index per copy', () => {
    const out = repeatLatentBatch({ samples: batch(2), batch_index: [4, 5] }, 3);
    assert.deepEqual(Array.from(out.samples.data), [0, 1, 0, 1, 0, 1]);
    assert.deepEqual(out.batch_index, [4, 5, 6, 7, 8, 9]);
    assert.equal(repeatLatentBatch({ samples: batch(1) }, 2).batch_index, undefined);
  });

  it('SetLatentNoiseMask reshapes the mask to [B, 1, H, W]', () => {
    const out = setLatentNoiseMask({ samples: batch(1) }, tensor([2, 3], new Float32Array(6).fill(1)));
    assert.deepEqual(out.noise_mask!.shape, [1, 1, 2, 3]);
    assert.throws(() => setLatentNoiseMask({ samples: batch(1) }, 5 as never), /mask: expected a MASK tensor/);
  });

  it('nodes name a non-latent input', async () => {
    await assert.rejects(
      Promise.resolve().then(() => registry.get('RepeatLatentBatch')!.run({ samples: 3, amount: 2 }, fakeCtx())),
      /RepeatLatentBatch input 'samples': expected a LATENT/,
    );
  });
});

describe('ImagePadForOutpaint', () => {
  it('pads with 0.5 and builds the feathered mask', () => {
    const image = tensor([1, 6, 6, 1], new Float32Array(36).fill(1));
    const [out, mask] = padForOutpaint(image, 2, 0, 0, 0, 2);
    assert.deepEqual(out.shape, [1, 6, 8, 1]);
    assert.deepEqual(Array.from(out.data.subarray(0, 8)), [0.5, 0.5, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual(mask.shape, [1, 6, 8]);
    assert.deepEqual(Array.from(mask.data.subarray(0, 8)), [1, 1, 1, 0.25, 0, 0, 0, 0]);
  });

  it('skips feathering when the image is too small for it', () => {
    const [, mask] = padForOutpaint(tensor([1, 2, 2, 3], new Float32Array(12)), 0, 1, 0, 0, 40);
    assert.deepEqual(Array.from(mask.data), [1, 1, 0, 0, 0, 0]);
  });
});
