// ConditioningSetArea end to end on a generated tiny model: one euler step returns the x0
// prediction, so an area prompt may change the latent only inside its area (the U-Net runs on the
// crop), and the U-Net sees one full-size batch and one crop-size batch per step.
import assert from 'node:assert/strict';
import type { Latent } from '../../../src/inference/tensor';
import type { ApiPrompt } from '../../../src/workflow/types';
import { addModel, captureNode, failure, makeWorkspace, Pipeline, watchComponents } from './harness';

function graph(positive: [string, number], extra: ApiPrompt = {}): ApiPrompt {
  return {
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'tiny.safetensors' } },
    '5': { class_type: 'EmptyLatentImage', inputs: { width: 128, height: 128, batch_size: 1 } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a lighthouse at dusk', clip: ['4', 1] } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: 'text, watermark', clip: ['4', 1] } },
    '3': {
      class_type: 'KSampler',
      inputs: { seed: 3, steps: 1, cfg: 6, sampler_name: 'euler', scheduler: 'normal', denoise: 1, model: ['4', 0], positive, negative: ['7', 0], latent_image: ['5', 0] },
    },
    '20': { class_type: 'TestCaptureLATENT', inputs: { value: ['3', 0] } },
    ...extra,
  };
}

describe('pipeline: ConditioningSetArea', function () {
  this.timeout(30000);
  let ws: ReturnType<typeof makeWorkspace>;
  let pipe: Pipeline;
  const captured = new Map<string, Latent>();

  before(() => {
    ws = makeWorkspace();
    addModel(ws.base, 'tiny', 'fp16');
    pipe = new Pipeline(ws.base, { extraNodes: [captureNode('LATENT', (v, id) => captured.set(id, v as Latent))] });
  });
  after(async () => {
    await pipe.dispose();
    ws.remove();
  });

  it('an area prompt combined with the global one changes only the area, via a crop-size U-Net run', async () => {
    const base = await pipe.run(graph(['6', 0]));
    assert.equal(base.outcome.status, 'success', failure(base));
    const plain = captured.get('20')!.samples.data;

    const watched = await watchComponents(() => pipe.run(graph(['11', 0], {
      '9': { class_type: 'CLIPTextEncode', inputs: { text: 'a red boat', clip: ['4', 1] } },
      '10': { class_type: 'ConditioningSetArea', inputs: { conditioning: ['9', 0], width: 64, height: 128, x: 64, y: 0, strength: 1 } },
      '11': { class_type: 'ConditioningCombine', inputs: { conditioning_1: ['6', 0], conditioning_2: ['10', 0] } },
    })));
    assert.equal(watched.result.outcome.status, 'success', failure(watched.result));
    // Full latent: positive + negative; the 16×8 crop: the area prompt + the negative's equal-area copy.
    assert.deepEqual(watched.unetSampleShapes, [[2, 4, 16, 16], [2, 4, 16, 8]]);
    const area = captured.get('20')!.samples.data;
    let outside = 0;
    let inside = 0;
    for (let i = 0; i < area.length; i++) {
      const d = Math.abs(area[i] - plain[i]);
      if (i % 16 < 8) outside = Math.max(outside, d);
      else inside = Math.max(inside, d);
    }
    assert.ok(outside < 1e-5, `left half (outside the area) changed by ${outside}`);
    assert.ok(inside > 1e-3, `right half (the area) changed by only ${inside}`);
  });
});
