import assert from 'node:assert/strict';
import {
  checkExecutionProvider, checkOutputFolder, effectiveSetting, resolveModelsFolders,
} from '../../../src/extension/settingsResolution';

describe('settingsResolution', () => {
  describe('effectiveSetting', () => {
    const layers = { defaultValue: 'd', globalValue: 'g', workspaceValue: 'w', workspaceFolderValue: 'f' };
    it('prefers folder, then workspace values in a trusted workspace', () => {
      assert.equal(effectiveSetting(layers, true, 'x'), 'f');
      assert.equal(effectiveSetting({ ...layers, workspaceFolderValue: undefined }, true, 'x'), 'w');
    });
    it('ignores workspace layers when untrusted', () => {
      assert.equal(effectiveSetting(layers, false, 'x'), 'g');
      assert.equal(effectiveSetting({ defaultValue: 'd', workspaceValue: 'w' }, false, 'x'), 'd');
      assert.equal(effectiveSetting(undefined, false, 'x'), 'x');
    });
  });

  describe('resolveModelsFolders', () => {
    const base = { trusted: true, globalStorageModels: '/gs/models', testMode: false, delimiter: ':' };
    it('lists configured folders first, then the storage and extension defaults', () => {
      assert.deepEqual(
        resolveModelsFolders({ ...base, setting: { globalValue: ['/m1', ' /m2 ', ''] }, extensionModels: '/ext/models' }),
        ['/m1', '/m2', '/gs/models', '/ext/models'],
      );
    });
    it('drops a workspace value in an untrusted workspace', () => {
      assert.deepEqual(
        resolveModelsFolders({ ...base, trusted: false, setting: { workspaceValue: ['/evil'], globalValue: ['/mine'] } }),
        ['/mine', '/gs/models'],
      );
    });
    it('uses MARBLE_MODELS only in test mode', () => {
      const s = { globalValue: ['/m1'] };
      assert.deepEqual(resolveModelsFolders({ ...base, setting: s, testMode: true, envModels: '/t1:/t2' }), ['/t1', '/t2', '/gs/models']);
      assert.deepEqual(resolveModelsFolders({ ...base, setting: s, testMode: false, envModels: '/t1' }), ['/m1', '/gs/models']);
    });
    it('removes duplicates and rejects a non-array value', () => {
      assert.deepEqual(resolveModelsFolders({ ...base, setting: { globalValue: ['/gs/models'] } }), ['/gs/models']);
      assert.throws(() => resolveModelsFolders({ ...base, setting: { globalValue: '/m1' } }), /marble.modelsFolders: expected an array/);
    });
  });

  it('checkExecutionProvider accepts the enum only', () => {
    assert.equal(checkExecutionProvider('cuda'), 'cuda');
    assert.throws(() => checkExecutionProvider('tpu'), /executionProvider: expected one of auto/);
  });

  it('checkOutputFolder keeps output inside the workspace', () => {
    assert.equal(checkOutputFolder('./assets/generated/'), 'assets/generated');
    assert.equal(checkOutputFolder('img\\out'), 'img/out');
    assert.throws(() => checkOutputFolder('/tmp/x'), /inside the workspace/);
    assert.throws(() => checkOutputFolder('../x'), /inside the workspace/);
    assert.throws(() => checkOutputFolder(''), /relative to the workspace/);
  });
});
