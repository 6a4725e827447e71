import assert from 'node:assert/strict';
import { applyComboChanges, modelComboChanges } from '../../../src/extension/modelListRefresh';
import type { ObjectInfo, ObjectInfoEntry } from '../../../src/workflow/objectInfo';

const entry = (required: ObjectInfoEntry['input']['required']): ObjectInfoEntry => ({
  input: { required }, output: [], output_name: [], name: 'x', display_name: 'x', description: '', python_module: 'nodes', category: 'x', output_node: false,
});

describe('model list refresh (after a download)', () => {
  const before: ObjectInfo = {
    CheckpointLoaderSimple: entry({ ckpt_name: [['a.safetensors'], { x_folder: 'checkpoints' }] }),
    VAELoader: entry({ vae_name: [['v.safetensors', 'pixel_space'], { x_folder: 'vae' }] }),
    LoadImage: entry({ image: [['cat.png'], { x_folder: 'input', image_upload: true }] }),
    KSampler: entry({ sampler_name: [['euler', 'dpmpp_2m']] }),
  };

  it('lists only the folder-backed model combos that changed, never the input folder', () => {
    const after: ObjectInfo = {
      ...before,
      CheckpointLoaderSimple: entry({ ckpt_name: [['a.safetensors', 'new.safetensors'], { x_folder: 'checkpoints' }] }),
      LoadImage: entry({ image: [[], { x_folder: 'input', image_upload: true }] }),
      KSampler: entry({ sampler_name: [['euler']] }),
    };
    assert.deepEqual(modelComboChanges(before, after), [
      { type: 'comboValues', classType: 'CheckpointLoaderSimple', input: 'ckpt_name', values: ['a.safetensors', 'new.safetensors'] },
    ]);
    assert.deepEqual(modelComboChanges(before, before), []);
  });

  it('applies changes without touching other entries', () => {
    const changes = [{ type: 'comboValues' as const, classType: 'CheckpointLoaderSimple', input: 'ckpt_name', values: ['b.safetensors'] }];
    const out = applyComboChanges(before, changes);
    assert.deepEqual(out.CheckpointLoaderSimple!.input.required!.ckpt_name, [['b.safetensors'], { x_folder: 'checkpoints' }]);
    assert.equal(out.VAELoader, before.VAELoader);
    assert.deepEqual(before.CheckpointLoaderSimple!.input.required!.ckpt_name![0], ['a.safetensors'], 'the input is not modified');
  });
});
