// Every IO/layout variant real SD1.x ONNX exports come in loads through CheckpointLoaderSimple and
// runs the default workflow to a non-constant image.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { addModel, watchComponents, distinctValues, failure, makeWorkspace, Pipeline, pixelsOf } from './harness';

const VARIANTS = ['fp16', 'fp16-io', 'int64-ids', 'timestep-scalar', 'timestep-int64', 'vpred', 'no-index', 'external-data'];

describe('pipeline: model variants', function () {
  this.timeout(30000);
  let ws: ReturnType<typeof makeWorkspace>;
  let pipe: Pipeline;
  const images = new Map<string, Uint8Array>();

  before(() => {
    ws = makeWorkspace();
    for (const v of VARIANTS) addModel(ws.base, `tiny-${v}`, v);
    pipe = new Pipeline(ws.base);
  });
  after(async () => {
    await pipe.dispose();
    ws.remove();
  });

  for (const variant of VARIANTS) {
    it(`runs the default workflow on the ${variant} variant`, async () => {
      const prompt = await pipe.defaultPrompt({ ckpt: `tiny-${variant}.safetensors`, steps: 3 });
      const { result: r, runs } = await watchComponents(() => pipe.run(prompt));
      assert.equal(r.outcome.status, 'success', failure(r));
      assert.deepEqual(runs, { text_encoder: 2, unet: 3, vae_decoder: 1 });
      const [file] = pipe.savedFiles(r.outcome);
      const px = await pixelsOf(file);
      assert.deepEqual([px.width, px.height], [64, 64]);
      assert.ok(distinctValues(px.data) > 16, `${variant}: only ${distinctValues(px.data)} distinct values`);
      images.set(variant, px.data);
    });
  }

  it('variants differing only in IO declarations or file layout give the same image', () => {
    // no-index / external-data / int64-ids / timestep-* change only how IO or files are declared,
    // so with the same seed and weights their images must match each other exactly.
    const ref = images.get('int64-ids');
    assert.ok(ref, 'int64-ids ran');
    for (const v of ['timestep-scalar', 'timestep-int64', 'no-index', 'external-data']) {
      const img = images.get(v);
      assert.ok(img, `${v} ran`);
      let diff = 0;
      for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs(ref[i] - img[i]));
      assert.ok(diff <= 2, `${v} differs from int64-ids by up to ${diff}/255`);
    }
  });

  it('vpred is read from the scheduler config and changes the result', () => {
    const eps = images.get('int64-ids')!;
    const v = images.get('vpred')!;
    let diff = 0;
    for (let i = 0; i < eps.length; i++) diff += Math.abs(eps[i] - v[i]);
    assert.ok(diff / eps.length > 0.5, `mean difference ${diff / eps.length}`);
    const cfg = JSON.parse(fs.readFileSync(path.join(ws.base, 'models/checkpoints/tiny-vpred/scheduler/scheduler_config.json'), 'utf8'));
    assert.equal(cfg.prediction_type, 'v_prediction');
  });
});
