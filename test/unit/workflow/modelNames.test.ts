import assert from 'node:assert/strict';
import { folderOfHint, matchModelName, scanModelFolder, type DirEntry } from '../../../src/workflow/modelNames';

// An in-memory models root: paths ending in '/' are folders.
function lister(paths: string[]) {
  return (rel: string): DirEntry[] => {
    const prefix = rel ? `${rel}/` : '';
    const names = new Map<string, boolean>();
    for (const p of paths) {
      if (!p.startsWith(prefix)) continue;
      const rest = p.slice(prefix.length);
      const [head, ...tail] = rest.split('/');
      if (head) names.set(head, tail.length > 0);
    }
    return [...names].map(([name, isDirectory]) => ({ name, isDirectory }));
  };
}

describe('workflow/modelNames', () => {
  const list = lister([
    'checkpoints/v1-5-pruned-emaonly-fp16/unet/model.onnx',
    'checkpoints/v1-5-pruned-emaonly-fp16/model_index.json',
    'checkpoints/sdxl/base.safetensors',
    'checkpoints/onnxstack-sd15/unet/model.onnx',
    'checkpoints/onnxstack-sd15/unet/model.onnx_data',
    'checkpoints/notes.txt',
    'checkpoints/.hidden.ckpt',
    'loras/lcm.safetensors',
    'vae/',
  ]);

  it('lists model files recursively and ONNX pipeline folders as one model', () => {
    assert.deepEqual(scanModelFolder(list, 'checkpoints'), ['onnxstack-sd15', 'sdxl/base.safetensors', 'v1-5-pruned-emaonly-fp16']);
    assert.deepEqual(scanModelFolder(list, 'loras'), ['lcm.safetensors']);
    assert.deepEqual(scanModelFolder(list, 'missing'), []);
  });

  it('matches exact names, Windows separators and base names without extension', () => {
    const names = scanModelFolder(list, 'checkpoints');
    assert.equal(matchModelName('v1-5-pruned-emaonly-fp16.safetensors', names), 'v1-5-pruned-emaonly-fp16');
    assert.equal(matchModelName('sdxl\\base.safetensors', names), 'sdxl/base.safetensors');
    assert.equal(matchModelName('sdxl/base.ckpt', names), 'sdxl/base.safetensors');
    assert.equal(matchModelName('v1-5-pruned-emaonly.ckpt', names), undefined);
  });

  it('reads the folder from the catalogue hint', () => {
    assert.equal(folderOfHint("vae (+ 'taesd' …)"), 'vae');
    assert.equal(folderOfHint('checkpoints'), 'checkpoints');
    assert.equal(folderOfHint(undefined), undefined);
  });
});
