// The default ComfyUI text-to-image workflow, end to end in process on a tiny generated model:
// UI → API, validation, execution, PNG with metadata, caching between prompts, events.
import assert from 'node:assert/strict';
import sharp from 'sharp';
import * as fs from 'node:fs';
import type { ExecutionCached, Progress } from '../../../src/workflow/events';
import { readPngMetadata } from '../../../src/workflow/png';
import type { ApiPrompt } from '../../../src/workflow/types';
import { addModel, watchComponents, DEFAULT_CKPT, defaultWorkflow, distinctValues, failure, makeWorkspace, Pipeline, pixelsOf } from './harness';

describe('pipeline: default workflow', function () {
  this.timeout(30000);
  let ws: ReturnType<typeof makeWorkspace>;
  let pipe: Pipeline;

  before(() => {
    ws = makeWorkspace();
    addModel(ws.base, DEFAULT_CKPT, 'fp16');
    addModel(ws.base, 'other-model', 'fp32', 2);
  });
  beforeEach(() => {
    pipe = new Pipeline(ws.base);
  });
  afterEach(async () => pipe.dispose());
  after(() => ws.remove());

  it('runs the UI workflow to a PNG whose prompt/workflow chunks parse back and whose pixels vary', async () => {
    const prompt = await pipe.defaultPrompt();
    const workflow = defaultWorkflow();
    const r = await pipe.run(prompt, { extraPngInfo: { workflow } });
    assert.equal(r.outcome.status, 'success', failure(r));
    const [file] = pipe.savedFiles(r.outcome);
    assert.match(file, /ComfyUI_00001_\.png$/);
    const bytes = fs.readFileSync(file);
    const meta = readPngMetadata(bytes);
    const savedPrompt = JSON.parse(meta.prompt!) as ApiPrompt;
    assert.equal(savedPrompt['3'].class_type, 'KSampler');
    assert.equal(savedPrompt['3'].inputs.steps, 3);
    assert.equal(savedPrompt['4'].inputs.ckpt_name, 'v1-5-pruned-emaonly-fp16.safetensors');
    const savedWorkflow = JSON.parse(meta.workflow!) as { nodes: { type: string }[] };
    assert.deepEqual(savedWorkflow.nodes.map((n) => n.type).sort(), workflow.nodes.map((n) => n.type).sort());
    const px = await pixelsOf(file);
    assert.deepEqual([px.width, px.height], [64, 64]);
    assert.ok(distinctValues(px.data) > 16, `only ${distinctValues(px.data)} distinct channel values`);
  });

  it('gives identical PNG bytes for the same seed, run from scratch twice', async () => {
    const prompt = await pipe.defaultPrompt();
    const a = await pipe.run(prompt);
    pipe.executor.clearCache();
    const b = await pipe.run(prompt);
    assert.equal(b.outcome.status, 'success', failure(b));
    const [fa, fb] = [pipe.savedFiles(a.outcome)[0], pipe.savedFiles(b.outcome)[0]];
    assert.notEqual(fa, fb, 'the second run writes a new file');
    assert.ok(fs.readFileSync(fa).equals(fs.readFileSync(fb)));
  });

  it('re-runs only KSampler, VAEDecode and SaveImage when only the seed changes', async () => {
    const prompt = await pipe.defaultPrompt();
    const first = await watchComponents(() => pipe.run(prompt));
    assert.equal(first.runs.text_encoder, 2, 'positive and negative are encoded once each');
    prompt['3'].inputs.seed = 1234;
    const second = await watchComponents(() => pipe.run(prompt));
    const r = second.result;
    assert.equal(r.outcome.status, 'success', failure(r));
    const cached = r.events.find((e): e is ExecutionCached => e.type === 'execution_cached')!;
    for (const id of ['4', '6', '7']) assert.ok(cached.data.nodes.includes(id), `node ${id} cached: ${cached.data.nodes.join(',')}`);
    assert.deepEqual([...r.outcome.ran].sort(), ['3', '8', '9']);
    assert.equal(second.runs.text_encoder ?? 0, 0, 'the text encoder is not run again');
    assert.equal(second.runs.unet, 3 * 1, 'three sampling steps, CFG batched in one U-Net call each');
    assert.equal(second.runs.vae_decoder, 1);
    const [f1, f2] = [pipe.savedFiles(first.result.outcome)[0], pipe.savedFiles(r.outcome)[0]];
    const [p1, p2] = [await pixelsOf(f1), await pixelsOf(f2)];
    assert.ok(!Buffer.from(p1.data).equals(Buffer.from(p2.data)), 'a new seed gives a new image');
  });

  it('changes the image when the positive prompt changes', async () => {
    const prompt = await pipe.defaultPrompt();
    const a = await pipe.run(prompt);
    prompt['6'].inputs.text = 'a red cube on a wooden table';
    const b = await watchComponents(() => pipe.run(prompt));
    assert.equal(b.result.outcome.status, 'success', failure(b.result));
    assert.equal(b.runs.text_encoder, 1, 'only the changed prompt is encoded');
    assert.ok(!b.result.outcome.ran.includes('7'));
    const [pa, pb] = [await pixelsOf(pipe.savedFiles(a.outcome)[0]), await pixelsOf(pipe.savedFiles(b.result.outcome)[0])];
    let diff = 0;
    for (let i = 0; i < pa.data.length; i++) diff += Math.abs(pa.data[i] - pb.data[i]);
    assert.ok(diff / pa.data.length > 0.5, `mean abs pixel difference ${diff / pa.data.length}`);
  });

  it('emits one progress event per step and reports the CPU EP', async () => {
    const prompt = await pipe.defaultPrompt({ steps: 4 });
    const r = await pipe.run(prompt);
    assert.equal(r.outcome.status, 'success', failure(r));
    const progress = r.events.filter((e): e is Progress => e.type === 'progress');
    assert.deepEqual(progress.map((p) => `${p.data.node}:${p.data.value}/${p.data.max}`), ['3:1/4', '3:2/4', '3:3/4', '3:4/4']);
    const models = new Set(pipe.eps.map((e) => e.model));
    for (const m of ['unet', 'text_encoder', 'vae_decoder']) assert.ok(models.has(`${DEFAULT_CKPT}/${m}`), `EP reported for ${m}`);
    assert.deepEqual([...new Set(pipe.eps.map((e) => e.provider))], ['cpu']);
    assert.equal(r.previews.length, 0, 'previews are off in this pipeline');
  });

  it('sends latent-size PNG previews through onPreview when previews are on', async () => {
    const p = new Pipeline(ws.base, { previews: true });
    try {
      const r = await p.run(await p.defaultPrompt({ steps: 3 }));
      assert.equal(r.outcome.status, 'success', failure(r));
      assert.ok(r.previews.length >= 1 && r.previews.length <= 3, `${r.previews.length} previews`);
      for (const { nodeId, preview } of r.previews) {
        assert.equal(nodeId, '3');
        assert.equal(preview.format, 'png');
        assert.deepEqual([...preview.data.subarray(1, 4)], [0x50, 0x4e, 0x47], 'PNG signature');
        const meta = await sharp(Buffer.from(preview.data)).metadata();
        assert.deepEqual([meta.width, meta.height], [8, 8], 'preview at latent resolution (64 px / 8)');
      }
    } finally {
      await p.dispose();
    }
  });

  it('stops with status interrupted when the signal aborts during KSampler', async () => {
    const prompt = await pipe.defaultPrompt({ steps: 6 });
    const ac = new AbortController();
    const r = await pipe.run(prompt, {
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'progress' && e.data.value === 2) ac.abort();
      },
    });
    assert.equal(r.outcome.status, 'interrupted');
    const ev = r.events.find((e) => e.type === 'execution_interrupted');
    assert.ok(ev && ev.type === 'execution_interrupted');
    assert.equal(ev.data.node_id, '3');
    assert.equal(ev.data.node_type, 'KSampler');
    const steps = r.events.filter((e) => e.type === 'progress').length;
    assert.ok(steps < 6, `${steps} steps ran after the abort`);
    assert.equal(pipe.savedFiles(r.outcome).length, 0);
    assert.ok(!r.outcome.ran.includes('9'), 'SaveImage never ran');
  });

  it('names the available checkpoints when the workflow asks for a missing one', async () => {
    const prompt = await pipe.defaultPrompt({ ckpt: 'sd_xl_base_1.0.safetensors' });
    const r = await pipe.run(prompt);
    assert.equal(r.validation.ok, false);
    const text = JSON.stringify(r.validation.node_errors['4']);
    assert.match(text, /sd_xl_base_1\.0/);
    assert.match(text, /v1-5-pruned-emaonly-fp16/);
    assert.match(text, /other-model/);
  });

  it('fails at run time with the available checkpoints listed when validation has no combo list', async () => {
    const prompt = await pipe.defaultPrompt({ ckpt: 'missing-model.safetensors' });
    const v = await pipe.validate(prompt);
    // Run the coerced prompt without the folder check, as an API client bypassing /object_info would.
    v.prompt['4'].inputs.ckpt_name = 'missing-model.safetensors';
    const outcome = await pipe.executor.execute({ promptId: 'x', prompt: v.prompt, onEvent: () => {} });
    assert.equal(outcome.status, 'error');
    assert.equal(outcome.error!.node_type, 'CheckpointLoaderSimple');
    assert.match(outcome.error!.exception_message, /missing-model/);
    assert.match(outcome.error!.exception_message, /v1-5-pruned-emaonly-fp16/);
    assert.match(outcome.error!.exception_message, /other-model/);
  });

  it('rejects an unknown sampler at validation, listing the supported ones', async () => {
    const prompt = await pipe.defaultPrompt();
    prompt['3'].inputs.sampler_name = 'dpmpp_7m_quantum';
    const r = await pipe.run(prompt);
    assert.equal(r.validation.ok, false);
    const errors = r.validation.node_errors['3']?.errors ?? [];
    assert.ok(errors.length > 0, JSON.stringify(r.validation));
    const text = JSON.stringify(errors);
    assert.match(text, /dpmpp_7m_quantum/);
    assert.match(text, /euler/);
    assert.match(text, /dpmpp_2m/);
    assert.equal(r.events.length, 0, 'nothing executed');
  });
});
