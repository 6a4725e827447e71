import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fillTemplate } from '../../../src/extension/workflowTemplate';

const template = JSON.parse(
  readFileSync(path.resolve(__dirname, '../../../resources/workflows/default.workflow.json'), 'utf8'),
);
type Node = { id: number; type: string; widgets_values: unknown[] };
const node = (w: unknown, id: number) => (w as { nodes: Node[] }).nodes.find((n) => n.id === id)!;

describe('fillTemplate (ComfyUI default graph)', () => {
  it('sets the positive prompt on the CLIPTextEncode linked to KSampler.positive', () => {
    const { workflow } = fillTemplate(template, { prompt: 'a red fox' }, undefined, () => 0.5);
    assert.equal(node(workflow, 6).widgets_values[0], 'a red fox');
    assert.equal(node(workflow, 7).widgets_values[0], 'text, watermark');
  });
  it('does not mutate the template', () => {
    fillTemplate(template, { prompt: 'x', width: 640 }, undefined, () => 0.5);
    assert.equal(node(template, 6).widgets_values[0], 'beautiful scenery nature glass bottle landscape, , purple galaxy bottle,');
    assert.deepEqual(node(template, 5).widgets_values, [512, 512, 1]);
  });
  it('applies size, sampler settings, checkpoint and negative', () => {
    const { workflow } = fillTemplate(template, {
      prompt: 'p', negative: 'blurry', width: 768, height: 512, batchSize: 2, steps: 4, cfg: 1.5,
      sampler: 'dpmpp_2m', scheduler: 'karras', checkpoint: 'tiny.onnx', denoise: 0.5,
    }, undefined, () => 0.5);
    assert.deepEqual(node(workflow, 5).widgets_values, [768, 512, 2]);
    assert.equal(node(workflow, 7).widgets_values[0], 'blurry');
    assert.equal(node(workflow, 4).widgets_values[0], 'tiny.onnx');
    assert.deepEqual(node(workflow, 3).widgets_values.slice(2), [4, 1.5, 'dpmpp_2m', 'karras', 0.5]);
  });
  it('randomizes the seed (legacy `true` = randomize) and records it', () => {
    const r = fillTemplate(template, { prompt: 'p' }, undefined, () => 0.25);
    assert.equal(r.seedMode, 'randomize');
    assert.equal(r.seed, 2 ** 48);
    assert.equal(node(r.workflow, 3).widgets_values[0], r.seed);
    assert.equal(node(r.workflow, 3).widgets_values[1], 'randomize');
  });
  it('an explicit seed is used as is and fixes the mode', () => {
    const r = fillTemplate(template, { prompt: 'p', seed: 42 });
    assert.equal(r.seed, 42);
    assert.equal(node(r.workflow, 3).widgets_values[1], 'fixed');
  });
  it('increment continues from the last used seed', () => {
    const t = structuredClone(template);
    node(t, 3).widgets_values[1] = 'increment';
    assert.equal(fillTemplate(t, { prompt: 'p' }, 100).seed, 101);
    assert.equal(fillTemplate(t, { prompt: 'p' }).seed, 156680208700287);
  });
  it('rejects bad input with specific messages', () => {
    assert.throws(() => fillTemplate(template, { prompt: '  ' }), /prompt is empty/);
    assert.throws(() => fillTemplate(template, { prompt: 'p', width: 7.5 }), /width must be an integer/);
    assert.throws(() => fillTemplate({ nodes: [] }, { prompt: 'p' }), /"nodes" and "links"/);
    const noSampler = structuredClone(template);
    noSampler.nodes = noSampler.nodes.filter((n: Node) => n.type !== 'KSampler');
    assert.throws(() => fillTemplate(noSampler, { prompt: 'p' }), /no active KSampler/);
  });
});

describe('substituteCheckpoint', () => {
  it('keeps an available checkpoint and replaces a missing one with the first available', async () => {
    const { substituteCheckpoint } = await import('../../../src/extension/workflowTemplate');
    assert.equal(substituteCheckpoint(template, ['v1-5-pruned-emaonly-fp16.safetensors', 'b']), undefined);
    assert.equal(substituteCheckpoint(template, ['tiny-sd']), 'tiny-sd');
    assert.equal(substituteCheckpoint(template, []), undefined);
  });
});
