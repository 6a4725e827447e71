// Load VAE, Load CLIP and Load Diffusion Model on standalone `.safetensors` files (the parts of one
// small SD1.5-layout checkpoint, saved under ComfyUI's folder names the way single-part files are
// published): converted through the cache like checkpoints, they must give exactly the latent
// that Load Checkpoint gives for the whole file. Plus clip skip on converted encoders.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { ConversionCache } from '../../../src/inference/checkpoint/conversionCache';
import type { Conditioning } from '../../../src/inference/nodes/modelTypes';
import { SafetensorsFile } from '../../../src/inference/safetensors/read';
import { writeSafetensors } from '../../../src/inference/safetensors/write';
import type { Latent } from '../../../src/inference/tensor';
import type { ApiPrompt } from '../../../src/workflow/types';
import { writeRuleCheckpoint } from '../../../tools/refgen/generate';
import { SD15_SMALL } from '../../../tools/refgen/layout';
import { captureNode, failure, makeWorkspace, Pipeline } from '../pipeline/harness';

/** Copies the tensors under `prefix` into `out` with the prefix removed. */
async function extract(from: string, prefix: string, out: string): Promise<void> {
  mkdirSync(path.dirname(out), { recursive: true });
  const st = await SafetensorsFile.open(from);
  try {
    const parts = [...st.tensors.values()].filter((t) => t.name.startsWith(prefix));
    await writeSafetensors(out, await Promise.all(parts.map(async (t) => ({ name: t.name.slice(prefix.length), dtype: t.dtype, shape: t.shape, data: await st.readRaw(t.name) }))));
  } finally {
    await st.close();
  }
}

function sampler(model: [string, number], positive: [string, number], negative: [string, number]): ApiPrompt[string] {
  return {
    class_type: 'KSampler',
    inputs: { seed: 5, steps: 2, cfg: 6, sampler_name: 'euler', scheduler: 'normal', denoise: 1, model, positive, negative, latent_image: ['5', 0] },
  };
}

