// Bad values in a prompt through the real `marble run` (inference child included): each is a
// validation error (exit 3) naming the node and the input, raised before any node runs, and
// nothing is written to the output folder.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ApiPrompt } from '../../../src/workflow/types';
import { assertNoPartialFiles, CKPT, cliRun, defaultPrompt, inferenceEntry, makeWorkspace, removeBundle, writePrompt, type Workspace } from './harness';

describe('robustness: validation before any model runs (marble run)', function () {
  this.timeout(60000);
  let ws: Workspace;
  before(async () => {
    await inferenceEntry();
    ws = makeWorkspace();
  });
  after(() => {
    ws?.remove();
    removeBundle();
  });

  async function expectValidationError(name: string, mutate: (p: ApiPrompt) => void, pattern: RegExp): Promise<string> {
    await inferenceEntry();
    const f = writePrompt(ws, name, defaultPrompt(mutate));
    const r = await cliRun([f, '--models', ws.models, '--output', ws.output, '--input', ws.input, '--ep', 'cpu']);
    assert.equal(r.code, 3, `${name}: ${r.stderr}`);
    assert.match(r.stderr, pattern, `${name}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /^running /m, `${name}: no node may run`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(assertNoPartialFiles(ws.output), []);
    return r.stderr;
  }

  it('a missing checkpoint lists the installed ones', async () => {
    await expectValidationError('missing-ckpt', (p) => { p['4'].inputs.ckpt_name = 'sd_xl_base_1.0.safetensors'; },
      /node 4 \(CheckpointLoaderSimple\): Value not in list — ckpt_name: 'sd_xl_base_1\.0\.safetensors' not in \['corrupt', 'noext', 'v1-5-pruned-emaonly-fp16', 'wrongio'\] \(no such model in checkpoints\)/);
  });

  it('width not a multiple of 8, and beyond 16384', async () => {
    await expectValidationError('w63', (p) => { p['5'].inputs.width = 63; }, /node 5 \(EmptyLatentImage\): .*width: 63 is not a multiple of 8 .*try 64/);
    await expectValidationError('h20000', (p) => { p['5'].inputs.height = 20000; }, /node 5 \(EmptyLatentImage\): Value 20000 bigger than max of 16384 — height/);
  });

  it('a batch too large for memory is refused while validating', async () => {
    await expectValidationError('huge', (p) => Object.assign(p['5'].inputs, { width: 16384, height: 16384, batch_size: 4096 }),
      /node 5 \(EmptyLatentImage\): .*batch_size: the latent for 4096 × 16384×16384 needs 256\.0 GiB \(68719476736 float32 values\), more than the [\d.]+ GiB this process can allocate now/);
  });

  it('steps 0 and 10001, cfg NaN, denoise outside 0..1', async () => {
    await expectValidationError('steps0', (p) => { p['3'].inputs.steps = 0; }, /node 3 \(KSampler\): Value 0 smaller than min of 1 — steps/);
    await expectValidationError('steps10001', (p) => { p['3'].inputs.steps = 10001; }, /node 3 \(KSampler\): Value 10001 bigger than max of 10000 — steps/);
    await expectValidationError('cfgnan', (p) => { p['3'].inputs.cfg = 'NaN'; }, /node 3 \(KSampler\): Value is not a number \(NaN\) — cfg \(node 3 \(KSampler\) input "cfg": expected a FLOAT\)/);
    await expectValidationError('denoise2', (p) => { p['3'].inputs.denoise = 1.5; }, /node 3 \(KSampler\): Value 1\.5 bigger than max of 1 — denoise/);
    await expectValidationError('denoiseneg', (p) => { p['3'].inputs.denoise = -0.1; }, /node 3 \(KSampler\): Value -0\.1 smaller than min of 0 — denoise/);
  });

  it('unknown sampler and scheduler list the allowed values', async () => {
    await expectValidationError('sampler', (p) => { p['3'].inputs.sampler_name = 'euler_z'; }, /node 3 \(KSampler\): Value not in list — sampler_name: 'euler_z' not in \['euler', 'euler_ancestral',/);
    await expectValidationError('scheduler', (p) => { p['3'].inputs.scheduler = 'fast'; }, /node 3 \(KSampler\): Value not in list — scheduler: 'fast' not in \[.*'karras'/);
  });

  it('filename_prefix outside the output folder, relative or absolute', async () => {
    for (const prefix of ['../../etc/x', '/etc/x']) {
      await expectValidationError('prefix', (p) => { p['9'].inputs.filename_prefix = prefix; },
        new RegExp(`node 9 \\(SaveImage\\): .*filename_prefix: '${prefix.replace(/\./g, '\\.')}' would save outside the output folder`));
    }
  });

  it('wrong input types, dangling links, cycles and unknown classes', async () => {
    await expectValidationError('type', (p) => { p['3'].inputs.steps = 'many'; }, /node 3 \(KSampler\): Failed to convert an input value to a INT value — steps, "many"/);
    await expectValidationError('dangling', (p) => { p['8'].inputs.samples = ['42', 0]; }, /node 8 \(VAEDecode\): Bad linked input, the linked node does not exist — samples: .*links to node '42'/);
    await expectValidationError('cycle', (p) => {
      p['10'] = { class_type: 'LatentUpscaleBy', inputs: { samples: ['3', 0], upscale_method: 'nearest-exact', scale_by: 1 } };
      p['3'].inputs.latent_image = ['10', 0];
    }, /node 10 \(LatentUpscaleBy\): Dependency cycle detected — samples: node 10 \(LatentUpscaleBy\) input "samples" depends on its own output through 3 → 10 → 3/);
    await expectValidationError('unknown', (p) => { p['3'].class_type = 'KSamplerTurbo'; }, /Cannot execute because node KSamplerTurbo does not exist/);
  });

  it('a seed of 2^64-1, which JSON rounds to 2^64, is refused before sampling with the largest usable seed', async () => {
    const f = path.join(ws.base, 'bigseed.json');
    // Written as text: the literal must reach Marble's JSON parser as a user's file would.
    fs.writeFileSync(f, JSON.stringify(defaultPrompt()).replace(/"seed":\d+/, '"seed":18446744073709551615'));
    const r = await cliRun([f, '--models', ws.models, '--output', ws.output, '--ep', 'cpu']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /node 3 \(KSampler\).*seed must be between 0 and 2\^64-1.*largest usable seed is 18446744073709549568/);
    assert.doesNotMatch(r.stderr, /^running /m, 'no node runs');
  });

  it('start_at_step beyond end_at_step is refused before sampling', async () => {
    const f = writePrompt(ws, 'adv', defaultPrompt((p) => {
      p['3'].class_type = 'KSamplerAdvanced';
      const { seed: _s, denoise: _d, ...rest } = p['3'].inputs;
      p['3'].inputs = { ...rest, add_noise: 'enable', noise_seed: 1, start_at_step: 10, end_at_step: 5, return_with_leftover_noise: 'disable' };
    }));
    const r = await cliRun([f, '--models', ws.models, '--output', ws.output, '--ep', 'cpu']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /node 3 \(KSamplerAdvanced\).*start_at_step \(10\) is beyond end_at_step \(5\)/);
    assert.doesNotMatch(r.stderr, /^running /m, 'no node runs');
    assert.deepEqual(assertNoPartialFiles(ws.output), []);
  });

  it('a good prompt still runs afterwards', async () => {
    const f = writePrompt(ws, 'ok', defaultPrompt());
    const r = await cliRun([f, '--models', ws.models, '--output', ws.output, '--ep', 'cpu']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(assertNoPartialFiles(ws.output), ['Robust_00001_.png']);
    void CKPT;
  });
});
