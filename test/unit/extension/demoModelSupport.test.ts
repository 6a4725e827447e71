import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  bundledDemoModel, checkpointsIn, DEMO_CHECKPOINT, demoModelFile, demoModelValues, headingLine, installDemoModel, MODELS_README_HEADING,
} from '../../../src/extension/demoModelSupport';
import { DEMO_MODEL } from '../../../src/workflow/demoModel';
import type { ObjectInfo } from '../../../src/workflow/objectInfo';

const repoRoot = path.resolve(__dirname, '../../..');

function loaderInfo(list: unknown): ObjectInfo {
  return { CheckpointLoaderSimple: { input: { required: { ckpt_name: [list, {}] } } } } as unknown as ObjectInfo;
}

describe('demoModelSupport', () => {
  describe('checkpointsIn', () => {
    it('lists the ckpt_name combo of CheckpointLoaderSimple', () => {
      assert.deepEqual(checkpointsIn(loaderInfo(['a.safetensors', 'b'])), ['a.safetensors', 'b']);
    });
    it('is empty when the combo is empty or the loader is missing', () => {
      assert.deepEqual(checkpointsIn(loaderInfo([])), []);
      assert.deepEqual(checkpointsIn({}), []);
      assert.deepEqual(checkpointsIn(loaderInfo('not a list')), []);
    });
  });

  describe('headingLine', () => {
    it('finds the models section of the shipped README', () => {
      const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
      const line = headingLine(readme, MODELS_README_HEADING);
      assert.ok(line > 0);
      assert.equal(readme.split(/\r?\n/)[line], MODELS_README_HEADING);
    });
    it('falls back to the top when the heading is missing', () => {
      assert.equal(headingLine('# Title\r\n## Other\n', MODELS_README_HEADING), 0);
      assert.equal(headingLine('# Title\r\n## Models: where they go  \n', MODELS_README_HEADING), 1);
    });
  });

  describe('installDemoModel', () => {
    let tmp: string;
    beforeEach(() => { tmp = mkdtempSync(path.join(os.tmpdir(), 'marble-demo-')); });
    afterEach(() => rmSync(tmp, { recursive: true, force: true }));

    it('copies the bundled checkpoint into checkpoints/, keeps an identical copy and replaces a different one', () => {
      const root = path.join(tmp, 'models');
      const first = installDemoModel(repoRoot, root);
      assert.deepEqual(first, { file: path.join(root, 'checkpoints', DEMO_CHECKPOINT), copied: true });
      assert.equal(first.file, demoModelFile(root));
      assert.ok(readFileSync(first.file).equals(readFileSync(bundledDemoModel(repoRoot))));
      assert.deepEqual(readdirSync(path.dirname(first.file)), [DEMO_CHECKPOINT], 'no temp file left');
      assert.equal(installDemoModel(repoRoot, root).copied, false);
      truncateSync(first.file, 100);
      assert.equal(installDemoModel(repoRoot, root).copied, true);
      assert.equal(statSync(first.file).size, statSync(bundledDemoModel(repoRoot)).size);
    });

    it('says which file is missing or over its bound, and installs nothing', () => {
      const ext = path.join(tmp, 'ext');
      assert.throws(() => installDemoModel(ext, path.join(tmp, 'models')), /bundled demo model is missing: .*marble-shapes-tiny\.safetensors/);
      mkdirSync(path.dirname(bundledDemoModel(ext)), { recursive: true });
      writeFileSync(bundledDemoModel(ext), '');
      truncateSync(bundledDemoModel(ext), DEMO_MODEL.maxBytes + 1);
      assert.throws(() => installDemoModel(ext, path.join(tmp, 'models')), /over its 20971520-byte bound/);
      assert.equal(existsSync(path.join(tmp, 'models')), false);
    });
  });

  describe('demoModelValues', () => {
    it("fills the model's 64×64 and empty negative, keeping what the caller chose", () => {
      assert.deepEqual(demoModelValues({ prompt: 'p' }), { prompt: 'p', width: 64, height: 64, negative: '' });
      assert.deepEqual(demoModelValues({ prompt: 'p', width: 128, negative: 'blurry' }), { prompt: 'p', width: 128, height: 64, negative: 'blurry' });
    });
  });
});