describe('standalone .safetensors loaders', function () {
  this.timeout(120_000);
  let ws: ReturnType<typeof makeWorkspace>;
  let pipe: Pipeline;
  const captured = new Map<string, unknown>();

  before(async () => {
    ws = makeWorkspace('marble-standalone-');
    const models = path.join(ws.base, 'models');
    const ckpt = path.join(models, 'checkpoints', 'small.safetensors');
    mkdirSync(path.dirname(ckpt), { recursive: true });
    await writeRuleCheckpoint(ckpt, SD15_SMALL, 3);
    await extract(ckpt, 'first_stage_model.', path.join(models, 'vae', 'small-vae.safetensors'));
    await extract(ckpt, 'cond_stage_model.transformer.', path.join(models, 'text_encoders', 'small-clip.safetensors'));
    // The legacy folder name: ComfyUI searches unet/ for Load Diffusion Model too.
    await extract(ckpt, 'model.diffusion_model.', path.join(models, 'unet', 'small-unet.safetensors'));
    pipe = new Pipeline(ws.base, { extraNodes: [captureNode('LATENT', (v, id) => captured.set(id, v)), captureNode('CONDITIONING', (v, id) => captured.set(id, v))] });
    pipe.cfg.conversionCacheDir = path.join(ws.base, 'cache');
  });
  after(async () => {
    await pipe?.dispose();
    ws?.remove();
  });

  it('VAELoader, CLIPLoader and UNETLoader on the parts give the latent and image of the whole checkpoint', async () => {
    const info = await pipe.objectInfo();
    assert.deepEqual(info.CLIPLoader.input.required!.clip_name[0], ['small-clip.safetensors']);
    assert.deepEqual(info.UNETLoader.input.required!.unet_name[0], ['small-unet.safetensors']);
    assert.equal(info.UNETLoader.display_name, 'Load Diffusion Model');
    const r = await pipe.run({
      '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'small.safetensors' } },
      '5': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } },
      '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a red boat', clip: ['4', 1] } },
      '7': { class_type: 'CLIPTextEncode', inputs: { text: 'fog', clip: ['4', 1] } },
      '3': sampler(['4', 0], ['6', 0], ['7', 0]),
      '10': { class_type: 'UNETLoader', inputs: { unet_name: 'small-unet.safetensors', weight_dtype: 'default' } },
      '11': { class_type: 'CLIPLoader', inputs: { clip_name: 'small-clip.safetensors', type: 'stable_diffusion' } },
      '12': { class_type: 'VAELoader', inputs: { vae_name: 'small-vae.safetensors' } },
      '13': { class_type: 'CLIPTextEncode', inputs: { text: 'a red boat', clip: ['11', 0] } },
      '14': { class_type: 'CLIPTextEncode', inputs: { text: 'fog', clip: ['11', 0] } },
      '15': sampler(['10', 0], ['13', 0], ['14', 0]),
      '16': { class_type: 'VAEEncode', inputs: { pixels: ['17', 0], vae: ['12', 0] } },
      '17': { class_type: 'VAEDecode', inputs: { samples: ['15', 0], vae: ['12', 0] } },
      '18': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
      '19': { class_type: 'VAEEncode', inputs: { pixels: ['18', 0], vae: ['4', 2] } },
      '20': { class_type: 'TestCaptureLATENT', inputs: { value: ['3', 0] } },
      '21': { class_type: 'TestCaptureLATENT', inputs: { value: ['15', 0] } },
      '22': { class_type: 'TestCaptureLATENT', inputs: { value: ['16', 0] } },
      '23': { class_type: 'TestCaptureLATENT', inputs: { value: ['19', 0] } },
    });
    assert.equal(r.outcome.status, 'success', failure(r));
    const [whole, parts, partsRoundTrip, wholeRoundTrip] = ['20', '21', '22', '23'].map((id) => (captured.get(id) as Latent).samples);
    assert.deepEqual(parts.shape, [1, 4, 8, 8]);
    assert.deepEqual([...parts.data], [...whole.data], 'U-Net and CLIP from their own files sample exactly what the checkpoint samples');
    assert.deepEqual([...partsRoundTrip.data], [...wholeRoundTrip.data], 'the VAE from its own file decodes and encodes as the checkpoint VAE');
    const roles = (await new ConversionCache(pipe.cfg.conversionCacheDir!).info()).entries.map((e) => e.variant?.role).sort();
    assert.deepEqual(roles, ['checkpoint', 'clip', 'unet', 'vae']);
  });

  it('CLIPSetLastLayer on a converted encoder: -1 is the plain encoder, -2 differs, beyond the layer count is the last layer', async () => {
    const r = await pipe.run({
      '11': { class_type: 'CLIPLoader', inputs: { clip_name: 'small-clip.safetensors', type: 'stable_diffusion' } },
      '30': { class_type: 'CLIPSetLastLayer', inputs: { clip: ['11', 0], stop_at_clip_layer: -1 } },
      '31': { class_type: 'CLIPSetLastLayer', inputs: { clip: ['11', 0], stop_at_clip_layer: -2 } },
      '32': { class_type: 'CLIPSetLastLayer', inputs: { clip: ['11', 0], stop_at_clip_layer: -24 } },
      '13': { class_type: 'CLIPTextEncode', inputs: { text: 'a red boat', clip: ['11', 0] } },
      '33': { class_type: 'CLIPTextEncode', inputs: { text: 'a red boat', clip: ['30', 0] } },
      '34': { class_type: 'CLIPTextEncode', inputs: { text: 'a red boat', clip: ['31', 0] } },
      '35': { class_type: 'CLIPTextEncode', inputs: { text: 'a red boat', clip: ['32', 0] } },
      '40': { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['13', 0] } },
      '41': { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['33', 0] } },
      '42': { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['34', 0] } },
      '43': { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['35', 0] } },
    });
    assert.equal(r.outcome.status, 'success', failure(r));
    const [plain, last, skip, beyond] = ['40', '41', '42', '43'].map((id) => (captured.get(id) as Conditioning)[0][0].data);
    assert.deepEqual([...last], [...plain]);
    assert.deepEqual([...beyond], [...plain]);
    let d = 0;
    for (let i = 0; i < plain.length; i++) d = Math.max(d, Math.abs(plain[i] - skip[i]));
    assert.ok(d > 1e-3, `clip skip reads another layer (max diff ${d})`);
  });

  it('CLIPLoader refuses other text encoder types, naming the input', async () => {
    const r = await pipe.run({
      '11': { class_type: 'CLIPLoader', inputs: { clip_name: 'small-clip.safetensors', type: 'sd3' } },
      '13': { class_type: 'CLIPTextEncode', inputs: { text: 'x', clip: ['11', 0] } },
      '40': { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['13', 0] } },
    });
    assert.equal(r.outcome.status, 'error');
    const err = r.events.find((e) => e.type === 'execution_error');
    assert.match(JSON.stringify(err), /input 'type': 'sd3' text encoders are not supported yet/);
  });
});
