import assert from 'node:assert/strict';
import { loadCoreCatalog } from '../../../src/workflow/catalog/catalog';
import { resolveDynamicPrompt } from '../../../src/workflow/dynamicPrompts';
import { parseUiWorkflow } from '../../../src/workflow/parse';
import { readPngMetadata } from '../../../src/workflow/png';
import type { ApiPrompt } from '../../../src/workflow/types';
import { uiToApi } from '../../../src/workflow/uiToApi';
import { defaultGraphJson, EXAMPLES, examplePng, fixture, uiNode, workflow } from './helpers';

const catalog = loadCoreCatalog();

function core(p: Record<string, { class_type: string; inputs: unknown }>) {
  return Object.fromEntries(Object.entries(p).map(([id, n]) => [id, { class_type: n.class_type, inputs: n.inputs }]));
}

describe('workflow/uiToApi', () => {
  it('converts the default graph to exactly the API prompt of comfyui.md §1.3', () => {
    const { prompt, warnings } = uiToApi(parseUiWorkflow(defaultGraphJson()), catalog);
    assert.deepEqual(prompt, fixture('default_prompt_api.json'));
    assert.deepEqual(warnings, []);
  });

  // Two example PNGs predate an input ComfyUI added later (VAEEncodeForInpaint.grow_mask_by,
  // SDTurboScheduler.denoise); today's frontend fills the widget default for such a short
  // widgets_values, so the expected prompt gains exactly that default.
  const schemaEvolution: Record<string, Record<string, Record<string, unknown>>> = {
    inpaint_example: { '26': { grow_mask_by: 6 } },
    sdxlturbo_example: { '22': { denoise: 1 } },
  };

  for (const name of EXAMPLES) {
    it(`converts the workflow chunk of ${name}.png to its prompt chunk`, () => {
      const meta = readPngMetadata(examplePng(name));
      const expected = core(JSON.parse(meta.prompt!)) as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
      for (const [id, added] of Object.entries(schemaEvolution[name] ?? {})) Object.assign(expected[id].inputs, added);
      const { prompt, warnings } = uiToApi(parseUiWorkflow(JSON.parse(meta.workflow!)), catalog, { legacyUploadInput: true });
      assert.deepEqual(core(prompt), expected);
      assert.deepEqual(warnings, []);
    });
  }

  it('omits the upload button by default (current frontend) and titles nodes', () => {
    const meta = readPngMetadata(examplePng('sdxl_simple_example'));
    const { prompt } = uiToApi(parseUiWorkflow(JSON.parse(meta.workflow!)), catalog);
    assert.equal(prompt['10']._meta?.title, 'KSampler (Advanced) - BASE');
    assert.equal(prompt['5']._meta?.title, 'Empty Latent Image');
    // PrimitiveNode-driven widgets keep the value from widgets_values; the link is dropped.
    assert.equal(prompt['10'].inputs.steps, 25);
    assert.equal(prompt['11'].inputs.start_at_step, 20);
    assert.equal(Object.keys(prompt).some((id) => ['13', '14', '36', '45', '47'].includes(id)), false);
    const img = uiToApi(parseUiWorkflow(JSON.parse(readPngMetadata(examplePng('img2img_workflow')).workflow!)), catalog).prompt;
    assert.deepEqual(img['10'].inputs, { image: 'example.png' });
  });

  // A → (bypassed B) → C: C's input is rewired to B's same-typed input source.
  function chain(mode: number) {
    return workflow(
      [
        uiNode(1, 'CheckpointLoaderSimple', { widgets_values: ['m.safetensors'], outputs: [{ name: 'MODEL', type: 'MODEL', links: [1] }, { name: 'CLIP', type: 'CLIP', links: [2] }, { name: 'VAE', type: 'VAE', links: [] }] }),
        uiNode(2, 'LoraLoader', {
          mode,
          widgets_values: ['l.safetensors', 1, 1],
          inputs: [{ name: 'model', type: 'MODEL', link: 1 }, { name: 'clip', type: 'CLIP', link: 2 }],
          outputs: [{ name: 'MODEL', type: 'MODEL', links: [3] }, { name: 'CLIP', type: 'CLIP', links: [4] }],
        }),
        uiNode(3, 'CLIPTextEncode', { widgets_values: ['hi'], inputs: [{ name: 'clip', type: 'CLIP', link: 4 }] }),
        uiNode(4, 'BasicScheduler', { widgets_values: ['normal', 20, 1], inputs: [{ name: 'model', type: 'MODEL', link: 3 }] }),
      ],
      [
        [1, 1, 0, 2, 0, 'MODEL'],
        [2, 1, 1, 2, 1, 'CLIP'],
        [3, 2, 0, 4, 0, 'MODEL'],
        [4, 2, 1, 3, 0, 'CLIP'],
      ],
    );
  }

  it('looks through bypassed nodes to the same-index input of the same type', () => {
    const { prompt } = uiToApi(chain(4), catalog);
    assert.equal(prompt['2'], undefined);
    assert.deepEqual(prompt['3'].inputs.clip, ['1', 1]);
    assert.deepEqual(prompt['4'].inputs.model, ['1', 0]);
  });

  it('drops muted nodes and the links into them, with a warning', () => {
    const { prompt, warnings } = uiToApi(chain(2), catalog);
    assert.equal(prompt['2'], undefined);
    assert.equal('clip' in prompt['3'].inputs, false);
    assert.match(warnings.join('\n'), /node 3 \(CLIPTextEncode\) input "clip" was linked to node 2 \(LoraLoader\), which is not executed/);
  });

  it('follows legacy Reroute nodes and ignores native reroutes (parentId)', () => {
    const wf = workflow(
      [
        uiNode(1, 'EmptyLatentImage', { widgets_values: [512, 512, 1] }),
        uiNode(2, 'Reroute', { inputs: [{ name: '', type: '*', link: 1 }], outputs: [{ name: '', type: 'LATENT', links: [2] }] }),
        uiNode(3, 'Reroute', { inputs: [{ name: '', type: '*', link: 2 }], outputs: [{ name: '', type: 'LATENT', links: [3] }] }),
        uiNode(4, 'LatentUpscaleBy', { widgets_values: ['bislerp', 2], inputs: [{ name: 'samples', type: 'LATENT', link: 3 }] }),
        uiNode(5, 'RepeatLatentBatch', { widgets_values: [2], inputs: [{ name: 'samples', type: 'LATENT', link: 4 }] }),
      ],
      [
        [1, 1, 0, 2, 0, '*'],
        [2, 2, 0, 3, 0, '*'],
        [3, 3, 0, 4, 0, 'LATENT'],
        [4, 4, 0, 5, 0, 'LATENT'],
      ],
    );
    wf.extra = { reroutes: [{ id: 1, pos: [0, 0], linkIds: [4] }], linkExtensions: [{ id: 4, parentId: 1 }] };
    const { prompt } = uiToApi(wf, catalog);
    assert.deepEqual(Object.keys(prompt).sort(), ['1', '4', '5']);
    assert.deepEqual(prompt['4'].inputs, { upscale_method: 'bislerp', scale_by: 2, samples: ['1', 0] });
    assert.deepEqual(prompt['5'].inputs.samples, ['4', 0]);
  });

  it('lets a link into a converted widget input override the widget value', () => {
    const wf = workflow(
      [
        uiNode(1, 'UnknownIntSource', { outputs: [{ name: 'INT', type: 'INT', links: [1] }] }),
        uiNode(2, 'EmptyLatentImage', { widgets_values: [512, 768, 1], inputs: [{ name: 'height', type: 'INT', link: 1, widget: { name: 'height' } }] }),
      ],
      [[1, 1, 0, 2, 0, 'INT']],
    );
    const { prompt, warnings } = uiToApi(wf, catalog);
    assert.deepEqual(prompt['2'].inputs, { width: 512, height: ['1', 0], batch_size: 1 });
    assert.deepEqual(prompt['1'], { class_type: 'UnknownIntSource', inputs: {}, _meta: { title: 'UnknownIntSource' } });
    assert.match(warnings[0], /node 1 \(UnknownIntSource\): node type "UnknownIntSource" is not installed/);
  });

  it('wraps array widget values, fills missing defaults and warns about extra values', () => {
    const schemaCat = { ...catalog, ListNode: { ...catalog.ImageInvert, name: 'ListNode', input: { required: { xs: ['STRING', {}] as [string, Record<string, unknown>], n: ['INT', { default: 7 }] as [string, Record<string, unknown>] } } } };
    const wf = workflow([uiNode(1, 'ListNode', { widgets_values: [[1, 2, 3]] }), uiNode(2, 'EmptyLatentImage', { widgets_values: [64, 64, 1, 'surplus'] })], []);
    const { prompt, warnings } = uiToApi(wf, schemaCat);
    assert.deepEqual(prompt['1'].inputs, { xs: { __value__: [1, 2, 3] }, n: 7 });
    assert.match(warnings.join('\n'), /node 2 \(EmptyLatentImage\) has 4 widget values but its schema defines 3 widgets/);
  });

  it('reports a link id missing from the links list instead of crashing', () => {
    const wf = workflow([uiNode(8, 'VAEDecode', { inputs: [{ name: 'samples', type: 'LATENT', link: 99 }, { name: 'vae', type: 'VAE', link: null }] })], []);
    const { prompt, warnings } = uiToApi(wf, catalog);
    assert.deepEqual(prompt['8'].inputs, {});
    assert.match(warnings[0], /node 8 \(VAEDecode\) input "samples" refers to link 99, which is not in the links list/);
  });

  it('maps target_slot through the schema sockets when a node has no inputs array', () => {
    const wf = workflow([uiNode(1, 'EmptyLatentImage', { widgets_values: [64, 64, 1] }), uiNode(2, 'LatentUpscaleBy', { widgets_values: ['area', 1.5] })], [[1, 1, 0, 2, 0, 'LATENT']]);
    assert.deepEqual(uiToApi(wf, catalog).prompt['2'].inputs.samples, ['1', 0]);
  });

  it('resolves dynamic prompts like the frontend (comments stripped, one option per group)', () => {
    assert.equal(resolveDynamicPrompt('a {red|blue} car // note', () => 0.99), 'a blue car ');
    assert.equal(resolveDynamicPrompt('x /* hidden */ {a|{b|c}}', () => 0.5), 'x  c');
    assert.equal(resolveDynamicPrompt('no groups here', () => 0), 'no groups here');
    const wf = workflow([uiNode(6, 'CLIPTextEncode', { widgets_values: ['{cat|dog} photo'] })], []);
    const p: ApiPrompt = uiToApi(wf, catalog, { random: () => 0 }).prompt;
    assert.equal(p['6'].inputs.text, 'cat photo');
    assert.equal(uiToApi(wf, catalog, { dynamicPrompts: false }).prompt['6'].inputs.text, '{cat|dog} photo');
  });
});
