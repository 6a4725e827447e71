// /object_info from the registry: folder-backed combos are filled from the configured folders.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildObjectInfo } from '../../../src/inference/host/objectInfo';
import { registryOf } from '../../../src/inference/nodes/registry';
import { defaultRuntimeConfig } from '../../../src/inference/nodes/runtimeConfig';
import { schemaOf } from '../../../src/inference/nodes/schema';
import { imageNodes } from '../../../src/inference/nodes/image';
import { tempDir } from './helpers';

describe('object_info', () => {
  const tmp = tempDir('marble-oi-');
  after(() => tmp.remove());

  it('lists input images and model files (from every models root) in combos', async () => {
    const config = { ...defaultRuntimeConfig(tmp.dir), modelsRoots: [path.join(tmp.dir, 'm1'), path.join(tmp.dir, 'm2')] };
    for (const f of ['m1/checkpoints/sd15.onnx', 'm1/checkpoints/notes.txt', 'm2/checkpoints/xl/base.safetensors', 'input/b.png', 'input/a.jpg', 'input/readme.md']) {
      mkdirSync(path.dirname(path.join(tmp.dir, f)), { recursive: true });
      writeFileSync(path.join(tmp.dir, f), '');
    }
    const ckpt = { schema: schemaOf('CheckpointLoaderSimple'), run: () => ({ outputs: [] }) };
    const registry = registryOf(imageNodes(() => config), [ckpt]);
    const info = await buildObjectInfo(registry, config);
    assert.deepEqual(info.LoadImage.input.required!.image[0], ['a.jpg', 'b.png']);
    assert.deepEqual(info.LoadImageMask.input.required!.image[0], ['a.jpg', 'b.png', 'readme.md']);
    assert.deepEqual(info.CheckpointLoaderSimple.input.required!.ckpt_name[0], ['sd15.onnx', 'xl/base.safetensors']);
    assert.equal(info.SaveImage.output_node, true);
    // The registry's own schema is not modified.
    assert.deepEqual(registry.get('LoadImage')!.schema.input.required!.image[0], []);
  });

  it('refuses a class registered twice', () => {
    assert.throws(() => registryOf(imageNodes(() => defaultRuntimeConfig(tmp.dir)), imageNodes(() => defaultRuntimeConfig(tmp.dir))), /node class 'SaveImage' is registered twice/);
  });
});
