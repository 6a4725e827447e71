// Image-to-image and inpainting graphs: LoadImage → VAE Encode → KSampler → VAE Decode → Save,
// the 9-channel inpainting U-Net fed by VAEEncodeForInpaint / InpaintModelConditioning, and
// SetLatentNoiseMask keeping the unmasked latent.
import assert from 'node:assert/strict';
import type { Latent } from '../../../src/inference/tensor';
import type { Progress } from '../../../src/workflow/events';
import type { ApiPrompt } from '../../../src/workflow/types';
import { addModel, captureNode, distinctValues, failure, makeWorkspace, Pipeline, pixelsOf, watchComponents, writeInputPng } from './harness';

const SIZE = 64;

/** Loader, prompts and the decode/save tail shared by these graphs. */
function base(ckpt: string): ApiPrompt {
  return {
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: `${ckpt}.safetensors` } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a stone bridge over a river', clip: ['4', 1] } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: 'blurry', clip: ['4', 1] } },
    '10': { class_type: 'LoadImage', inputs: { image: 'in.png' } },
    '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
    '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'img2img', images: ['8', 0] } },
  };
}

function ksampler(latent: [string, number], denoise: number, steps = 4, pos: [string, number] = ['6', 0], neg: [string, number] = ['7', 0]) {
  return {
    class_type: 'KSampler',
    inputs: { seed: 42, steps, cfg: 7, sampler_name: 'euler', scheduler: 'normal', denoise, model: ['4', 0], positive: pos, negative: neg, latent_image: latent },
  } as ApiPrompt[string];
}

function img2img(ckpt: string): ApiPrompt {
  return {
    ...base(ckpt),
    '11': { class_type: 'VAEEncode', inputs: { pixels: ['10', 0], vae: ['4', 2] } },
    '3': ksampler(['11', 0], 0.5),
  };
}

