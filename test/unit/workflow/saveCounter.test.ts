import assert from 'node:assert/strict';
import { nextSaveCounter, parseSaveName, saveName } from '../../../src/workflow/saveCounter';

describe('SaveImage counter (shared by the CLI and VS Code)', () => {
  it('counts past the largest existing <prefix>_<N>_ file, as ComfyUI does', () => {
    assert.equal(nextSaveCounter([], 'ComfyUI'), 1);
    assert.equal(nextSaveCounter(['ComfyUI_00001_.png'], 'ComfyUI'), 2);
    assert.equal(nextSaveCounter(['ComfyUI_00001_.png', 'ComfyUI_00007_.png', 'ComfyUI_x_.png', 'Other_00009_.png', 'ComfyUIx_00009_.png'], 'ComfyUI'), 8);
    assert.equal(nextSaveCounter(['comfyui_00003_.png'], 'ComfyUI'), 1, 'case-sensitive by default');
    assert.equal(nextSaveCounter(['comfyui_00003_.png'], 'ComfyUI', true), 4, 'case-insensitive where the file system is');
  });

  it('parses and writes SaveImage names; other names are not SaveImage names', () => {
    assert.deepEqual(parseSaveName('ComfyUI_00001_.png'), { filename: 'ComfyUI', counter: 1, tail: '.png' });
    assert.deepEqual(parseSaveName('my_run_00012_.png'), { filename: 'my_run', counter: 12, tail: '.png' });
    assert.equal(parseSaveName('photo.png'), undefined);
    assert.equal(parseSaveName('dup_1.png'), undefined);
    assert.equal(saveName('ComfyUI', 2), 'ComfyUI_00002_.png');
    assert.equal(saveName('ComfyUI', 123456), 'ComfyUI_123456_.png');
  });
});
