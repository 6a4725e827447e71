// Cheap checks of the bundled tiny shapes model, without running it: it stays within its size
// bound (it ships in the VSIX and the repository), it is the SD1.x single-file layout Marble's
// checkpoint detection reads its small config from, and it is the file whose sha256
// tools/tinymodel/README.md records (so a replaced model cannot go unnoticed in the docs).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { detectCheckpoint } from '../../../src/inference/checkpoint/detect';
import { SafetensorsFile } from '../../../src/inference/safetensors/read';
import { DEMO_MODEL } from '../../../src/workflow/demoModel';

const repoRoot = path.resolve(__dirname, '../../..');
const MODEL = path.join(repoRoot, 'resources', 'models', DEMO_MODEL.checkpoint);

describe('bundled tiny shapes model file', () => {
  it(`is at most ${DEMO_MODEL.maxBytes / 2 ** 20} MiB`, () => {
    const size = statSync(MODEL).size;
    assert.ok(size <= DEMO_MODEL.maxBytes, `${MODEL} is ${size} bytes`);
    assert.equal(DEMO_MODEL.maxBytes, 20 * 2 ** 20);
  });

  it('is an fp16 SD1.x checkpoint that detection sizes from its shapes', async () => {
    const file = await SafetensorsFile.open(MODEL);
    try {
      const names = [...file.tensors.keys()];
      for (const prefix of ['model.diffusion_model.', 'cond_stage_model.transformer.text_model.', 'first_stage_model.']) {
        assert.ok(names.some((n) => n.startsWith(prefix)), `no ${prefix}* tensors`);
      }
      assert.deepEqual([...new Set([...file.tensors.values()].map((t) => t.dtype))], ['F16']);
      const d = detectCheckpoint(file);
      assert.equal(d.family, 'sd1');
      assert.equal(d.prediction, 'eps');
      assert.ok(d.unet && d.clip && d.vae, 'U-Net, CLIP and VAE all detected');
      // Much smaller than SD1.5 (320 channels, 768-wide context): the config comes from the shapes.
      assert.ok(d.unet.config.modelChannels < 320, `model channels ${d.unet.config.modelChannels}`);
      assert.ok(d.unet.config.contextDim < 768, `context dim ${d.unet.config.contextDim}`);
    } finally {
      await file.close();
    }
  });

  it('has the sha256 that tools/tinymodel/README.md records', () => {
    const readme = readFileSync(path.join(repoRoot, 'tools', 'tinymodel', 'README.md'), 'utf8');
    const recorded = /^sha256 of resources\/models\/marble-shapes-tiny\.safetensors: `([0-9a-f]{64})`/m.exec(readme)?.[1];
    assert.ok(recorded, 'tools/tinymodel/README.md has no "sha256 of resources/models/marble-shapes-tiny.safetensors: `…`" line');
    const actual = createHash('sha256').update(readFileSync(MODEL)).digest('hex');
    assert.equal(actual, recorded, 'the model file changed: record its sha256 in tools/tinymodel/README.md');
  });
});
