// `marble run` on ComfyUI's default workflow with a `.safetensors` checkpoint (a small SD1.5-layout
// file in ComfyUI's key names): the first run converts it into the conversion cache with
// progress on the loader node and saves a PNG, the second run converts nothing, and each kind
// of bad file fails in the loader with one line naming the file, leaving no cache entry.
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { run } from '../../../src/cli/commands/run';
import type { CliIO } from '../../../src/cli/io';
import { ConversionCache } from '../../../src/inference/checkpoint/conversionCache';
import { SafetensorsFile } from '../../../src/inference/safetensors/read';
import { writeSafetensors } from '../../../src/inference/safetensors/write';
import { writeRuleCheckpoint } from '../../../tools/refgen/generate';
import { SD15_SMALL } from '../../../tools/refgen/layout';
import { bundle, repoRoot, tempDir } from '../inference/helpers';
import { sdxlShapes } from './layouts';

function captureIO(): CliIO & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out: (t: string) => { io.stdout += t; }, err: (t: string) => { io.stderr += t; } };
  return io;
}

const WORKFLOW = path.join(repoRoot, 'resources', 'workflows', 'default.workflow.json');

/** A safetensors file holding only a header (data as a sparse hole): shapes without gigabytes. */
function writeHeaderOnly(file: string, tensors: [string, number[]][]): void {
  let offset = 0;
  const header: Record<string, unknown> = {};
  for (const [name, shape] of tensors) {
    const bytes = shape.reduce((a, d) => a * d, 1) * 2;
    header[name] = { dtype: 'F16', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const fd = openSync(file, 'w');
  writeSync(fd, len);
  writeSync(fd, json);
  ftruncateSync(fd, 8 + json.length + offset);
  closeSync(fd);
}

describe('Load Checkpoint on a .safetensors file through marble run', function () {
  this.timeout(180_000);
  const tmp = tempDir('marble-ckpt-run-');
  const buildDir = path.join(repoRoot, 'node_modules', '.cache', 'marble-tests');
  const models = path.join(tmp.dir, 'models');
  const ckpts = path.join(models, 'checkpoints');
  const cacheDir = path.join(tmp.dir, 'cache');
  const output = path.join(tmp.dir, 'output');
  let outDir: string;

  before(async () => {
    mkdirSync(buildDir, { recursive: true });
    outDir = mkdtempSync(path.join(buildDir, 'ckpt-'));
    process.env.MARBLE_INFERENCE_ENTRY = await bundle(path.join(repoRoot, 'src/inference/main.ts'), outDir);
    mkdirSync(ckpts, { recursive: true });
    await writeRuleCheckpoint(path.join(ckpts, 'small.safetensors'), SD15_SMALL, 7);
  });
  after(() => {
    delete process.env.MARBLE_INFERENCE_ENTRY;
    rmSync(outDir, { recursive: true, force: true });
    tmp.remove();
  });

  const runWith = async (ckpt: string, seed: number) => {
    const io = captureIO();
    const code = await run([WORKFLOW, '--models', models, '--cache', cacheDir, '--output', output, '--ep', 'cpu', '--json',
      '--set', `4.ckpt_name=${ckpt}`, '--set', '5.width=64', '--set', '5.height=64', '--set', '3.steps=2', '--set', `3.seed=${seed}`], io);
    const lines = io.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });
    return { code, io, lines, result: lines.at(-1)!.data };
  };
  const entries = async () => (await new ConversionCache(cacheDir).info()).entries;

  it('converts on the first run with progress on the loader node, then loads from the cache', async () => {
    const first = await runWith('small.safetensors', 1);
    assert.equal(first.code, 0, first.io.stderr);
    const images = first.result.images as string[];
    assert.equal(images.length, 1);
    assert.deepEqual([...readFileSync(images[0]).subarray(1, 4)], [...Buffer.from('PNG')]);
    const conversions = first.lines.filter((l) => l.type === 'conversion');
    assert.ok(conversions.length >= 2, 'conversion events are sent');
    assert.equal(conversions[0].data.name, 'small.safetensors');
    assert.equal(conversions.at(-1)!.data.state, 'done');
    const progress = first.lines.filter((l) => l.type === 'progress' && l.data.node === '4');
    assert.ok(progress.length >= 2, 'the loader node reports progress');
    assert.equal(progress.at(-1)!.data.value, 100);
    assert.equal(progress.at(-1)!.data.max, 100);
    const cached = await entries();
    assert.equal(cached.length, 1);
    assert.equal(cached[0].state, 'complete');
    assert.equal(cached[0].source, path.join(ckpts, 'small.safetensors'));

    const second = await runWith('small.safetensors', 2);
    assert.equal(second.code, 0, second.io.stderr);
    assert.equal(second.lines.filter((l) => l.type === 'conversion').length, 0, 'a cached load converts nothing');
    assert.equal(second.lines.filter((l) => l.type === 'progress' && l.data.node === '4').length, 0);
    assert.equal((await entries()).length, 1);
  });

  it('refuses each kind of bad file in one line naming it, and leaves no cache entry', async () => {
    const good = path.join(ckpts, 'small.safetensors');
    const size = statSync(good).size;
    const cases: { name: string; make: (file: string) => Promise<void> | void; expect: RegExp }[] = [
      { name: 'truncated.safetensors', make: (f) => writeFileSync(f, readFileSync(good).subarray(0, Math.floor(size / 2))), expect: /truncated/ },
      {
        name: 'lying.safetensors',
        make: (f) => {
          const json = Buffer.from(JSON.stringify({ 'model.diffusion_model.out.2.weight': { dtype: 'F32', shape: [25_000_000_000], data_offsets: [0, 100_000_000_000] } }));
          const len = Buffer.alloc(8);
          len.writeBigUInt64LE(BigInt(json.length));
          writeFileSync(f, Buffer.concat([len, json, Buffer.alloc(64)]));
        },
        expect: /claims bytes 0\.\.100000000000/,
      },
      { name: 'pickle.safetensors', make: (f) => writeFileSync(f, Buffer.concat([Buffer.from([0x80, 0x02, 0x7d, 0x71]), Buffer.alloc(60)])), expect: /does not execute pickle files/ },
      {
        name: 'sdxl-no-g.safetensors',
        make: (f) => writeHeaderOnly(f, sdxlShapes('base').filter(([n]) => !n.startsWith('conditioner.embedders.1.'))),
        expect: /SDXL base checkpoint with CLIP-L but no OpenCLIP-G text encoder/,
      },
      {
        name: 'vae-only.safetensors',
        make: async (f) => {
          const st = await SafetensorsFile.open(good);
          try {
            const vae = [...st.tensors.values()].filter((t) => t.name.startsWith('first_stage_model.'));
            await writeSafetensors(f, await Promise.all(vae.map(async (t) => ({ name: t.name.slice('first_stage_model.'.length), dtype: t.dtype, shape: t.shape, data: await st.readRaw(t.name) }))));
          } finally {
            await st.close();
          }
        },
        expect: /VAE/,
      },
    ];
    for (const c of cases) {
      const file = path.join(ckpts, c.name);
      await c.make(file);
      const r = await runWith(c.name, 3);
      assert.equal(r.code, 1, `${c.name}: ${r.io.stderr}`);
      const message = String(r.result.message);
      assert.match(message, /^node 4 \(CheckpointLoaderSimple\) failed: input 'ckpt_name': /, c.name);
      assert.ok(message.includes(file), `${c.name}: the message names the file: ${message}`);
      assert.match(message, c.expect, c.name);
      assert.ok(!message.includes('\n'), `${c.name}: one line: ${message}`);
      const left = await entries();
      assert.deepEqual(left.filter((e) => e.source !== good).map((e) => e.name), [], `${c.name} leaves no cache entry`);
    }
  });
});
