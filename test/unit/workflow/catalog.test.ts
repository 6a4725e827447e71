import assert from 'node:assert/strict';
import { getCoreSchema, loadCoreCatalog } from '../../../src/workflow/catalog/catalog';
import { widgetNamesFor, widgetSlotsFor } from '../../../src/workflow/catalog/widgets';
import type { ObjectInfoEntry } from '../../../src/workflow/objectInfo';

const REQUIRED = [
  'CheckpointLoaderSimple', 'VAELoader', 'CLIPTextEncode', 'CLIPSetLastLayer', 'ConditioningCombine', 'EmptyLatentImage',
  'KSampler', 'KSamplerAdvanced', 'SamplerCustom', 'KSamplerSelect', 'BasicScheduler', 'KarrasScheduler',
  'ExponentialScheduler', 'SDTurboScheduler', 'SplitSigmas', 'ModelSamplingDiscrete', 'SetLatentNoiseMask',
  'VAEEncodeForInpaint', 'InpaintModelConditioning', 'ImagePadForOutpaint', 'VAEDecode', 'VAEDecodeTiled', 'VAEEncode',
  'SaveImage', 'PreviewImage', 'LoadImage', 'LoadImageMask', 'ImageScale', 'ImageScaleBy', 'ImageInvert', 'LatentUpscale',
  'LatentUpscaleBy', 'RepeatLatentBatch', 'LatentFromBatch', 'LoraLoader', 'SaveLatent', 'LoadLatent',
];

describe('workflow/catalog', () => {
  it('has a schema for every node Marble implements, with name = class', () => {
    for (const name of REQUIRED) {
      const s = getCoreSchema(name);
      assert.ok(s, `missing schema ${name}`);
      assert.equal(s.name, name);
      assert.equal(typeof s.description, 'string');
    }
    assert.equal(getCoreSchema('Note'), undefined);
    assert.equal(getCoreSchema('toString'), undefined);
  });

  it('drops the researcher x_notes and returns independent copies', () => {
    const cat = loadCoreCatalog();
    assert.equal(Object.values(cat).some((e) => 'x_notes' in e), false);
    cat.KSampler.display_name = 'changed';
    assert.equal(getCoreSchema('KSampler')!.display_name, 'KSampler');
  });

  it('adds the missing schemas with ComfyUI defaults and ranges', () => {
    assert.deepEqual(getCoreSchema('ExponentialScheduler')!.input.required!.sigma_max, ['FLOAT', { default: 14.614642, min: 0, max: 5000, step: 0.01, round: false }]);
    assert.equal(getCoreSchema('ExponentialScheduler')!.input.required!.sigma_min[1]!.default, 0.0291675);
    const split = getCoreSchema('SplitSigmas')!;
    assert.deepEqual(split.input.required!.step, ['INT', { default: 0, min: 0, max: 10000 }]);
    assert.deepEqual([split.output, split.output_name], [['SIGMAS', 'SIGMAS'], ['high_sigmas', 'low_sigmas']]);
    const tiled = getCoreSchema('VAEDecodeTiled')!.input.required!;
    assert.deepEqual([tiled.tile_size[1], tiled.overlap[1]], [{ default: 512, min: 64, max: 4096, step: 32 }, { default: 64, min: 0, max: 4096, step: 32 }]);
    assert.equal(tiled.temporal_size[1]!.min, 8);
    assert.equal(tiled.temporal_overlap[1]!.step, 4);
    const inpaint = getCoreSchema('InpaintModelConditioning')!;
    assert.deepEqual(inpaint.output_name, ['positive', 'negative', 'latent']);
    assert.equal(inpaint.input.required!.noise_mask[1]!.default, true);
    assert.deepEqual(getCoreSchema('SaveImage')!.input.hidden, { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO' });
  });

  it('orders widgets like the frontend, with control_after_generate and upload inserted', () => {
    assert.deepEqual(widgetNamesFor(getCoreSchema('KSampler')!), ['seed', 'control_after_generate', 'steps', 'cfg', 'sampler_name', 'scheduler', 'denoise']);
    assert.deepEqual(widgetNamesFor(getCoreSchema('KSamplerAdvanced')!), [
      'add_noise', 'noise_seed', 'control_after_generate', 'steps', 'cfg', 'sampler_name', 'scheduler', 'start_at_step', 'end_at_step', 'return_with_leftover_noise',
    ]);
    assert.deepEqual(widgetNamesFor(getCoreSchema('SamplerCustom')!), ['add_noise', 'noise_seed', 'control_after_generate', 'cfg']);
    assert.deepEqual(widgetNamesFor(getCoreSchema('LoadImage')!), ['image', 'upload']);
    assert.deepEqual(widgetNamesFor(getCoreSchema('LoadImageMask')!), ['image', 'channel', 'upload']);
    assert.deepEqual(widgetNamesFor(getCoreSchema('LoadImage')!, { legacyUploadName: true }), ['image', 'choose file to upload']);
    assert.deepEqual(widgetNamesFor(getCoreSchema('VAEDecode')!), []);
    const slots = widgetSlotsFor(getCoreSchema('KSampler')!);
    assert.deepEqual(slots.map((s) => s.serialize), [true, false, true, true, true, true, true]);
  });

  it('treats forceInput primitives as sockets and honours a named control widget', () => {
    const schema: ObjectInfoEntry = {
      input: { required: { a: ['INT', { forceInput: true }], s: ['INT', { control_after_generate: 'seed_mode' }], c: [['x', 'y']] }, optional: { o: ['STRING', {}] } },
      output: [], output_name: [], name: 'T', display_name: 'T', description: '', python_module: 'x', category: 'x', output_node: false,
    };
    assert.deepEqual(widgetNamesFor(schema), ['s', 'seed_mode', 'c', 'o']);
  });
});
