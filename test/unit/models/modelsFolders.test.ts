// ComfyUI's models folders: .safetensors files and ONNX folders side by side, clip ≡ text_encoders,
// unet ≡ diffusion_models, pickles refused, names kept inside their folder, extra_model_paths.yaml.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listModelFiles } from '../../../src/inference/host/objectInfo';
import { ExtraModelPathsError, loadExtraModelPaths, parseYamlSubset } from '../../../src/inference/models/extraModelPaths';
import { ModelFolderError } from '../../../src/inference/models/modelFolder';
import { canonicalFolder, folderPaths, listModelNames, resolveModel } from '../../../src/inference/models/modelsRoot';
import { PICKLE_MESSAGE } from '../../../src/inference/safetensors/read';

function touch(file: string, content = 'x'): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

describe('models folders (ComfyUI layout)', () => {
  let tmp: string;
  let root: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'marble-models-'));
    root = path.join(tmp, 'ComfyUI', 'models');
    touch(path.join(root, 'checkpoints', 'a.safetensors'));
    touch(path.join(root, 'checkpoints', 'sub', 'b.safetensors'));
    touch(path.join(root, 'checkpoints', 'old.ckpt'));
    touch(path.join(root, 'checkpoints', 'notes.txt'));
    touch(path.join(root, 'checkpoints', 'sd15-onnx', 'unet', 'model.onnx'));
    touch(path.join(root, 'checkpoints', 'sd15-onnx', 'model_index.json'), '{}');
    touch(path.join(root, 'clip', 'x.safetensors'));
    touch(path.join(root, 'text_encoders', 'y.safetensors'));
    touch(path.join(root, 'unet', 'u.safetensors'));
    touch(path.join(root, 'diffusion_models', 'd.safetensors'));
    touch(path.join(root, 'vae', 'v.safetensors'));
    touch(path.join(root, 'vae', 'bare.onnx'));
    touch(path.join(root, 'vae', 'onnx-vae', 'vae_decoder', 'model.onnx'));
    touch(path.join(root, 'loras', 'l.safetensors'));
    touch(path.join(root, 'embeddings', 'e.safetensors'));
    touch(path.join(tmp, 'secret.safetensors'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('lists .safetensors files and ONNX folders side by side (and .ckpt, as ComfyUI does)', () => {
    assert.deepEqual(listModelNames([root], 'checkpoints'), ['a.safetensors', 'old.ckpt', 'sd15-onnx', 'sub/b.safetensors']);
    assert.deepEqual(listModelNames([root], 'vae'), ['bare.onnx', 'onnx-vae', 'v.safetensors']);
    assert.deepEqual(listModelNames([root], 'embeddings'), ['e.safetensors']);
    assert.deepEqual(listModelNames([root], 'loras'), ['l.safetensors']);
  });

  it('clip ≡ text_encoders and unet ≡ diffusion_models, in listings and object_info', async () => {
    assert.equal(canonicalFolder('clip'), 'text_encoders');
    assert.equal(canonicalFolder('unet'), 'diffusion_models');
    assert.deepEqual(listModelNames([root], 'clip'), ['x.safetensors', 'y.safetensors']);
    assert.deepEqual(listModelNames([root], 'text_encoders'), ['x.safetensors', 'y.safetensors']);
    assert.deepEqual(listModelNames([root], 'unet'), ['d.safetensors', 'u.safetensors']);
    assert.deepEqual(listModelNames([root], 'diffusion_models'), ['d.safetensors', 'u.safetensors']);
    assert.deepEqual(await listModelFiles('text_encoders', [root]), ['x.safetensors', 'y.safetensors']);
    assert.deepEqual(await listModelFiles('diffusion_models', [root]), ['d.safetensors', 'u.safetensors']);
    assert.deepEqual(folderPaths([root], 'unet'), [path.join(root, 'unet'), path.join(root, 'diffusion_models')]);
    assert.deepEqual(folderPaths([root], 'clip'), [path.join(root, 'text_encoders'), path.join(root, 'clip')]);
  });

  it('resolves names to a .safetensors file or an ONNX folder', () => {
    assert.deepEqual(resolveModel([root], 'checkpoints', 'a.safetensors'), { kind: 'safetensors', file: path.join(root, 'checkpoints', 'a.safetensors') });
    assert.deepEqual(resolveModel([root], 'checkpoints', 'sub\\b.safetensors'), { kind: 'safetensors', file: path.join(root, 'checkpoints', 'sub', 'b.safetensors') });
    assert.deepEqual(resolveModel([root], 'checkpoints', 'sd15-onnx'), { kind: 'onnx', dir: path.join(root, 'checkpoints', 'sd15-onnx') });
    // A ComfyUI workflow names the file; a converted ONNX folder of the same base name answers it.
    assert.deepEqual(resolveModel([root], 'checkpoints', 'sd15-onnx.safetensors'), { kind: 'onnx', dir: path.join(root, 'checkpoints', 'sd15-onnx') });
    assert.deepEqual(resolveModel([root], 'checkpoints', 'a'), { kind: 'safetensors', file: path.join(root, 'checkpoints', 'a.safetensors') });
    assert.deepEqual(resolveModel([root], 'clip', 'y.safetensors'), { kind: 'safetensors', file: path.join(root, 'text_encoders', 'y.safetensors') });
    assert.deepEqual(resolveModel([root], 'text_encoders', 'x.safetensors'), { kind: 'safetensors', file: path.join(root, 'clip', 'x.safetensors') });
    assert.deepEqual(resolveModel([root], 'unet', 'd.safetensors'), { kind: 'safetensors', file: path.join(root, 'diffusion_models', 'd.safetensors') });
    assert.deepEqual(resolveModel([root], 'vae', 'bare.onnx'), { kind: 'onnx-file', file: path.join(root, 'vae', 'bare.onnx') });
    assert.deepEqual(resolveModel([root], 'vae', 'onnx-vae'), { kind: 'onnx', dir: path.join(root, 'vae', 'onnx-vae') });
    // Roots are searched in order; a missing root is skipped.
    assert.deepEqual(resolveModel([path.join(tmp, 'nope'), root], 'vae', 'v.safetensors'), { kind: 'safetensors', file: path.join(root, 'vae', 'v.safetensors') });
  });

  it('refuses pickles with the .safetensors advice, and names that leave the folder', () => {
    assert.throws(() => resolveModel([root], 'checkpoints', 'old.ckpt'), (e: unknown) => e instanceof ModelFolderError && e.code === 'not-supported' && e.message === `${path.join(root, 'checkpoints', 'old.ckpt')}: ${PICKLE_MESSAGE}`);
    for (const bad of ['../../secret.safetensors', '..\\..\\secret.safetensors', path.join(tmp, 'secret.safetensors'), 'C:\\models\\x.safetensors', 'sub/../../x.safetensors']) {
      assert.throws(() => resolveModel([root], 'checkpoints', bad), /would leave the models folder/, bad);
    }
    assert.throws(() => resolveModel([root], 'checkpoints', 'missing.safetensors'), (e: unknown) => e instanceof ModelFolderError && e.code === 'not-found' && /checkpoint 'missing\.safetensors' not found in .*checkpoints; available: a\.safetensors, old\.ckpt, sd15-onnx, sub\/b\.safetensors$/.test(e.message));
    assert.throws(() => resolveModel([root], 'checkpoints', 'notes.txt'), /not found/);
    touch(path.join(root, 'checkpoints', 'diffusers-pt', 'model_index.json'), '{}');
    touch(path.join(root, 'checkpoints', 'diffusers-pt', 'unet', 'diffusion_pytorch_model.safetensors'));
    assert.throws(() => resolveModel([root], 'checkpoints', 'diffusers-pt'), (e: unknown) => e instanceof ModelFolderError && e.code === 'not-supported' && /diffusers-pt is a diffusers folder of PyTorch weights \(model_index\.json, no \.onnx files\)/.test(e.message));
    fs.rmSync(path.join(root, 'checkpoints', 'diffusers-pt'), { recursive: true });
    assert.throws(() => resolveModel([root], 'checkpoints', ''), /no checkpoint name given/);
  });

  describe('extra_model_paths.yaml', () => {
    it('reads ComfyUI\'s format: base_path, | blocks of several paths, is_default, legacy names, comments', () => {
      const a111 = path.join(tmp, 'webui');
      touch(path.join(a111, 'models', 'Stable-diffusion', 'w.safetensors'));
      touch(path.join(a111, 'models', 'Lora', 'la.safetensors'));
      touch(path.join(a111, 'models', 'LyCORIS', 'ly.safetensors'));
      touch(path.join(tmp, 'shared-unets', 'su.safetensors'));
      const yamlFile = path.join(tmp, 'ComfyUI', 'extra_model_paths.yaml');
      const yaml = [
        '# extra paths',
        'a111:',
        '    base_path: ../webui/   # relative to this file',
        '',
        '    checkpoints: models/Stable-diffusion',
        '    loras: |',
        '         models/Lora',
        '         models/LyCORIS',
        '    embeddings: "embeddings"',
        'mine:',
        '    is_default: true',
        '    unet: |',
        `        ${path.join(tmp, 'shared-unets')}`,
        'empty:',
        '',
      ].join('\n');
      fs.writeFileSync(yamlFile, yaml);
      const extra = loadExtraModelPaths(yamlFile);
      assert.deepEqual(extra.last, {
        checkpoints: [path.join(a111, 'models', 'Stable-diffusion')],
        loras: [path.join(a111, 'models', 'Lora'), path.join(a111, 'models', 'LyCORIS')],
        embeddings: [path.join(a111, 'embeddings')],
      });
      assert.deepEqual(extra.first, { diffusion_models: [path.join(tmp, 'shared-unets')] });
      const search = { roots: [root], extra: [extra] };
      assert.deepEqual(folderPaths(search, 'diffusion_models')[0], path.join(tmp, 'shared-unets'), 'is_default comes first');
      assert.deepEqual(folderPaths(search, 'checkpoints'), [path.join(root, 'checkpoints'), path.join(a111, 'models', 'Stable-diffusion')]);
      assert.deepEqual(listModelNames(search, 'loras'), ['l.safetensors', 'la.safetensors', 'ly.safetensors']);
      assert.deepEqual(listModelNames(search, 'unet'), ['d.safetensors', 'su.safetensors', 'u.safetensors']);
      assert.deepEqual(resolveModel(search, 'checkpoints', 'w.safetensors'), { kind: 'safetensors', file: path.join(a111, 'models', 'Stable-diffusion', 'w.safetensors') });
    });

    it('expands ~ and $VARS, and resolves paths without base_path against the file\'s folder', () => {
      process.env.MARBLE_TEST_MODELS = path.join(tmp, 'env-models');
      try {
        const extra = loadExtraModelPaths(path.join(tmp, 'cfg', 'extra.yaml'), ['x:', '  base_path: $MARBLE_TEST_MODELS', '  vae: vae', 'y:', '  clip: rel/clip', "  loras: '~/loras'"].join('\n'));
        assert.deepEqual(extra.last.vae, [path.join(tmp, 'env-models', 'vae')]);
        assert.deepEqual(extra.last.text_encoders, [path.join(tmp, 'cfg', 'rel', 'clip')]);
        assert.deepEqual(extra.last.loras, [path.join(os.homedir(), 'loras')]);
      } finally {
        delete process.env.MARBLE_TEST_MODELS;
      }
    });

    it('names the file and line of what it cannot read', () => {
      const bad = (text: string, pattern: RegExp) =>
        assert.throws(() => loadExtraModelPaths('/cfg/extra_model_paths.yaml', text), (e: unknown) => e instanceof ExtraModelPathsError && /^\/cfg\/extra_model_paths\.yaml: /.test(e.message) && pattern.test(e.message));
      bad('a:\n\tcheckpoints: x', /line 2: tabs cannot indent/);
      bad('a:\n  loras:\n    - one\n    - two', /line 3: lists are not part of this format/);
      bad('a:\n  loras: [one, two]', /line 2: '\[one, two\]' uses YAML syntax/);
      bad('a:\n  checkpoints: x\n  checkpoints: y', /line 3: 'checkpoints' is given twice/);
      bad('just text', /line 1: expected 'key: value'/);
      bad('a: 3', /section 'a' should hold 'folder: path' lines/);
      assert.throws(() => loadExtraModelPaths(path.join(tmp, 'missing.yaml')), /missing\.yaml: cannot be read \(ENOENT\)/);
    });

    it('is found beside a models root (ComfyUI/extra_model_paths.yaml) and re-read when it changes', async () => {
      const base = path.join(tmp, 'discover');
      const models = path.join(base, 'models');
      touch(path.join(models, 'checkpoints', 'local.safetensors'));
      touch(path.join(tmp, 'elsewhere', 'ckpts', 'far.safetensors'));
      const yamlFile = path.join(base, 'extra_model_paths.yaml');
      assert.deepEqual(listModelNames([models], 'checkpoints'), ['local.safetensors']);
      fs.writeFileSync(yamlFile, `other:\n  base_path: ${path.join(tmp, 'elsewhere')}\n  checkpoints: ckpts\n`);
      assert.deepEqual(listModelNames([models], 'checkpoints'), ['far.safetensors', 'local.safetensors']);
      assert.deepEqual(await listModelFiles('checkpoints', [models]), ['far.safetensors', 'local.safetensors']);
      assert.deepEqual(resolveModel([models], 'checkpoints', 'far.safetensors'), { kind: 'safetensors', file: path.join(tmp, 'elsewhere', 'ckpts', 'far.safetensors') });
      // A broken file: resolution says where and why; listings go on with the roots alone.
      fs.writeFileSync(yamlFile, 'other:\n\tcheckpoints: ckpts\n');
      assert.deepEqual(listModelNames([models], 'checkpoints'), ['local.safetensors']);
      assert.throws(() => resolveModel([models], 'checkpoints', 'far.safetensors'), (e: unknown) => e instanceof ModelFolderError && e.code === 'bad-config' && e.message.startsWith(`${yamlFile}: line 2: tabs`));
      fs.rmSync(yamlFile);
      assert.deepEqual(listModelNames([models], 'checkpoints'), ['local.safetensors']);
    });

    it('parses block scalars, quotes and comments like YAML', () => {
      assert.deepEqual(parseYamlSubset('a:\n  b: |\n    one\n    two\n  c: "q # not a comment" # comment\n  d: \'it\'\'s\'\n  e: >-\n    x\n    y\n', 'f'), {
        a: { b: 'one\ntwo\n', c: 'q # not a comment', d: "it's", e: 'x y' },
      });
    });
  });
});