describe('pipeline: img2img and inpainting', function () {
  this.timeout(30000);
  let ws: ReturnType<typeof makeWorkspace>;
  const captured = new Map<string, unknown>();
  let pipe: Pipeline;

  before(async () => {
    ws = makeWorkspace();
    addModel(ws.base, 'tiny', 'fp16');
    addModel(ws.base, 'tiny-lp', 'latent-parameters');
    addModel(ws.base, 'tiny-inpaint', 'inpaint');
    await writeInputPng(ws.base, 'in.png', SIZE, (x, y) => [x * 4, y * 4, (x * y) % 256]);
    // Red channel = mask: x < 28 is repainted, the rest kept. Latent column 3 samples pixel 27.5,
    // right on the edge, so the resized mask is 0.5 there (ComfyUI rounds it half-to-even: 0).
    await writeInputPng(ws.base, 'mask.png', SIZE, (x) => [x < 28 ? 255 : 0, 0, 0]);
    pipe = new Pipeline(ws.base, { extraNodes: [captureNode('LATENT', (v, id) => captured.set(id, v))] });
  });
  after(async () => {
    await pipe.dispose();
    ws.remove();
  });

  it('runs LoadImage → VAEEncode → KSampler (denoise 0.5) → VAEDecode → SaveImage', async () => {
    const w = await watchComponents(() => pipe.run(img2img('tiny')));
    const r = w.result;
    assert.equal(r.outcome.status, 'success', failure(r));
    assert.equal(w.runs.vae_encoder, 1);
    // ComfyUI runs `steps` steps of a schedule stretched to steps/denoise.
    const progress = r.events.filter((e): e is Progress => e.type === 'progress');
    assert.deepEqual(progress.map((p) => p.data.value), [1, 2, 3, 4]);
    const px = await pixelsOf(pipe.savedFiles(r.outcome)[0]);
    assert.deepEqual([px.width, px.height], [SIZE, SIZE]);
    assert.ok(distinctValues(px.data) > 16);
  });

  it('re-runs LoadImage and everything after it when the input file changes', async () => {
    const first = await pipe.run(img2img('tiny'));
    assert.equal(first.outcome.status, 'success', failure(first));
    await writeInputPng(ws.base, 'in.png', SIZE, (x, y) => [255 - x * 4, 128, y * 4]);
    const second = await pipe.run(img2img('tiny'));
    assert.equal(second.outcome.status, 'success', failure(second));
    assert.deepEqual([...second.outcome.ran].sort(), ['10', '11', '3', '8', '9'].sort());
    assert.ok(second.outcome.cached.includes('6') && second.outcome.cached.includes('4'));
  });

  it('encodes with a latent_parameters VAE encoder (mean of 8 channels)', async () => {
    const prompt = img2img('tiny-lp');
    prompt['12'] = { class_type: 'TestCaptureLATENT', inputs: { value: ['11', 0] } };
    const r = await pipe.run(prompt);
    assert.equal(r.outcome.status, 'success', failure(r));
    const latent = captured.get('12') as Latent;
    assert.deepEqual(latent.samples.shape, [1, 4, SIZE / 8, SIZE / 8]);
    assert.ok(distinctValues(latent.samples.data) > 100, 'the encoder output is not constant');
    assert.ok(distinctValues((await pixelsOf(pipe.savedFiles(r.outcome)[0])).data) > 16);
  });

  it('feeds a 9-channel inpainting U-Net from VAEEncodeForInpaint', async () => {
    const prompt: ApiPrompt = {
      ...base('tiny-inpaint'),
      '12': { class_type: 'LoadImageMask', inputs: { image: 'mask.png', channel: 'red' } },
      '11': { class_type: 'VAEEncodeForInpaint', inputs: { pixels: ['10', 0], vae: ['4', 2], mask: ['12', 0], grow_mask_by: 6 } },
      '3': ksampler(['11', 0], 1, 3),
    };
    const w = await watchComponents(() => pipe.run(prompt));
    assert.equal(w.result.outcome.status, 'success', failure(w.result));
    assert.deepEqual(w.unetSampleShapes, [[2, 9, 8, 8], [2, 9, 8, 8], [2, 9, 8, 8]]);
    // Channel 4 is the mask: the grown left half is 1, the far right 0.
    const maskPlane = w.unetSamples[0].subarray(4 * 64, 5 * 64);
    assert.equal(maskPlane[0], 1, 'top-left latent pixel is masked');
    assert.equal(maskPlane[7], 0, 'top-right latent pixel is kept');
  });

  it('feeds a 9-channel inpainting U-Net from InpaintModelConditioning', async () => {
    const prompt: ApiPrompt = {
      ...base('tiny-inpaint'),
      '12': { class_type: 'LoadImageMask', inputs: { image: 'mask.png', channel: 'red' } },
      '11': {
        class_type: 'InpaintModelConditioning',
        inputs: { positive: ['6', 0], negative: ['7', 0], vae: ['4', 2], pixels: ['10', 0], mask: ['12', 0], noise_mask: true },
      },
      '3': ksampler(['11', 2], 1, 3, ['11', 0], ['11', 1]),
    };
    const w = await watchComponents(() => pipe.run(prompt));
    assert.equal(w.result.outcome.status, 'success', failure(w.result));
    assert.equal(w.runs.vae_encoder, 2, 'the masked image and the original are both encoded');
    assert.deepEqual(w.unetSampleShapes[0], [2, 9, 8, 8]);
    const s = w.unetSamples[0];
    const maskPlane = s.subarray(4 * 64, 5 * 64);
    assert.deepEqual([...maskPlane.subarray(0, 8)], [1, 1, 1, 0, 0, 0, 0, 0], 'a binary mask, the 0.5 edge rounded to even');
    assert.ok(maskPlane.every((v) => v === 0 || v === 1));
    // Channels 5..8 are the masked image's latent (scaled), not zeros.
    assert.ok(distinctValues(s.subarray(5 * 64, 9 * 64)) > 50);
  });

  it('gives an inpainting U-Net a full mask and ComfyUI\'s blank image when the graph has no mask', async () => {
    const prompt: ApiPrompt = {
      ...base('tiny-inpaint'),
      '5': { class_type: 'EmptyLatentImage', inputs: { width: SIZE, height: SIZE, batch_size: 1 } },
      '3': ksampler(['5', 0], 1, 2),
    };
    delete prompt['10'];
    const w = await watchComponents(() => pipe.run(prompt));
    assert.equal(w.result.outcome.status, 'success', failure(w.result));
    const s = w.unetSamples[0];
    assert.ok(s.subarray(4 * 64, 5 * 64).every((v) => v === 1));
    const blank = [0.8223, -0.6876, 0.6364, 0.138];
    for (let k = 0; k < 4; k++) {
      const ch = s.subarray((5 + k) * 64, (6 + k) * 64);
      assert.ok(ch.every((v) => Math.abs(v - blank[k]) < 1e-6), `channel ${5 + k} is ${ch[0]}, expected ${blank[k]}`);
    }
  });

  it('SetLatentNoiseMask keeps the unmasked latent values and repaints the masked ones', async () => {
    const prompt: ApiPrompt = {
      ...base('tiny'),
      '11': { class_type: 'VAEEncode', inputs: { pixels: ['10', 0], vae: ['4', 2] } },
      '12': { class_type: 'LoadImageMask', inputs: { image: 'mask.png', channel: 'red' } },
      '13': { class_type: 'SetLatentNoiseMask', inputs: { samples: ['11', 0], mask: ['12', 0] } },
      '3': ksampler(['13', 0], 1, 3),
      '20': { class_type: 'TestCaptureLATENT', inputs: { value: ['11', 0] } },
      '21': { class_type: 'TestCaptureLATENT', inputs: { value: ['3', 0] } },
    };
    const r = await pipe.run(prompt);
    assert.equal(r.outcome.status, 'success', failure(r));
    const before = (captured.get('20') as Latent).samples;
    const after = captured.get('21') as Latent;
    assert.ok(after.noise_mask, 'the noise mask travels with the latent');
    let keptErr = 0;
    let changed = 0;
    for (let c = 0; c < 4; c++) {
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 8; x++) {
          const i = (c * 8 + y) * 8 + x;
          const d = Math.abs(after.samples.data[i] - before.data[i]);
          if (x >= 4) keptErr = Math.max(keptErr, d);
          else changed += d;
        }
      }
    }
    assert.ok(keptErr < 1e-3, `unmasked latent moved by ${keptErr}`);
    assert.ok(changed / (4 * 8 * 4) > 0.05, `masked latent barely changed (${changed / 128})`);
  });
});
