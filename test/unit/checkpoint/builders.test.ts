// The builders on an SD2-style configuration (linear proj_in/proj_out, heads of fixed width,
// gelu CLIP with a text projection) and their contract: progress reported up to the total, a
// wrong tensor shape named in the error, no half-written files.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { writeClipTextOnnx, writeUnetOnnx, type ClipTextConfig, type UnetConfig, type WeightSource } from '../../../src/inference/checkpoint/build';
import { checkpointTensors, SD15_SMALL, type CheckpointConfig } from '../../../tools/refgen/layout';
import { tensorHalfBits } from '../../../tools/refgen/rule';
import { SD1_PREFIXES } from '../../../tools/refgen/weightSource';
import { float16ToFloat32 } from '../../../src/inference/ort/float16';

const SD2_SMALL: CheckpointConfig = {
  unet: { ...SD15_SMALL.unet, useLinearInTransformer: true, numHeads: -1, numHeadChannels: 16, contextDim: 64 },
  clip: { ...SD15_SMALL.clip, kind: 'open-clip-h', activation: 'gelu', numHeads: 4, projectionDim: 64 },
  vae: SD15_SMALL.vae,
};

/** Rule-valued weights in memory under canonical names, plus any extra tensors. */
function memorySource(cfg: CheckpointConfig, prefix: string, extra: Record<string, number[]> = {}, override: Record<string, number[]> = {}): WeightSource {
  const shapes = new Map<string, number[]>();
  for (const e of checkpointTensors(cfg)) if (e.name.startsWith(prefix)) shapes.set(e.name.slice(prefix.length), e.shape);
  for (const [n, s] of Object.entries({ ...extra, ...override })) shapes.set(n, s);
  return {
    names: () => [...shapes.keys()],
    has: (n) => shapes.has(n),
    shape: (n) => [...shapes.get(n)!],
    float32: async (n) => {
      const shape = shapes.get(n)!;
      const count = shape.reduce((a, b) => a * b, 1);
      const kind = shape.length === 1 ? (n.endsWith('.bias') ? 'bias' : 'norm') : n.includes('embeddings') ? 'embedding' : 'dense';
      const scale = kind === 'dense' ? 2 ** Math.round(Math.log2(3 / (count / shape[0])) / 2) : kind === 'embedding' ? 0.5 : kind === 'norm' ? 0.125 : 1 / 32;
      return float16ToFloat32(tensorHalfBits(n, count, kind, scale, 9));
    },
  };
}

describe('checkpoint builders: SD2-style networks and the build contract', function () {
  this.timeout(300_000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'marble-builders-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('builds a linear-projection U-Net with fixed-width heads and reports progress up to the total', async () => {
    const file = path.join(dir, 'sd2', 'unet', 'model.onnx');
    const seen: [number, number][] = [];
    await writeUnetOnnx(file, SD2_SMALL.unet as UnetConfig, memorySource(SD2_SMALL, SD1_PREFIXES.unet), { precision: 'fp32', onProgress: (d, t) => seen.push([d, t]) });
    assert.ok(seen.length > 10);
    assert.ok(seen.every(([d, t], i) => d <= t && (i === 0 || d >= seen[i - 1][0])), 'monotone, never past the total');
    assert.equal(seen.at(-1)![0], seen.at(-1)![1]);
    const s = await ort.InferenceSession.create(file);
    const out = await s.run({
      sample: new ort.Tensor('float32', Float32Array.from({ length: 4 * 12 * 10 }, (_, i) => Math.sin(i)), [1, 4, 12, 10]),
      timestep: new ort.Tensor('float32', Float32Array.from([321.5]), [1]),
      encoder_hidden_states: new ort.Tensor('float32', Float32Array.from({ length: 77 * 64 }, (_, i) => Math.cos(i)), [1, 77, 64]),
    });
    // Odd latent sizes survive the down/up path (upsampling matches each skip's size).
    assert.deepEqual(out.out_sample.dims, [1, 4, 12, 10]);
    assert.ok((out.out_sample.data as Float32Array).every(Number.isFinite));
    await s.release();
  });

  it('builds a gelu CLIP with a text projection for the pooled output', async () => {
    const file = path.join(dir, 'sd2', 'text_encoder', 'model.onnx');
    const w = memorySource(SD2_SMALL, SD1_PREFIXES.clip, { 'text_projection.weight': [32, 64] });
    await writeClipTextOnnx(file, SD2_SMALL.clip as ClipTextConfig, w, { precision: 'fp16' });
    const s = await ort.InferenceSession.create(file);
    const ids = new Int32Array(77).fill(0);
    ids.set([49406, 320, 49407]);
    const out = await s.run({ input_ids: new ort.Tensor('int32', ids, [1, 77]), extra_token_embeddings: new ort.Tensor('float32', new Float32Array(64), [1, 64]) });
    assert.deepEqual(out.pooler_output.dims, [1, 32]);
    assert.deepEqual(out.last_hidden_state.dims, [1, 77, 64]);
    assert.ok(s.outputNames.includes(`hidden_states_normed.${SD2_SMALL.clip.numLayers - 1}`));
    await s.release();
  });

  it('names a tensor of the wrong shape and leaves no files behind', async () => {
    const out = path.join(dir, 'bad', 'unet', 'model.onnx');
    const w = memorySource(SD15_SMALL, SD1_PREFIXES.unet, {}, { 'middle_block.1.proj_in.weight': [64, 63, 1, 1] });
    await assert.rejects(writeUnetOnnx(out, SD15_SMALL.unet, w, { precision: 'fp32' }), /U-Net: tensor 'middle_block\.1\.proj_in\.weight' has shape \[64, 63, 1, 1\], expected \[64, 64, 1, 1\]/);
    assert.deepEqual(fs.readdirSync(path.dirname(out)), []);
  });
});
