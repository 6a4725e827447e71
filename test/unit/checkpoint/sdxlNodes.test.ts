// SDXL's nodes on small SDXL-layout checkpoints (generated in ComfyUI's full key layout): the SDXL
// CLIP of Load Checkpoint and of DualCLIPLoader agree, CLIPTextEncodeSDXL/…Refiner carry ComfyUI's
// size conditioning and it reaches the U-Net (CLIPTextEncode's defaults are the latent's size and
// the refiner's aesthetic 6/2.5), a hires-fix second pass runs, and bad pairs fail in one line.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { detectCheckpoint } from '../../../src/inference/checkpoint/detect';
import type { Conditioning, SdModel } from '../../../src/inference/nodes/modelTypes';
import { sdxlAdm } from '../../../src/inference/nodes/sampling';
import { SafetensorsFile } from '../../../src/inference/safetensors/read';
import { writeSafetensors } from '../../../src/inference/safetensors/write';
import type { Latent } from '../../../src/inference/tensor';
import type { ApiPrompt } from '../../../src/workflow/types';
import { writeRuleEntries } from '../../../tools/refgen/generate';
import { SDXL_BASE_SMALL, SDXL_REFINER_SMALL, sdxlCheckpointTensors } from '../../../tools/refgen/sdxlLayout';
import { captureNode, failure, makeWorkspace, Pipeline } from '../pipeline/harness';

/** One detected text encoder of `ckpt` saved as a standalone HF-named file (as clip_l/clip_g.safetensors are published). */
async function saveEncoder(ckpt: string, which: 'clip' | 'clipG', out: string): Promise<void> {
  mkdirSync(path.dirname(out), { recursive: true });
  const st = await SafetensorsFile.open(ckpt);
  try {
    const w = detectCheckpoint(st)[which]!.weights;
    const tensors = await Promise.all(w.names().map(async (n) => ({ name: n, dtype: 'F32' as const, shape: w.shape(n), data: new Uint8Array((await w.float32(n)).buffer) })));
    await writeSafetensors(out, tensors);
  } finally {
    await st.close();
  }
}

/** The tensors under `prefix` as their own file, the prefix removed (a standalone U-Net or VAE). */
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

const sampler = (model: [string, number], positive: [string, number], negative: [string, number], latent: [string, number] = ['5', 0], denoise = 1): ApiPrompt[string] => ({
  class_type: 'KSampler',
  inputs: { seed: 9, steps: 2, cfg: 5, sampler_name: 'euler', scheduler: 'normal', denoise, model, positive, negative, latent_image: latent },
});
const sdxlEncode = (clip: [string, number], text_g: string, text_l: string, size: number, target = size, crop = 0): ApiPrompt[string] => ({
  class_type: 'CLIPTextEncodeSDXL',
  inputs: { clip, width: size, height: size, crop_w: crop, crop_h: crop, target_width: target, target_height: target, text_g, text_l },
});

