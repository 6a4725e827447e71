import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeSafetensors } from '../../../src/inference/safetensors/write';
import { LazyTokenCounter, isPromptEncoder, promptTexts, tokenCountsFor } from '../../../src/extension/promptTokens';
import { loadCoreCatalog } from '../../../src/workflow/catalog/catalog';

const DEFAULT_GRAPH = path.resolve(__dirname, '../../fixtures/comfyui/default_graph.json');
const catalog = loadCoreCatalog();

describe('prompt token counts (host side)', () => {
  it('finds the prompt of every CLIP text encoder, not other STRING widgets', () => {
    assert.equal(isPromptEncoder(catalog.CLIPTextEncode), true);
    assert.equal(isPromptEncoder(catalog.SaveImage), false, 'filename_prefix is a one-line STRING');
    assert.equal(isPromptEncoder(catalog.KSampler), false);
    const wf = JSON.parse(readFileSync(DEFAULT_GRAPH, 'utf8'));
    assert.deepEqual([...promptTexts(wf, catalog)].sort(), [
      ['6', 'beautiful scenery nature glass bottle landscape, , purple galaxy bottle,'],
      ['7', 'text, watermark'],
    ]);
  });

  it('leaves out a prompt converted to a linked input, and tolerates odd workflows', () => {
    const wf = { nodes: [
      { id: 1, type: 'CLIPTextEncode', inputs: [{ name: 'clip', link: 1 }, { name: 'text', link: 9 }], widgets_values: ['ignored'] },
      { id: 2, type: 'CLIPTextEncode', widgets_values: [] },
      { id: 3, type: 'NotInCatalog', widgets_values: ['x'] },
      null,
    ] };
    assert.deepEqual([...promptTexts(wf, catalog)], [['2', '']]);
    assert.deepEqual([...promptTexts({ nodes: 'nope' }, catalog)], []);
    assert.deepEqual([...promptTexts(null, catalog)], []);
  });

  it('counts with the encoder\'s tokenizer: ComfyUI\'s default prompt, and 2 chunks past 75 tokens', async function () {
    this.timeout(20_000);
    const count = await new LazyTokenCounter().get();
    const texts = new Map([
      ['6', 'beautiful scenery nature glass bottle landscape, , purple galaxy bottle,'],
      ['7', 'text, watermark'],
      ['8', Array.from({ length: 80 }, () => 'cat').join(' ')],
      ['9', ''],
    ]);
    assert.deepEqual(tokenCountsFor(texts, count), {
      6: { tokens: 12, chunks: 1 }, // 11 words + commas
      7: { tokens: 4, chunks: 1 }, // text , water mark
      8: { tokens: 80, chunks: 2 },
      9: { tokens: 0, chunks: 1 },
    });
  });

  it('counts an embedding\'s vectors as tokens, read from the embeddings folders at each count', async function () {
    this.timeout(20_000);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'marble-count-emb-'));
    try {
      let dirs: string[] = [];
      const count = await new LazyTokenCounter(undefined, () => dirs).get();
      const text = `${Array.from({ length: 73 }, () => 'cat').join(' ')} embedding:three`;
      assert.deepEqual(count(text), { tokens: 73, chunks: 1 }, 'no folder: the name is dropped');
      await writeSafetensors(path.join(dir, 'three.safetensors'), [
        { name: 'clip_g', dtype: 'F32', shape: [3, 1280], data: new Uint8Array(3 * 1280 * 4) },
        { name: 'clip_l', dtype: 'F32', shape: [3, 768], data: new Uint8Array(3 * 768 * 4) },
      ]);
      dirs = [dir];
      // 73 words + 3 vectors: the embedding (under 8 tokens) moves whole to a second chunk.
      assert.deepEqual(count(text), { tokens: 76, chunks: 2 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('one prompt the counter rejects does not hide the others', () => {
    const counts = tokenCountsFor(new Map([['1', 'ok'], ['2', 'bad']]), (t) => {
      if (t === 'bad') throw new Error('nope');
      return { tokens: t.length, chunks: 1 };
    });
    assert.deepEqual(counts, { 1: { tokens: 2, chunks: 1 } });
  });

  it('a tokenizer that cannot be found fails with the folder it searched, and is retried', async () => {
    const counter = new LazyTokenCounter('/');
    await assert.rejects(counter.get(), /CLIP tokenizer: no .*clip-tokenizer.* found above \//);
    await assert.rejects(counter.get(), /CLIP tokenizer/);
  });
});
