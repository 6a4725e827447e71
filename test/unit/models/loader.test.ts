import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeModelFolder, loadModelFolder, ModelFolderError, listCheckpoints, listLoras, listVaes, resolveCheckpoint, resolveVae, scanModelsRoots } from '../../../src/inference/models';
import { SessionCache } from '../../../src/inference/ort/sessionCache';
import { GraphBuilder } from '../../../src/inference/onnx/graphBuilder';
import { ensureDefaultModels, DEFAULT_CHECKPOINT_NAME } from '../../../tools/modelgen/writeModelFolder';
import { scratchDir, tinyModel } from './fixtures';

const cache = new SessionCache({ ep: 'cpu' });
after(() => cache.freeAll());

function copyModel(src: string, name: string): string {
  const dst = path.join(scratchDir(name), name);
  fs.cpSync(src, dst, { recursive: true });
  return dst;
}

/** A valid ONNX file whose IO is not the U-Net's: x → y through a Relu. */
function writeWrongIoModel(file: string): void {
  const g = new GraphBuilder('wrong', 'float32');
  const x = g.input('x', 'float32', ['n', 4]);
  g.output('y', g.op('Relu', [x]), 'float32', ['n', 4]);
  fs.writeFileSync(file, g.build().model);
}

describe('describeModelFolder', () => {
  it('reads an optimum/diffusers folder: kind, configs, tokenizer, prediction type, scale', () => {
    const d = describeModelFolder(tinyModel('fp32'));
    assert.equal(d.kind, 'sd1');
    assert.equal(d.layout, 'diffusers');
    assert.equal(d.pipelineClass, 'OnnxStableDiffusionPipeline');
    assert.equal(d.predictionType, 'epsilon');
    assert.equal(d.scalingFactor, 0.18215);
    assert.equal(d.unetInChannels, 4);
    assert.equal(d.crossAttentionDim, 768);
    assert.equal(d.defaultImageSize, 512);
    assert.deepEqual(Object.keys(d.components).sort(), ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder']);
    assert.ok(d.tokenizer && fs.existsSync(d.tokenizer.vocab) && fs.existsSync(d.tokenizer.merges));
    assert.ok(d.tokenizer.specialTokensMap?.endsWith('special_tokens_map.json'));
    assert.equal(d.schedulerConfig?.beta_schedule, 'scaled_linear');
    assert.deepEqual(d.components.unet.externalData, []);
    assert.deepEqual(d.warnings, []);
  });

  it('reads v-prediction and inpainting from the configs', () => {
    assert.equal(describeModelFolder(tinyModel('vpred')).predictionType, 'v_prediction');
    assert.equal(describeModelFolder(tinyModel('inpaint')).unetInChannels, 9);
  });

  it('lists whatever external-data file sits beside model.onnx', () => {
    for (const [variant, file] of [['external-data', 'model.onnx_data'], ['external-weights-pb', 'weights.pb'], ['external-dot-data,no-index', 'model.onnx.data']]) {
      const d = describeModelFolder(tinyModel(variant));
      assert.deepEqual(d.components.unet.externalData.map((f) => path.basename(f)), [file], variant);
    }
  });

  it('handles a folder without model_index.json or configs with family defaults', () => {
    const d = describeModelFolder(tinyModel('no-index'));
    assert.equal(d.layout, 'no-model-index');
    assert.equal(d.kind, 'unknown'); // nothing on disk says; loading reads it from the IO
    assert.equal(d.scalingFactor, 0.18215);
    assert.equal(d.predictionType, 'epsilon');
    assert.equal(d.schedulerConfig, undefined);
  });

  it('honours scaling_factor, prediction_type and SDXL markers when present', () => {
    const dir = copyModel(tinyModel('fp32'), 'cfg');
    const vaeCfg = path.join(dir, 'vae_decoder', 'config.json');
    fs.writeFileSync(vaeCfg, JSON.stringify({ ...JSON.parse(fs.readFileSync(vaeCfg, 'utf8')), scaling_factor: 0.5 }));
    const idx = path.join(dir, 'model_index.json');
    fs.writeFileSync(idx, JSON.stringify({ ...JSON.parse(fs.readFileSync(idx, 'utf8')), _class_name: 'ORTStableDiffusionXLPipeline' }));
    const d = describeModelFolder(dir);
    assert.equal(d.scalingFactor, 0.5);
    assert.equal(d.kind, 'sdxl');
  });

  it('gives specific errors for a missing folder, a file, a missing U-Net and bad JSON', () => {
    const err = (fn: () => unknown, code: string, re: RegExp) =>
      assert.throws(fn, (e: unknown) => e instanceof ModelFolderError && e.code === code && re.test(e.message));
    const none = path.join(scratchDir('none'), 'nope');
    err(() => describeModelFolder(none), 'missing-folder', /nope does not exist/);
    const file = path.join(scratchDir('file'), 'x.safetensors');
    fs.writeFileSync(file, 'x');
    err(() => describeModelFolder(file), 'missing-folder', /is a file, not a model folder/);
    const noUnet = copyModel(tinyModel('fp32'), 'nounet');
    fs.rmSync(path.join(noUnet, 'unet'), { recursive: true });
    err(() => describeModelFolder(noUnet), 'missing-component', /has no unet\/model\.onnx \(it contains: .*text_encoder/);
    const badJson = copyModel(tinyModel('fp32'), 'badjson');
    fs.writeFileSync(path.join(badJson, 'scheduler', 'scheduler_config.json'), '{ nope');
    err(() => describeModelFolder(badJson), 'bad-config', /scheduler_config\.json/);
  });
});

describe('loadModelFolder', () => {
  it('loads every component, records the EP, and refines a config-less folder from its IO', async () => {
    const m = await loadModelFolder(tinyModel('no-index'), cache);
    assert.equal(m.description.kind, 'sd1'); // from encoder_hidden_states' 768
    assert.equal(m.description.unetInChannels, 4);
    assert.equal(m.unet.ep, 'cpu');
    assert.equal(m.io.vae_decoder?.ep, 'cpu');
  });

  it('loads U-Net weights from each external-data file name', async () => {
    for (const variant of ['external-data', 'external-weights-pb', 'external-dot-data,no-index']) {
      const m = await loadModelFolder(tinyModel(variant), cache, { open: ['unet'] });
      const out = await m.unet.run({ sample: { data: new Float32Array(4 * 8 * 8).fill(0.5), shape: [1, 4, 8, 8] }, timestep: { timestep: 10 }, encoder_hidden_states: { data: new Float32Array(77 * 768).fill(0.1), shape: [1, 77, 768] } });
      assert.deepEqual(out.out_sample.shape, [1, 4, 8, 8], variant);
    }
  });

  it('fails naming the file when a model is corrupt', async () => {
    const dir = copyModel(tinyModel('fp32'), 'corrupt');
    fs.writeFileSync(path.join(dir, 'unet', 'model.onnx'), Buffer.from('this is not a protobuf model at all'));
    await assert.rejects(loadModelFolder(dir, cache), (e: unknown) => e instanceof ModelFolderError && e.code === 'corrupt-model' && /could not load unet\/model\.onnx in .*corrupt/.test(e.message));
  });

  it('reports an unavailable explicit EP as such, not as a corrupt model', async () => {
    const failing = new SessionCache({ ep: 'webgpu', factory: async () => Promise.reject(new Error('Failed to get a WebGPU adapter')) });
    await assert.rejects(loadModelFolder(tinyModel('fp32'), failing, { open: ['unet'] }), (e: unknown) => e instanceof ModelFolderError && e.code === 'ep-unavailable' && /execution provider 'webgpu' could not create a session for unet\/model\.onnx in [\s\S]*webgpu: Failed to get a WebGPU adapter/.test(e.message));
  });

  it('fails when the external data file is missing, naming the model', async () => {
    const dir = copyModel(tinyModel('external-data'), 'noext');
    fs.rmSync(path.join(dir, 'unet', 'model.onnx_data'));
    await assert.rejects(loadModelFolder(dir, cache, { open: ['unet'] }), (e: unknown) => e instanceof ModelFolderError && /unet\/model\.onnx in .*noext/.test(e.message));
  });

  it('lists expected versus found IO names for a wrong model', async () => {
    const dir = copyModel(tinyModel('fp32'), 'wrongio');
    writeWrongIoModel(path.join(dir, 'unet', 'model.onnx'));
    await assert.rejects(loadModelFolder(dir, cache), (e: unknown) => {
      assert.ok(e instanceof ModelFolderError && e.code === 'io-mismatch', String(e));
      assert.match(e.message, /unet\/model\.onnx in .* is not a Stable Diffusion U-Net/);
      assert.match(e.message, /missing input\(s\) sample, timestep, encoder_hidden_states; unexpected input\(s\) x; missing output\(s\) out_sample/);
      assert.match(e.message, /found inputs: +x/);
      assert.match(e.message, /found outputs: +y/);
      return true;
    });
  });

  it('opens only the requested components and fails clearly for an absent one', async () => {
    const dir = copyModel(tinyModel('fp32'), 'noenc');
    fs.rmSync(path.join(dir, 'vae_encoder'), { recursive: true });
    const m = await loadModelFolder(dir, cache, { open: ['unet'] });
    assert.deepEqual(Object.keys(m.io), ['unet']);
    assert.equal(m.vaeEncoder, undefined);
    await assert.rejects(loadModelFolder(dir, cache, { open: ['vae_encoder'] }), /has no vae_encoder\/model\.onnx/);
  });

  it('turns bad feeds into errors that name the model and input', async () => {
    const m = await loadModelFolder(tinyModel('fp32'), cache, { open: ['unet'] });
    await assert.rejects(m.unet.run({ sample: { data: new Float32Array(9 * 64), shape: [1, 9, 8, 8] }, timestep: { timestep: 1 }, encoder_hidden_states: { data: new Float32Array(768), shape: [1, 1, 768] } }), /input 'sample' of unet\/model\.onnx in .* expects shape \[batch_size, 4, height, width\], got \[1, 9, 8, 8\]/);
    await assert.rejects(m.unet.run({ sample: { data: new Float32Array(4 * 64), shape: [1, 4, 8, 8] } }), /needs input\(s\) timestep, encoder_hidden_states/);
  });
});

describe('models root (ComfyUI layout)', () => {
  let root: string;
  before(() => {
    root = scratchDir('root');
    fs.cpSync(tinyModel('fp32'), path.join(root, 'checkpoints', 'marble-tiny'), { recursive: true });
    fs.cpSync(tinyModel('fp32'), path.join(root, 'checkpoints', 'SD15', 'nested'), { recursive: true });
    fs.writeFileSync(path.join(root, 'checkpoints', 'real.safetensors'), 'not onnx');
    fs.mkdirSync(path.join(root, 'checkpoints', 'empty-dir'));
    fs.cpSync(path.join(tinyModel('fp32'), 'vae_decoder'), path.join(root, 'vae', 'my-vae', 'vae_decoder'), { recursive: true });
    fs.cpSync(path.join(tinyModel('fp32'), 'vae_decoder', 'model.onnx'), path.join(root, 'vae', 'bare.onnx'));
    fs.mkdirSync(path.join(root, 'loras', 'style'), { recursive: true });
    fs.writeFileSync(path.join(root, 'loras', 'style', 'ink.safetensors'), 'x');
    fs.writeFileSync(path.join(root, 'loras', 'notes.txt'), 'x');
  });

  it('lists model folders as checkpoint names, nested ones with the OS separator', () => {
    assert.deepEqual(listCheckpoints([root]), ['SD15' + path.sep + 'nested', 'marble-tiny'].sort());
    assert.deepEqual(listVaes([root]), ['bare.onnx', 'my-vae']);
    assert.deepEqual(listLoras([root]), [path.join('style', 'ink.safetensors')]);
    assert.deepEqual(scanModelsRoots([root]).checkpoints, listCheckpoints([root]));
  });

  it('resolves ComfyUI file-style names to folders by base name', () => {
    const tiny = path.join(root, 'checkpoints', 'marble-tiny');
    assert.equal(resolveCheckpoint([root], 'marble-tiny'), tiny);
    assert.equal(resolveCheckpoint([root], 'marble-tiny.safetensors'), tiny);
    assert.equal(resolveCheckpoint([root], 'MARBLE-TINY.ckpt'), tiny);
    assert.equal(resolveCheckpoint([root], 'SD15\\nested.safetensors'), path.join(root, 'checkpoints', 'SD15', 'nested'));
    assert.equal(resolveCheckpoint([path.join(root, 'missing-root'), root], 'SD15/nested'), path.join(root, 'checkpoints', 'SD15', 'nested'));
    assert.equal(resolveVae([root], 'my-vae').decoder, path.join(root, 'vae', 'my-vae', 'vae_decoder', 'model.onnx'));
    assert.equal(resolveVae([root], 'bare.onnx').decoder, path.join(root, 'vae', 'bare.onnx'));
  });

  it('a missing checkpoint error lists what is available and explains non-ONNX files', () => {
    assert.throws(() => resolveCheckpoint([root], 'v1-5-pruned-emaonly.safetensors'), (e: unknown) => e instanceof ModelFolderError && e.code === 'not-found' && /checkpoint 'v1-5-pruned-emaonly\.safetensors' not found in .*checkpoints; available: .*marble-tiny/.test(e.message));
    assert.throws(() => resolveCheckpoint([root], 'real.safetensors'), /real\.safetensors exists but is not an ONNX model folder/);
    assert.throws(() => resolveCheckpoint([scratchDir('empty')], 'x'), /none are installed/);
    assert.throws(() => resolveVae([root], 'nope'), /vae 'nope' not found .*available: bare\.onnx, my-vae/);
  });

  it('ensureDefaultModels creates the default checkpoint once, atomically', () => {
    const r = scratchDir('default');
    const first = ensureDefaultModels(r);
    assert.equal(first.created, true);
    assert.equal(first.dir, path.join(r, 'checkpoints', DEFAULT_CHECKPOINT_NAME));
    assert.equal(resolveCheckpoint([r], `${DEFAULT_CHECKPOINT_NAME}.safetensors`), first.dir);
    const stamp = fs.statSync(path.join(first.dir, 'unet', 'model.onnx')).mtimeMs;
    assert.equal(ensureDefaultModels(r).created, false);
    assert.equal(fs.statSync(path.join(first.dir, 'unet', 'model.onnx')).mtimeMs, stamp);
    assert.deepEqual(fs.readdirSync(path.join(r, 'checkpoints')), [DEFAULT_CHECKPOINT_NAME]);
    // fp16 weights with fp32 IO, like the name promises.
    assert.ok(fs.statSync(path.join(first.dir, 'unet', 'model.onnx')).size < fs.statSync(path.join(tinyModel('fp32'), 'unet', 'model.onnx')).size * 0.6);
  });
});
