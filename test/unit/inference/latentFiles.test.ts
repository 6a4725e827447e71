// SaveLatent / LoadLatent: ComfyUI's .latent format, counter naming, legacy scaling, bad files.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildObjectInfo } from '../../../src/inference/host/objectInfo';
import { createNodeRegistry } from '../../../src/inference/nodes/registry';
import { defaultRuntimeConfig, type RuntimeConfig } from '../../../src/inference/nodes/runtimeConfig';
import { SafetensorsFile } from '../../../src/inference/safetensors/read';
import { bytesOf, writeSafetensors } from '../../../src/inference/safetensors/write';
import { tensor, type Latent } from '../../../src/inference/tensor';
import { fakeCtx, tempDir } from './helpers';

describe('SaveLatent / LoadLatent', () => {
  const tmp = tempDir('marble-latent-');
  const config: RuntimeConfig = defaultRuntimeConfig(tmp.dir);
  const registry = createNodeRegistry(() => config);
  const save = registry.get('SaveLatent')!;
  const load = registry.get('LoadLatent')!;
  after(() => tmp.remove());

  const samples = tensor([1, 4, 2, 3], Float32Array.from({ length: 24 }, (_, i) => (i - 11.5) / 7));
  const prompt = { '9': { class_type: 'SaveLatent', inputs: { samples: ['3', 0], filename_prefix: 'latents/ComfyUI' } } };

  it('writes latents/ComfyUI_00001_.latent with latent_tensor, the version marker and prompt metadata', async () => {
    const res = await save.run({ samples: { samples }, filename_prefix: 'latents/ComfyUI' }, fakeCtx(prompt, { workflow: { nodes: [] } }));
    assert.deepEqual(res.ui, { latents: [{ filename: 'ComfyUI_00001_.latent', subfolder: 'latents', type: 'output' }] });
    const file = path.join(config.outputDir, 'latents', 'ComfyUI_00001_.latent');
    const st = await SafetensorsFile.open(file);
    try {
      assert.deepEqual(st.tensors.get('latent_tensor')!.shape, [1, 4, 2, 3]);
      assert.equal(st.tensors.get('latent_tensor')!.dtype, 'F32');
      assert.deepEqual(st.tensors.get('latent_format_version_0')!.shape, [0]);
      assert.deepEqual([...(await st.readFloat32('latent_tensor'))], [...samples.data]);
      assert.deepEqual(JSON.parse(st.metadata!.prompt), prompt);
      assert.ok(st.metadata!.prompt.startsWith('{"9": {"class_type": "SaveLatent"'), 'json.dumps separators');
      assert.deepEqual(JSON.parse(st.metadata!.workflow), { nodes: [] });
    } finally {
      await st.close();
    }
    const again = await save.run({ samples: { samples }, filename_prefix: 'latents/ComfyUI' }, fakeCtx());
    assert.equal((again.ui!.latents as { filename: string }[])[0].filename, 'ComfyUI_00002_.latent');
  });

  it('loads a saved latent back exactly, and lists only .latent files in object_info', async () => {
    mkdirSync(config.inputDir, { recursive: true });
    copyFileSync(path.join(config.outputDir, 'latents', 'ComfyUI_00001_.latent'), path.join(config.inputDir, 'saved.latent'));
    writeFileSync(path.join(config.inputDir, 'picture.png'), 'x');
    const info = await buildObjectInfo(registry, config);
    assert.deepEqual(info.LoadLatent.input.required!.latent[0], ['saved.latent']);
    assert.equal(await load.validateInputs!({ latent: 'saved.latent' }), true);
    const out = await load.run({ latent: 'saved.latent' }, fakeCtx());
    const latent = out.outputs[0] as Latent;
    assert.deepEqual(latent.samples.shape, [1, 4, 2, 3]);
    assert.deepEqual([...latent.samples.data], [...samples.data]);
    // From the output folder through ComfyUI's annotation.
    const viaOutput = await load.run({ latent: 'latents/ComfyUI_00001_.latent [output]' }, fakeCtx());
    assert.deepEqual([...(viaOutput.outputs[0] as Latent).samples.data], [...samples.data]);
  });

  it('scales legacy files (no latent_format_version_0) by 1/0.18215 in float32, and widens f16', async () => {
    const half = new Uint16Array([0x3c00, 0xc000, 0x3800, 0]); // 1, -2, 0.5, 0
    await writeSafetensors(path.join(config.inputDir, 'old.latent'), [{ name: 'latent_tensor', dtype: 'F16', shape: [1, 1, 2, 2], data: bytesOf(half) }]);
    const out = await load.run({ latent: 'old.latent' }, fakeCtx());
    const k = Math.fround(1 / 0.18215);
    assert.deepEqual([...(out.outputs[0] as Latent).samples.data], [k, Math.fround(-2 * k), Math.fround(0.5 * k), 0]);
  });

  it('refuses missing files, paths outside the input folder, and files that are not latents', async () => {
    assert.equal(await load.validateInputs!({ latent: 'nope.latent' }), 'Invalid latent file: nope.latent');
    assert.match(String(await load.validateInputs!({ latent: '../../etc/passwd' })), /outside the input folder/);
    await writeSafetensors(path.join(config.inputDir, 'weights.latent'), [{ name: 'w', dtype: 'F32', shape: [1], data: new Uint8Array(4) }]);
    await assert.rejects(async () => load.run({ latent: 'weights.latent' }, fakeCtx()), /weights\.latent: not a latent file \(it has no 'latent_tensor'; found 'w'\)/);
    writeFileSync(path.join(config.inputDir, 'junk.latent'), 'not a safetensors file at all');
    await assert.rejects(async () => load.run({ latent: 'junk.latent' }, fakeCtx()), /junk\.latent: claims a \d+-byte header/);
    await assert.rejects(async () => save.run({ samples: { samples }, filename_prefix: '../x' }, fakeCtx()), /outside the output folder/);
    assert.deepEqual(readdirSync(path.join(config.outputDir, 'latents')).filter((f) => f.endsWith('.tmp')), []);
  });
});