describe('SDXL nodes on small SDXL-layout checkpoints', function () {
  this.timeout(300_000);
  let ws: ReturnType<typeof makeWorkspace>;
  let pipe: Pipeline;
  const captured = new Map<string, unknown>();
  const cond = (id: string) => captured.get(id) as Conditioning;
  const latent = (id: string) => (captured.get(id) as Latent).samples;
  const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => v === b[i]);

  before(async () => {
    ws = makeWorkspace('marble-sdxl-nodes-');
    const models = path.join(ws.base, 'models');
    const base = path.join(models, 'checkpoints', 'xl.safetensors');
    mkdirSync(path.dirname(base), { recursive: true });
    await writeRuleEntries(base, sdxlCheckpointTensors(SDXL_BASE_SMALL), 11);
    await writeRuleEntries(path.join(models, 'checkpoints', 'xl-refiner.safetensors'), sdxlCheckpointTensors(SDXL_REFINER_SMALL), 12);
    await saveEncoder(base, 'clip', path.join(models, 'text_encoders', 'clip_l.safetensors'));
    await saveEncoder(base, 'clipG', path.join(models, 'text_encoders', 'clip_g.safetensors'));
    await extract(base, 'model.diffusion_model.', path.join(models, 'diffusion_models', 'xl-unet.safetensors'));
    await extract(base, 'first_stage_model.', path.join(models, 'vae', 'xl-vae.safetensors'));
    pipe = new Pipeline(ws.base, { extraNodes: [captureNode('LATENT', (v, id) => captured.set(id, v)), captureNode('CONDITIONING', (v, id) => captured.set(id, v))] });
    pipe.cfg.conversionCacheDir = path.join(ws.base, 'cache');
  });
  after(async () => {
    await pipe?.dispose();
    ws?.remove();
  });

  it("the checkpoint's SDXL CLIP and DualCLIPLoader (either order) encode alike: L ‖ G features, G's pooled output", async () => {
    const r = await pipe.run({
      '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'xl.safetensors' } },
      '10': { class_type: 'DualCLIPLoader', inputs: { clip_name1: 'clip_l.safetensors', clip_name2: 'clip_g.safetensors', type: 'sdxl' } },
      '11': { class_type: 'DualCLIPLoader', inputs: { clip_name1: 'clip_g.safetensors', clip_name2: 'clip_l.safetensors', type: 'sdxl' } },
      '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a (red:1.2) boat', clip: ['4', 1] } },
      '12': { class_type: 'CLIPTextEncode', inputs: { text: 'a (red:1.2) boat', clip: ['10', 0] } },
      '13': { class_type: 'CLIPTextEncode', inputs: { text: 'a (red:1.2) boat', clip: ['11', 0] } },
      '14': sdxlEncode(['4', 1], 'a (red:1.2) boat', 'a (red:1.2) boat', 1024),
      '15': sdxlEncode(['4', 1], 'a boat', Array(60).fill('red boat').join(' '), 1024),
      '16': { class_type: 'CLIPSetLastLayer', inputs: { clip: ['4', 1], stop_at_clip_layer: -1 } },
      '17': { class_type: 'CLIPTextEncode', inputs: { text: 'a (red:1.2) boat', clip: ['16', 0] } },
      '20': { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['6', 0] } },
      '21': { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['12', 0] } },
      '22': { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['13', 0] } },
      '23': { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['14', 0] } },
      '24': { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['15', 0] } },
      '25': { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['17', 0] } },
    });
    assert.equal(r.outcome.status, 'success', failure(r));
    const [[t, extras]] = cond('20');
    assert.deepEqual(t.shape, [1, 77, 64 + 128]);
    assert.equal(extras.pooled_output!.length, 128);
    for (const id of ['21', '22', '23']) {
      assert.ok(same(cond(id)[0][0].data, t.data), `node ${id}: same features`);
      assert.ok(same(cond(id)[0][1].pooled_output!, extras.pooled_output!), `node ${id}: same pooled output`);
    }
    assert.deepEqual(
      { ...cond('23')[0][1], pooled_output: undefined },
      { pooled_output: undefined, width: 1024, height: 1024, crop_w: 0, crop_h: 0, target_width: 1024, target_height: 1024 },
    );
    // A two-chunk text_l against a one-chunk text_g: G gets an empty-prompt chunk (CLIPTextEncodeSDXL).
    assert.deepEqual(cond('24')[0][0].shape, [1, 154, 192]);
    // CLIPSetLastLayer applies to both encoders: −1 reads another layer than the default −2.
    assert.ok(!same(cond('25')[0][0].data, t.data));
  });

  it('the size conditioning reaches the U-Net; CLIPTextEncode defaults to the latent size, as ComfyUI', async () => {
    const r = await pipe.run({
      '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'xl.safetensors' } },
      '5': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } },
      '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a red boat', clip: ['4', 1] } },
      '7': { class_type: 'CLIPTextEncode', inputs: { text: 'fog', clip: ['4', 1] } },
      '8': sdxlEncode(['4', 1], 'a red boat', 'a red boat', 64),
      '9': sdxlEncode(['4', 1], 'fog', 'fog', 64),
      '10': sdxlEncode(['4', 1], 'a red boat', 'a red boat', 1024),
      '11': sdxlEncode(['4', 1], 'a red boat', 'a red boat', 64, 64, 32),
      '3': sampler(['4', 0], ['6', 0], ['7', 0]),
      '13': sampler(['4', 0], ['8', 0], ['9', 0]),
      '14': sampler(['4', 0], ['10', 0], ['9', 0]),
      '15': sampler(['4', 0], ['11', 0], ['9', 0]),
      // Hires fix: upscale the latent ×1.5 and denoise again at 0.5.
      '16': { class_type: 'LatentUpscaleBy', inputs: { samples: ['3', 0], upscale_method: 'nearest-exact', scale_by: 1.5 } },
      '17': sampler(['4', 0], ['6', 0], ['7', 0], ['16', 0], 0.5),
      '18': { class_type: 'VAEDecode', inputs: { samples: ['17', 0], vae: ['4', 2] } },
      '20': { class_type: 'TestCaptureLATENT', inputs: { value: ['3', 0] } },
      '21': { class_type: 'TestCaptureLATENT', inputs: { value: ['13', 0] } },
      '22': { class_type: 'TestCaptureLATENT', inputs: { value: ['14', 0] } },
      '23': { class_type: 'TestCaptureLATENT', inputs: { value: ['15', 0] } },
      '24': { class_type: 'TestCaptureLATENT', inputs: { value: ['17', 0] } },
    });
    assert.equal(r.outcome.status, 'success', failure(r));
    assert.ok(same(latent('20').data, latent('21').data), 'CLIPTextEncode = CLIPTextEncodeSDXL at the latent size, crop 0');
    assert.ok(!same(latent('20').data, latent('22').data), 'another size changes the result');
    assert.ok(!same(latent('21').data, latent('23').data), 'a crop changes the result');
    assert.deepEqual(latent('24').shape, [1, 4, 12, 12]);
  });

  it("refiner: CLIPTextEncode's aesthetic score is 6 for the positive and 2.5 for the negative", async () => {
    const refine = (ascore: number, text: string): ApiPrompt[string] => ({ class_type: 'CLIPTextEncodeSDXLRefiner', inputs: { ascore, width: 64, height: 64, text, clip: ['4', 1] } });
    const r = await pipe.run({
      '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'xl-refiner.safetensors' } },
      '5': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } },
      '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a red boat', clip: ['4', 1] } },
      '7': { class_type: 'CLIPTextEncode', inputs: { text: 'fog', clip: ['4', 1] } },
      '8': refine(6, 'a red boat'),
      '9': refine(2.5, 'fog'),
      '10': refine(6, 'fog'),
      '3': sampler(['4', 0], ['6', 0], ['7', 0]),
      '13': sampler(['4', 0], ['8', 0], ['9', 0]),
      '14': sampler(['4', 0], ['8', 0], ['10', 0]),
      '19': { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['6', 0] } },
      '11': sdxlEncode(['4', 1], 'a red boat', 'ignored: the refiner has no CLIP-L', 1024),
      '18': { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['11', 0] } },
      '20': { class_type: 'TestCaptureLATENT', inputs: { value: ['3', 0] } },
      '21': { class_type: 'TestCaptureLATENT', inputs: { value: ['13', 0] } },
      '22': { class_type: 'TestCaptureLATENT', inputs: { value: ['14', 0] } },
    });
    assert.equal(r.outcome.status, 'success', failure(r));
    assert.deepEqual(cond('19')[0][0].shape, [1, 77, 128], 'the refiner conditions on OpenCLIP-G alone');
    // CLIPTextEncodeSDXL on the refiner's CLIP encodes text_g alone, as ComfyUI.
    assert.ok(same(cond('18')[0][0].data, cond('19')[0][0].data));
    assert.ok(same(latent('20').data, latent('21').data));
    assert.ok(!same(latent('20').data, latent('22').data));
  });

  it('UNETLoader + DualCLIPLoader + VAELoader on standalone SDXL files sample and decode as the checkpoint', async () => {
    const r = await pipe.run({
      '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'xl.safetensors' } },
      '5': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } },
      '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a red boat', clip: ['4', 1] } },
      '7': { class_type: 'CLIPTextEncode', inputs: { text: 'fog', clip: ['4', 1] } },
      '3': sampler(['4', 0], ['6', 0], ['7', 0]),
      '10': { class_type: 'UNETLoader', inputs: { unet_name: 'xl-unet.safetensors', weight_dtype: 'default' } },
      '11': { class_type: 'DualCLIPLoader', inputs: { clip_name1: 'clip_l.safetensors', clip_name2: 'clip_g.safetensors', type: 'sdxl' } },
      '12': { class_type: 'VAELoader', inputs: { vae_name: 'xl-vae.safetensors' } },
      '13': { class_type: 'CLIPTextEncode', inputs: { text: 'a red boat', clip: ['11', 0] } },
      '14': { class_type: 'CLIPTextEncode', inputs: { text: 'fog', clip: ['11', 0] } },
      '15': sampler(['10', 0], ['13', 0], ['14', 0]),
      '16': { class_type: 'VAEDecode', inputs: { samples: ['15', 0], vae: ['12', 0] } },
      '17': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
      '18': { class_type: 'VAEEncode', inputs: { pixels: ['16', 0], vae: ['12', 0] } },
      '19': { class_type: 'VAEEncode', inputs: { pixels: ['17', 0], vae: ['4', 2] } },
      '20': { class_type: 'TestCaptureLATENT', inputs: { value: ['3', 0] } },
      '21': { class_type: 'TestCaptureLATENT', inputs: { value: ['15', 0] } },
      '22': { class_type: 'TestCaptureLATENT', inputs: { value: ['18', 0] } },
      '23': { class_type: 'TestCaptureLATENT', inputs: { value: ['19', 0] } },
    });
    assert.equal(r.outcome.status, 'success', failure(r));
    assert.ok(same(latent('20').data, latent('21').data), 'the standalone U-Net and encoders sample what the checkpoint samples');
    assert.ok(same(latent('22').data, latent('23').data), 'the standalone VAE decodes and encodes as the checkpoint VAE');
  });

  it('DualCLIPLoader refuses two CLIP-L files in one line naming them', async () => {
    const r = await pipe.run({
      '10': { class_type: 'DualCLIPLoader', inputs: { clip_name1: 'clip_l.safetensors', clip_name2: 'clip_l.safetensors', type: 'sdxl' } },
      '12': { class_type: 'CLIPTextEncode', inputs: { text: 'x', clip: ['10', 0] } },
      '20': { class_type: 'TestCaptureCONDITIONING', inputs: { value: ['12', 0] } },
    });
    assert.equal(r.outcome.status, 'error');
    assert.match(JSON.stringify(r.events.find((e) => e.type === 'execution_error')), /needs a CLIP-L and an OpenCLIP-G text encoder; both 'clip_l.safetensors' and 'clip_l.safetensors' are not OpenCLIP-G/);
  });

  it("sdxlAdm: ComfyUI's encode_adm values in time_ids order", () => {
    const pooled = new Float32Array(4).fill(0.5);
    const entry: Conditioning = [[{ data: new Float32Array(8), shape: [1, 2, 4] }, { pooled_output: pooled }]];
    const model = (timeValues: 5 | 6) => ({ name: 'm', sdxl: { pooledDim: 4, timeValues } }) as unknown as SdModel;
    const ids = (c: Conditioning) => [...c[0][1].sdxl_adm!.timeIds];
    assert.deepEqual(ids(sdxlAdm(entry, model(6), 'positive', 16, 24)), [128, 192, 0, 0, 128, 192]);
    const sized: Conditioning = [[entry[0][0], { pooled_output: pooled, width: 1024, height: 768, crop_w: 8, crop_h: 16, target_width: 512, target_height: 256 }]];
    assert.deepEqual(ids(sdxlAdm(sized, model(6), 'negative', 16, 24)), [768, 1024, 16, 8, 256, 512]);
    assert.deepEqual(ids(sdxlAdm(entry, model(5), 'positive', 16, 24)), [128, 192, 0, 0, 6]);
    assert.deepEqual(ids(sdxlAdm(entry, model(5), 'negative', 16, 24)), [128, 192, 0, 0, 2.5]);
    assert.throws(() => sdxlAdm([[entry[0][0], {}]], model(6), 'negative', 8, 8), /is SDXL: its negative conditioning has no pooled text embedding/);
    assert.throws(() => sdxlAdm([[entry[0][0], { pooled_output: new Float32Array(3) }]], model(6), 'positive', 8, 8), /takes a 4-wide pooled text embedding/);
  });
});
