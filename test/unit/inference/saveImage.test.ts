// SaveImage / PreviewImage: file names, metadata chunks, pixels, path safety, atomicity.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { getSaveImagePath } from '../../../src/inference/image/savePath';
import { createNodeRegistry } from '../../../src/inference/nodes/registry';
import { defaultRuntimeConfig, type RuntimeConfig } from '../../../src/inference/nodes/runtimeConfig';
import { tensor } from '../../../src/inference/tensor';
import { readPngChunks, readPngMetadata } from '../../../src/workflow/png';
import { fakeCtx, tempDir } from './helpers';

describe('SaveImage / PreviewImage', () => {
  const tmp = tempDir('marble-save-');
  const config: RuntimeConfig = defaultRuntimeConfig(tmp.dir);
  const registry = createNodeRegistry(() => config);
  const save = registry.get('SaveImage')!;
  after(() => tmp.remove());

  // 2 images of 3×2 RGB; values chosen to show truncation (0.999 → 254, not 255).
  const images = tensor([2, 2, 3, 3], Float32Array.from({ length: 36 }, (_, i) => (i === 0 ? 0.999 : i === 1 ? 1.5 : i === 2 ? -0.2 : i / 36)));
  const prompt = { '9': { class_type: 'SaveImage', inputs: { images: ['8', 0], filename_prefix: 'Test' } }, '8': { class_type: 'X', inputs: { text: 'café ☕' } } };
  const workflow = { nodes: [], note: 'ünïcode' };

  it('writes one PNG per batch image with prompt and workflow tEXt chunks right after IHDR', async () => {
    const res = await save.run({ images, filename_prefix: 'Marble' }, fakeCtx(prompt, { workflow }));
    assert.deepEqual(res.ui, { images: [
      { filename: 'Marble_00001_.png', subfolder: '', type: 'output' },
      { filename: 'Marble_00002_.png', subfolder: '', type: 'output' },
    ] });
    const png = new Uint8Array(readFileSync(path.join(config.outputDir, 'Marble_00001_.png')));
    const chunks = readPngChunks(png);
    assert.deepEqual(chunks.slice(0, 3).map((c) => c.type), ['IHDR', 'tEXt', 'tEXt']);
    const meta = readPngMetadata(png);
    assert.deepEqual(JSON.parse(meta.prompt!), prompt);
    assert.deepEqual(JSON.parse(meta.workflow!), workflow);
    // Python json.dumps: ASCII only, ", " / ": " separators.
    // (JS objects list integer-like keys in ascending order, so "8" comes first.)
    assert.ok(meta.prompt!.startsWith('{"8": {"class_type": "X", "inputs": {"text": "caf\\u00e9 \\u2615"}}, "9": {'), meta.prompt);
    const { data, info } = await sharp(Buffer.from(png)).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [3, 2, 3]);
    assert.deepEqual([...data.subarray(0, 4)], [254, 255, 0, Math.trunc((3 / 36) * 255)]);
  });

  it('continues the counter from existing files, in subfolders too', async () => {
    mkdirSync(path.join(config.outputDir, 'runs'), { recursive: true });
    writeFileSync(path.join(config.outputDir, 'runs', 'Cat_00041_.png'), 'x');
    writeFileSync(path.join(config.outputDir, 'runs', 'Cat_00007_.png'), 'x');
    writeFileSync(path.join(config.outputDir, 'runs', 'Catalog_00099_.png'), 'x'); // another prefix
    const res = await save.run({ images, filename_prefix: 'runs/Cat' }, fakeCtx());
    assert.deepEqual((res.ui!.images as { filename: string; subfolder: string }[]).map((i) => `${i.subfolder}/${i.filename}`), ['runs/Cat_00042_.png', 'runs/Cat_00043_.png']);
    const noMeta = readPngMetadata(new Uint8Array(readFileSync(path.join(config.outputDir, 'runs', 'Cat_00042_.png'))));
    assert.deepEqual(noMeta.texts, {}, 'no prompt → no chunks');
  });

  it('refuses a prefix that escapes the output folder, naming filename_prefix', async () => {
    for (const bad of ['../../x', '/etc/x', 'a/../../x', '..\\..\\x']) {
      await assert.rejects(async () => save.run({ images, filename_prefix: bad }, fakeCtx()), /filename_prefix: .* outside the output folder/, bad);
    }
  });

  it('leaves no temp files behind', () => {
    const all = [...readdirSync(config.outputDir), ...readdirSync(path.join(config.outputDir, 'runs'))];
    assert.deepEqual(all.filter((n) => n.endsWith('.tmp') || n.startsWith('.')), []);
  });

  it('substitutes %width%, %height% and dates', async () => {
    const now = new Date(2024, 0, 5, 7, 8, 9);
    const p = await getSaveImagePath('%year%-%month%-%day%/img_%width%x%height%_%hour%%minute%%second%', config.outputDir, 640, 480, { now });
    assert.equal(p.subfolder, '2024-01-05');
    assert.equal(p.filename, 'img_640x480_070809');
    assert.equal(p.counter, 1);
  });

  it('PreviewImage writes ComfyUI_temp_xxxxx files of type temp into the temp folder', async () => {
    const res = await registry.get('PreviewImage')!.run({ images }, fakeCtx(prompt));
    const list = res.ui!.images as { filename: string; type: string }[];
    assert.equal(list.length, 2);
    assert.match(list[0].filename, /^ComfyUI_temp_[a-z]{5}_00001_\.png$/);
    assert.equal(list[0].type, 'temp');
    assert.ok(readdirSync(config.tempDir).includes(list[0].filename));
  });

  it('rejects a non-image input clearly', async () => {
    await assert.rejects(async () => save.run({ images: { foo: 1 }, filename_prefix: 'x' }, fakeCtx()), /SaveImage input 'images': expected an IMAGE tensor/);
  });
});
