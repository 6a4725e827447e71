import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Tensor } from '../../../src/inference/tensor';
import { loadModelFolder, type LoadedModel } from '../../../src/inference/models';
import { SessionCache } from '../../../src/inference/ort/sessionCache';
import { generateModelFolder } from '../../../tools/modelgen/writeModelFolder';
import { parseVariant } from '../../../tools/modelgen/spec';
import { scratchDir, tinyModel } from './fixtures';

const BOS = 49406;
const EOS = 49407;

/** [B, 77] ids: BOS, the given tokens, EOS padding (SD1 pads with EOS). */
function ids(batch: number[][]): { ints: Int32Array; shape: number[] } {
  const out = new Int32Array(batch.length * 77).fill(EOS);
  batch.forEach((toks, b) => {
    out[b * 77] = BOS;
    toks.forEach((t, i) => (out[b * 77 + 1 + i] = t));
  });
  return { ints: out, shape: [batch.length, 77] };
}

function noise(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 4294967296) * 2 - 1;
  }
  return { data, shape };
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
  return m;
}

function stats(t: Tensor): { mean: number; std: number; min: number; max: number } {
  let s = 0, s2 = 0, min = Infinity, max = -Infinity;
  for (const v of t.data) {
    s += v;
    s2 += v * v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = s / t.data.length;
  return { mean, std: Math.sqrt(s2 / t.data.length - mean * mean), min, max };
}

const cache = new SessionCache({ ep: 'cpu' });
after(() => cache.freeAll());

describe('modelgen', () => {
  it('writes the diffusers layout deterministically from a seed', () => {
    const dir = scratchDir('det');
    const a = generateModelFolder(path.join(dir, 'a'), { size: 'tiny', seed: 7 });
    const b = generateModelFolder(path.join(dir, 'b'), { size: 'tiny', seed: 7 });
    const c = generateModelFolder(path.join(dir, 'c'), { size: 'tiny', seed: 8 });
    for (const rel of ['model_index.json', 'scheduler/scheduler_config.json', 'tokenizer/vocab.json', 'tokenizer/merges.txt', 'tokenizer/special_tokens_map.json', 'vae_decoder/config.json', 'unet/config.json', 'text_encoder/model.onnx', 'vae_encoder/model.onnx']) {
      assert.ok(fs.existsSync(path.join(a.dir, rel)), `${rel} missing`);
    }
    const unet = (d: string) => fs.readFileSync(path.join(d, 'unet', 'model.onnx'));
    assert.ok(unet(a.dir).equals(unet(b.dir)), 'same seed must give identical bytes');
    assert.ok(!unet(a.dir).equals(unet(c.dir)), 'different seeds must give different weights');
    const sched = JSON.parse(fs.readFileSync(path.join(a.dir, 'scheduler/scheduler_config.json'), 'utf8'));
    assert.equal(sched.beta_schedule, 'scaled_linear');
    assert.equal(sched.beta_start, 0.00085);
    assert.equal(sched.beta_end, 0.012);
    assert.equal(sched.num_train_timesteps, 1000);
    assert.equal(JSON.parse(fs.readFileSync(path.join(a.dir, 'vae_decoder/config.json'), 'utf8')).scaling_factor, 0.18215);
    // The folder appears by rename: no temporary siblings remain.
    assert.deepEqual(fs.readdirSync(dir).sort(), ['a', 'b', 'c']);
  });

  it('refuses to overwrite without force and rejects unknown variants', () => {
    const dir = tinyModel('fp32');
    assert.throws(() => generateModelFolder(dir, { size: 'tiny' }), /already exists/);
    assert.throws(() => parseVariant('fp32,bogus'), /unknown variant 'bogus'/);
  });

  it('writes external data under the file name each exporter uses', () => {
    for (const [variant, file] of [['external-data', 'model.onnx_data'], ['external-weights-pb', 'weights.pb'], ['external-dot-data', 'model.onnx.data']]) {
      const dir = tinyModel(variant);
      const ext = path.join(dir, 'unet', file);
      assert.ok(fs.existsSync(ext), `${variant}: ${file} missing`);
      assert.ok(fs.statSync(ext).size > fs.statSync(path.join(dir, 'unet', 'model.onnx')).size, `${variant}: weights should live in ${file}`);
    }
  });
});

interface Expect {
  idsType: string;
  floatType: string;
  timestep: { type: string; rank: number };
  inChannels: number;
  encoderOutput: string;
}

const VARIANTS: Record<string, Expect> = {
  fp32: { idsType: 'int32', floatType: 'float32', timestep: { type: 'float32', rank: 1 }, inChannels: 4, encoderOutput: 'latent_sample' },
  fp16: { idsType: 'int32', floatType: 'float32', timestep: { type: 'float32', rank: 1 }, inChannels: 4, encoderOutput: 'latent_sample' },
  'fp16-io': { idsType: 'int32', floatType: 'float16', timestep: { type: 'float16', rank: 1 }, inChannels: 4, encoderOutput: 'latent_sample' },
  'int64-ids': { idsType: 'int64', floatType: 'float32', timestep: { type: 'float32', rank: 1 }, inChannels: 4, encoderOutput: 'latent_sample' },
  'timestep-scalar': { idsType: 'int32', floatType: 'float32', timestep: { type: 'float32', rank: 0 }, inChannels: 4, encoderOutput: 'latent_sample' },
  'timestep-int64': { idsType: 'int32', floatType: 'float32', timestep: { type: 'int64', rank: 1 }, inChannels: 4, encoderOutput: 'latent_sample' },
  inpaint: { idsType: 'int32', floatType: 'float32', timestep: { type: 'float32', rank: 1 }, inChannels: 9, encoderOutput: 'latent_sample' },
  'optimum-new': { idsType: 'int64', floatType: 'float32', timestep: { type: 'float32', rank: 0 }, inChannels: 4, encoderOutput: 'latent_parameters' },
  'external-weights-pb': { idsType: 'int32', floatType: 'float32', timestep: { type: 'float32', rank: 1 }, inChannels: 4, encoderOutput: 'latent_sample' },
  'external-dot-data,no-index': { idsType: 'int32', floatType: 'float32', timestep: { type: 'float32', rank: 1 }, inChannels: 4, encoderOutput: 'latent_sample' },
};

describe('generated components run on onnxruntime CPU', () => {
  for (const [variant, want] of Object.entries(VARIANTS)) {
    it(`${variant}: declared IO matches real SD1 exports and every component runs`, async () => {
      const m = await loadModelFolder(tinyModel(variant), cache);
      const io = m.io;
      const spec = (c: keyof LoadedModel['io'], name: string) => io[c]!.inputs.find((s) => s.name === name) ?? io[c]!.outputs.find((s) => s.name === name);
      assert.equal(spec('text_encoder', 'input_ids')?.type, want.idsType);
      assert.deepEqual(spec('text_encoder', 'input_ids')?.shape, ['batch_size', 'sequence_length']);
      assert.deepEqual(io.text_encoder!.outputs.map((o) => o.name), ['last_hidden_state', 'pooler_output', 'hidden_states.0', 'hidden_states.1', 'hidden_states.2']);
      assert.equal(spec('text_encoder', 'last_hidden_state')?.type, want.floatType);
      assert.deepEqual(spec('unet', 'sample')?.shape, ['batch_size', want.inChannels, 'height', 'width']);
      assert.equal(spec('unet', 'sample')?.type, want.floatType);
      assert.equal(spec('unet', 'timestep')?.type, want.timestep.type);
      assert.equal(spec('unet', 'timestep')?.shape.length, want.timestep.rank);
      assert.deepEqual(spec('unet', 'encoder_hidden_states')?.shape, ['batch_size', 'sequence_length', 768]);
      assert.deepEqual(io.unet!.outputs.map((o) => o.name), ['out_sample']);
      assert.deepEqual(io.vae_encoder!.outputs.map((o) => o.name), [want.encoderOutput]);
      assert.equal(m.description.kind, 'sd1');
      assert.equal(m.description.unetInChannels, want.inChannels);

      const te = await m.textEncoder!.run({ input_ids: ids([[320, 1125], [539]]) });
      assert.deepEqual(te.last_hidden_state.shape, [2, 77, 768]);
      assert.deepEqual(te.pooler_output.shape, [2, 768]);
      assert.deepEqual(te['hidden_states.2'].shape, [2, 77, 768]);
      const un = await m.unet.run({ sample: noise([2, want.inChannels, 8, 8], 1), timestep: { timestep: 999 }, encoder_hidden_states: te.last_hidden_state });
      assert.deepEqual(un.out_sample.shape, [2, 4, 8, 8]);
      const st = stats(un.out_sample);
      assert.ok(Math.abs(st.mean) < 0.1 && st.std > 0.8 && st.std < 1.2, `out_sample should be ~unit variance: ${JSON.stringify(st)}`);
      const img = await m.vaeDecoder!.run({ latent_sample: noise([1, 4, 8, 8], 2) });
      assert.deepEqual(img.sample.shape, [1, 3, 64, 64]);
      const ist = stats(img.sample);
      assert.ok(ist.min >= -1 && ist.max <= 1 && ist.std > 0.05, `decoded image should be in [-1,1] with contrast: ${JSON.stringify(ist)}`);
      const lat = await m.vaeEncoder!.run({ sample: img.sample });
      assert.deepEqual(lat[want.encoderOutput].shape, [1, want.encoderOutput === 'latent_parameters' ? 8 : 4, 8, 8]);
    });
  }
});

describe('generated networks respond to their inputs', () => {
  let m: LoadedModel;
  before(async () => {
    m = await loadModelFolder(tinyModel('fp32'), cache);
  });

  it('text encoder: the prompt changes the hidden states, pooler reads the EOS position', async () => {
    const a = await m.textEncoder!.run({ input_ids: ids([[320, 1125]]) });
    const b = await m.textEncoder!.run({ input_ids: ids([[320, 2368]]) });
    assert.ok(maxAbsDiff(a.last_hidden_state, b.last_hidden_state) > 0.1);
    assert.ok(maxAbsDiff(a['hidden_states.1'], b['hidden_states.1']) > 0.1);
    // Causal attention: the BOS position cannot see the changed token.
    const bos = (t: Tensor) => t.data.subarray(0, 768);
    assert.deepEqual(bos(a.last_hidden_state), bos(b.last_hidden_state));
    // CLIP pools at argmax(ids) = the first EOS, here position 3.
    assert.deepEqual(a.pooler_output.data, a.last_hidden_state.data.slice(3 * 768, 4 * 768));
    // hidden_states.0 is the embedding, different from the last layer.
    assert.ok(maxAbsDiff(a['hidden_states.0'], a['hidden_states.2']) > 0.1);
  });

  it('U-Net: output depends on timestep, prompt and sample', async () => {
    const te1 = (await m.textEncoder!.run({ input_ids: ids([[320, 1125]]) })).last_hidden_state;
    const te2 = (await m.textEncoder!.run({ input_ids: ids([[2368, 539]]) })).last_hidden_state;
    const x = noise([1, 4, 8, 8], 3);
    const run = async (t: number, ehs: Tensor, s = x) => (await m.unet.run({ sample: s, timestep: { timestep: t }, encoder_hidden_states: ehs })).out_sample;
    const base = await run(999, te1);
    assert.ok(maxAbsDiff(base, await run(500, te1)) > 1e-3, 'timestep should matter');
    assert.ok(maxAbsDiff(base, await run(999, te2)) > 1e-3, 'prompt should matter');
    assert.ok(maxAbsDiff(base, await run(999, te1, noise([1, 4, 8, 8], 4))) > 0.1, 'sample should matter');
    assert.ok(maxAbsDiff(base, await run(999, te1)) === 0, 'same inputs, same output');
  });

  it('fp16-weight variant computes the same network within fp16 precision', async () => {
    const h = await loadModelFolder(tinyModel('fp16'), cache);
    const input = { input_ids: ids([[320, 1125]]) };
    const a = (await m.textEncoder!.run(input)).last_hidden_state;
    const b = (await h.textEncoder!.run(input)).last_hidden_state;
    assert.ok(maxAbsDiff(a, b) < 0.05, `fp16 weights drifted by ${maxAbsDiff(a, b)}`);
    const x = noise([1, 4, 8, 8], 5);
    const ua = (await m.unet.run({ sample: x, timestep: { timestep: 500 }, encoder_hidden_states: a })).out_sample;
    const ub = (await h.unet.run({ sample: x, timestep: { timestep: 500 }, encoder_hidden_states: a })).out_sample;
    assert.ok(maxAbsDiff(ua, ub) < 0.05, `fp16 U-Net drifted by ${maxAbsDiff(ua, ub)}`);
  });

  it('a 64×64, 4-step CFG generation (Euler) runs and stays bounded', async () => {
    const cond = (await m.textEncoder!.run({ input_ids: ids([[539, 1125], []]) }, ['last_hidden_state'])).last_hidden_state;
    const sigmas = [14.6, 4.0, 1.2, 0.3, 0];
    const lat = noise([1, 4, 8, 8], 9);
    const x = Float32Array.from(lat.data, (v) => v * sigmas[0] * 1.7);
    for (let i = 0; i < 4; i++) {
      const cin = 1 / Math.sqrt(sigmas[i] ** 2 + 1);
      const both = new Float32Array(2 * x.length);
      both.set(x.map((v) => v * cin));
      both.set(x.map((v) => v * cin), x.length);
      const eps = (await m.unet.run({ sample: { data: both, shape: [2, 4, 8, 8] }, timestep: { timestep: 999 - i * 250 }, encoder_hidden_states: cond })).out_sample.data;
      for (let j = 0; j < x.length; j++) {
        const e = eps[x.length + j] + 7.5 * (eps[j] - eps[x.length + j]);
        x[j] += (sigmas[i + 1] - sigmas[i]) * e;
      }
    }
    const img = await m.vaeDecoder!.run({ latent_sample: { data: x.map((v) => v / 0.18215), shape: [1, 4, 8, 8] } });
    assert.deepEqual(img.sample.shape, [1, 3, 64, 64]);
    assert.ok(img.sample.data.every((v) => Number.isFinite(v) && v >= -1 && v <= 1));
  });
});
