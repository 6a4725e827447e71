// `marble convert-checkpoint` and `marble cache info|clear`.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, promises as fsp, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../../../src/cli/main';
import type { CliIO } from '../../../src/cli/io';
import { ConversionCache } from '../../../src/inference/checkpoint/conversionCache';
import { describeModelFolder } from '../../../src/inference/models';
import { writeRuleCheckpoint } from '../../../tools/refgen/generate';
import { SD15_SMALL } from '../../../tools/refgen/layout';

function captureIO(): CliIO & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out: (t: string) => { io.stdout += t; }, err: (t: string) => { io.stderr += t; } };
  return io;
}

describe('marble convert-checkpoint', function () {
  this.timeout(120_000);
  let tmp: string;
  let ckpt: string;
  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'marble-convert-'));
    ckpt = path.join(tmp, 'small.safetensors');
    await writeRuleCheckpoint(ckpt, SD15_SMALL, 2);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('writes an optimum-layout folder that Marble reads as an SD1 pipeline', async () => {
    const out = path.join(tmp, 'onnx', 'small');
    const io = captureIO();
    const code = await main(['convert-checkpoint', ckpt, '--out', out], io);
    assert.equal(code, 0, io.stderr);
    assert.equal(io.stdout.trim(), out);
    assert.match(io.stderr, /sd1 eps · text_encoder, unet, vae_decoder, vae_encoder · fp32 · [\d.]+ s/);
    const d = describeModelFolder(out);
    assert.equal(d.layout, 'diffusers');
    // The family shows in what the reader takes from the configs (this small model's 64-wide
    // cross-attention matches no real family, so `kind` itself stays 'unknown').
    assert.equal(d.crossAttentionDim, 64);
    assert.equal(d.defaultImageSize, 512);
    assert.equal(d.predictionType, 'epsilon');
    assert.equal(d.unetInChannels, 4);
    assert.equal(d.scalingFactor, 0.18215);
    assert.deepEqual(Object.keys(d.components).sort(), ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder']);
    for (const c of Object.values(d.components)) assert.ok(c!.externalData.some((f) => f.endsWith('model.onnx_data')), 'weights in external data');
    assert.ok(d.tokenizer, 'tokenizer/ with vocab.json and merges.txt');
    const index = JSON.parse(await fsp.readFile(path.join(out, 'model_index.json'), 'utf8'));
    assert.equal(index._class_name, 'ORTStableDiffusionPipeline');
    assert.deepEqual(readdirSync(path.dirname(out)), ['small'], 'no temp folder left beside it');
  });

  it('refuses a non-empty --out and bad files in one line, writing nothing', async () => {
    const busy = path.join(tmp, 'busy');
    await fsp.mkdir(busy);
    writeFileSync(path.join(busy, 'keep.txt'), 'x');
    let io = captureIO();
    assert.equal(await main(['convert-checkpoint', ckpt, '--out', busy], io), 2);
    assert.match(io.stderr, /already exists and is not empty/);

    const pickle = path.join(tmp, 'model.safetensors');
    writeFileSync(pickle, Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.alloc(100)]));
    const outDir = path.join(tmp, 'bad-out');
    io = captureIO();
    assert.equal(await main(['convert-checkpoint', pickle, '--out', path.join(outDir, 'm')], io), 2);
    assert.equal(io.stderr, `marble convert-checkpoint: ${pickle}: Marble does not execute pickle files; download the .safetensors version\n`);
    assert.equal(existsSync(outDir), false);

    io = captureIO();
    assert.equal(await main(['convert-checkpoint', ckpt, '--out', path.join(tmp, 'x'), '--precision', 'fp8'], io), 2);
    assert.match(io.stderr, /--precision must be fp32 or fp16/);
  });
});

describe('marble cache', () => {
  let tmp: string;
  beforeEach(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'marble-cachecli-'))));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('info lists entries with sizes; clear deletes them and says how much it freed', async () => {
    const src = path.join(tmp, 'm.safetensors');
    writeFileSync(src, Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{}')]));
    const root = path.join(tmp, 'cache');
    await new ConversionCache(root).ensure(src, {
      variant: { precision: 'fp32', epFamily: 'cpu', role: 'checkpoint' },
      prepare: async () => async (out) => {
        await fsp.mkdir(path.join(out, 'unet'));
        await fsp.writeFile(path.join(out, 'unet', 'model.onnx'), Buffer.alloc(3 * 1024 * 1024));
      },
    });
    let io = captureIO();
    assert.equal(await main(['cache', 'info', '--cache', root], io), 0, io.stderr);
    assert.match(io.stdout, new RegExp(`^${root.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: 1 entry, 3\\.0 MB\\n`));
    assert.match(io.stdout, /3\.0 MB\s+complete\s+checkpoint fp32 cpu\s+.*m\.safetensors/);
    io = captureIO();
    assert.equal(await main(['cache', 'clear', '--cache', root], io), 0, io.stderr);
    assert.match(io.stdout, /^freed 3\.0 MB \(1 entry\) in /);
    io = captureIO();
    assert.equal(await main(['cache', 'info', '--cache', root, '--json'], io), 0);
    assert.deepEqual(JSON.parse(io.stdout), { root, entries: [], totalBytes: 0 });
    io = captureIO();
    assert.equal(await main(['cache', 'bogus'], io), 2);
    assert.match(io.stderr, /expected 'info' or 'clear'/);
  });
});
