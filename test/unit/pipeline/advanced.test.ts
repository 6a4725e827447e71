// Conditioning and sampler nodes beyond the default graph, checked against each other: clip skip,
// ConditioningCombine batching, KSamplerAdvanced in two stages and SamplerCustom must agree with
// one plain KSampler where ComfyUI's maths says they are the same computation.
import assert from 'node:assert/strict';
import type { Conditioning } from '../../../src/inference/nodes/modelTypes';
import type { Latent } from '../../../src/inference/tensor';
import type { Progress } from '../../../src/workflow/events';
import type { ApiPrompt } from '../../../src/workflow/types';
import { addModel, captureNode, failure, makeWorkspace, Pipeline, watchComponents } from './harness';

type Link = [string, number];
const SEED = 7;

function graph(extra: ApiPrompt): ApiPrompt {
  return {
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'tiny.safetensors' } },
    '5': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a lighthouse at dusk', clip: ['4', 1] } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: 'text, watermark', clip: ['4', 1] } },
    ...extra,
  };
}

function ksampler(steps: number, latent: Link = ['5', 0], positive: Link = ['6', 0]): ApiPrompt[string] {
  return {
    class_type: 'KSampler',
    inputs: { seed: SEED, steps, cfg: 6, sampler_name: 'euler', scheduler: 'normal', denoise: 1, model: ['4', 0], positive, negative: ['7', 0], latent_image: latent },
  };
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe('pipeline: conditioning and advanced sampling', function () {
  this.timeout(30000);
  let ws: ReturnType<typeof makeWorkspace>;
  let pipe: Pipeline;
  const captured = new Map<string, unknown>();

  before(() => {
    ws = makeWorkspace();
    addModel(ws.base, 'tiny', 'fp16');
    pipe = new Pipeline(ws.base, {
      extraNodes: [captureNode('LATENT', (v, id) => captured.set(id, v)), captureNode('CONDITIONING', (v, id) => captured.set(id, v))],
    });
  });
  after(async () => {
    await pipe.dispose();
    ws.remove();
  });

  it('CLIPSetLastLayer -2 changes the conditioning; -1 matches the plain encoder', async () => {
    const r = await pipe.run(graph({
      '10': { class_type: 'CLIPSetLastLayer', inputs: { clip: ['4', 1], stop_at_clip_layer: -1 } },
      '11': { class_type: 'CLIPSetLastLayer', inputs: { clip: ['4', 1], stop_at_clip_layer: -2 } },
      '12': { class_type: 'CLIPTextEncode', inputs: { text: 'a lighthouse at dusk', clip: ['10', 0] } },
      '13': { class_type: 'CLIPTextEncode', inputs: { text: 'a lighthouse at dusk', clip: ['11', 0] } },
      '20': { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['6', 0] } },
      '21': { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['12', 0] } },
      '22': { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['13', 0] } },
    }));
    assert.equal(r.outcome.status, 'success', failure(r));
    const [plain, last, skip] = ['20', '21', '22'].map((id) => (captured.get(id) as Conditioning)[0][0]);
    assert.deepEqual(skip.shape, plain.shape);
    assert.deepEqual(plain.shape, [1, 77, 768]);
    assert.equal(maxDiff(plain.data, last.data), 0);
    assert.ok(maxDiff(plain.data, skip.data) > 1e-3, 'clip skip reads another hidden layer');
  });

  it('ConditioningCombine puts both entries in the U-Net batch', async () => {
    const prompt = graph({
      '10': { class_type: 'CLIPTextEncode', inputs: { text: 'stormy sea', clip: ['4', 1] } },
      '11': { class_type: 'ConditioningCombine', inputs: { conditioning_1: ['6', 0], conditioning_2: ['10', 0] } },
      '3': ksampler(2, ['5', 0], ['11', 0]),
      '20': { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['11', 0] } },
      '21': { class_type: 'TestCaptureLATENT', inputs: { value: ['3', 0] } },
    });
    const w = await watchComponents(() => pipe.run(prompt));
    assert.equal(w.result.outcome.status, 'success', failure(w.result));
    assert.equal((captured.get('20') as Conditioning).length, 2);
    // Two positive rows plus one negative per step.
    assert.deepEqual(w.unetSampleShapes, [[3, 4, 8, 8], [3, 4, 8, 8]]);
    assert.ok((captured.get('21') as Latent).samples.data.some((v) => v !== 0));
  });

  it('KSamplerAdvanced in two stages (leftover noise, then start at 2) equals one 4-step KSampler', async () => {
    const adv = (inputs: Record<string, unknown>): ApiPrompt[string] => ({
      class_type: 'KSamplerAdvanced',
      inputs: {
        noise_seed: SEED, steps: 4, cfg: 6, sampler_name: 'euler', scheduler: 'normal', model: ['4', 0], positive: ['6', 0], negative: ['7', 0],
        ...inputs,
      } as ApiPrompt[string]['inputs'],
    });
    const r = await pipe.run(graph({
      '3': ksampler(4),
      '30': adv({ add_noise: 'enable', start_at_step: 0, end_at_step: 2, return_with_leftover_noise: 'enable', latent_image: ['5', 0] }),
      '31': adv({ add_noise: 'disable', start_at_step: 2, end_at_step: 10000, return_with_leftover_noise: 'disable', latent_image: ['30', 0] }),
      '20': { class_type: 'TestCaptureLATENT', inputs: { value: ['3', 0] } },
      '21': { class_type: 'TestCaptureLATENT', inputs: { value: ['31', 0] } },
      '22': { class_type: 'TestCaptureLATENT', inputs: { value: ['30', 0] } },
    }));
    assert.equal(r.outcome.status, 'success', failure(r));
    const steps = (node: string) => r.events.filter((e): e is Progress => e.type === 'progress' && e.data.node === node).map((e) => `${e.data.value}/${e.data.max}`);
    assert.deepEqual(steps('30'), ['1/2', '2/2']);
    assert.deepEqual(steps('31'), ['1/2', '2/2']);
    const single = (captured.get('20') as Latent).samples.data;
    const twoStage = (captured.get('21') as Latent).samples.data;
    const half = (captured.get('22') as Latent).samples.data;
    assert.ok(maxDiff(single, twoStage) < 1e-4, `two-stage differs by ${maxDiff(single, twoStage)}`);
    assert.ok(maxDiff(single, half) > 0.1, 'the first stage returns a still-noisy latent');
  });

  it('SamplerCustom + KSamplerSelect + BasicScheduler equals KSampler with the same settings', async () => {
    const r = await pipe.run(graph({
      '3': ksampler(3),
      '40': { class_type: 'KSamplerSelect', inputs: { sampler_name: 'euler' } },
      '41': { class_type: 'BasicScheduler', inputs: { model: ['4', 0], scheduler: 'normal', steps: 3, denoise: 1 } },
      '42': {
        class_type: 'SamplerCustom',
        inputs: {
          model: ['4', 0], add_noise: true, noise_seed: SEED, cfg: 6, positive: ['6', 0], negative: ['7', 0],
          sampler: ['40', 0], sigmas: ['41', 0], latent_image: ['5', 0],
        },
      },
      '20': { class_type: 'TestCaptureLATENT', inputs: { value: ['3', 0] } },
      '21': { class_type: 'TestCaptureLATENT', inputs: { value: ['42', 0] } },
      '22': { class_type: 'TestCaptureLATENT', inputs: { value: ['42', 1] } },
    }));
    assert.equal(r.outcome.status, 'success', failure(r));
    assert.equal(r.events.filter((e) => e.type === 'progress' && e.data.node === '42').length, 3);
    const a = (captured.get('20') as Latent).samples.data;
    const b = (captured.get('21') as Latent).samples.data;
    assert.ok(maxDiff(a, b) < 1e-5, `SamplerCustom differs by ${maxDiff(a, b)}`);
    // The denoised output of the last euler step is the final sample itself (sigma → 0).
    assert.ok(maxDiff(b, (captured.get('22') as Latent).samples.data) < 1e-4);
  });
});
