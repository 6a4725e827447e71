import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  checkpointsIn, DEMO_CHECKPOINT, demoModelDir, headingLine, MODELS_README_HEADING, runModelGenerator,
} from '../../../src/extension/demoModelSupport';
import type { ObjectInfo } from '../../../src/workflow/objectInfo';

const repoRoot = path.resolve(__dirname, '../../..');
// The generator from source through tsx; the extension runs the same file bundled as dist/modelgen.js.
const generatorArgs = ['--import', 'tsx', path.join(repoRoot, 'tools/modelgen/cli.ts')];

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

  describe('runModelGenerator', function () {
    this.timeout(60_000);
    let tmp: string;
    beforeEach(() => { tmp = mkdtempSync(path.join(os.tmpdir(), 'marble-demo-')); });
    afterEach(() => rmSync(tmp, { recursive: true, force: true }));

    it('creates the default checkpoint folder in a child process, and leaves it alone the second time', async () => {
      const root = path.join(tmp, 'models');
      const lines: string[] = [];
      const dir = await runModelGenerator({ execPath: process.execPath, scriptArgs: generatorArgs, modelsRoot: root, onLine: (l) => lines.push(l) });
      assert.equal(dir, path.join(root, 'checkpoints', DEMO_CHECKPOINT));
      assert.equal(dir, demoModelDir(root));
      for (const f of ['model_index.json', 'unet/model.onnx', 'text_encoder/model.onnx', 'vae_decoder/model.onnx', 'tokenizer/vocab.json']) {
        assert.ok(existsSync(path.join(dir, f)), f);
      }
      assert.ok(lines.some((l) => l.startsWith('created ')), lines.join('\n'));
      const again: string[] = [];
      await runModelGenerator({ execPath: process.execPath, scriptArgs: generatorArgs, modelsRoot: root, onLine: (l) => again.push(l) });
      assert.ok(again.some((l) => l.startsWith('already present')), again.join('\n'));
    });

    it("rejects with the generator's reason when the target is a half model", async () => {
      const root = path.join(tmp, 'models');
      mkdirSync(demoModelDir(root), { recursive: true });
      await assert.rejects(
        runModelGenerator({ execPath: process.execPath, scriptArgs: generatorArgs, modelsRoot: root }),
        /Creating the demo model failed \(exit code 1\): modelgen: .* exists but has no unet\/model\.onnx/,
      );
    });

    it('does not start when already cancelled, and says when the binary cannot start', async () => {
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(runModelGenerator({ execPath: process.execPath, scriptArgs: generatorArgs, modelsRoot: tmp, signal: ac.signal }), /cancelled/);
      assert.equal(existsSync(path.join(tmp, 'checkpoints')), false);
      await assert.rejects(
        runModelGenerator({ execPath: path.join(tmp, 'no-such-node'), scriptArgs: [], modelsRoot: tmp }),
        /Cannot start the demo model generator .*no-such-node/,
      );
    });
  });
});
