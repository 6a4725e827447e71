import assert from 'node:assert/strict';
import { loadCoreCatalog } from '../../../src/workflow/catalog/catalog';
import type { NodeDefinition, NodeRegistry } from '../../../src/workflow/nodeDefinition';
import type { ApiPrompt } from '../../../src/workflow/types';
import { typesCompatible, validatePrompt, validatePromptSync } from '../../../src/workflow/validate';
import { fixture } from './helpers';

const catalog = loadCoreCatalog();
const base = () => structuredClone(fixture('default_prompt_api.json')) as ApiPrompt;

describe('workflow/validate', () => {
  it('accepts the default prompt and lists its output', () => {
    const r = validatePromptSync(base(), catalog);
    assert.equal(r.ok, true);
    assert.deepEqual(r.outputs, ['9']);
    assert.deepEqual(r.node_errors, {});
  });

  it('rejects unknown classes with ComfyUI\'s invalid_prompt message', () => {
    const p = base();
    p['10'] = { class_type: 'FancyUpscaler', inputs: {} };
    const r = validatePromptSync(p, catalog);
    assert.equal(r.ok, false);
    assert.equal(r.error!.type, 'invalid_prompt');
    assert.equal(r.error!.message, 'Cannot execute because node FancyUpscaler does not exist.');
    assert.equal(r.error!.details, "Node ID '#10'");
  });

  it('reports prompt_no_outputs', () => {
    const p = base();
    delete p['9'];
    assert.equal(validatePromptSync(p, catalog).error!.type, 'prompt_no_outputs');
  });

  it('puts each reason on the node where the problem is, with input name and expectation', () => {
    const p = base();
    delete p['3'].inputs.model;
    p['3'].inputs.steps = 0;
    p['3'].inputs.cfg = 1000;
    p['3'].inputs.sampler_name = 'eulerr';
    p['5'].inputs.width = 'wide';
    const r = validatePromptSync(p, catalog);
    assert.equal(r.ok, false);
    assert.equal(r.error!.type, 'prompt_outputs_failed_validation');
    assert.deepEqual(Object.keys(r.node_errors).sort(), ['3', '5']);
    const ks = r.node_errors['3'];
    assert.deepEqual(ks.dependent_outputs, ['9']);
    assert.equal(ks.class_type, 'KSampler');
    const types = ks.errors.map((e) => e.type).sort();
    assert.deepEqual(types, ['required_input_missing', 'value_bigger_than_max', 'value_not_in_list', 'value_smaller_than_min']);
    const min = ks.errors.find((e) => e.type === 'value_smaller_than_min')!;
    assert.equal(min.message, 'Value 0 smaller than min of 1');
    assert.match(min.details, /^steps \(node 3 \(KSampler\) input "steps"\)$/);
    assert.equal(min.extra_info.input_name, 'steps');
    assert.equal(min.extra_info.received_value, 0);
    const list = ks.errors.find((e) => e.type === 'value_not_in_list')!;
    // Marble names the options (ComfyUI would print "(list of length 42)"); input_config stays null past 20 as in ComfyUI.
    assert.match(list.details, /^sampler_name: 'eulerr' not in \['euler', 'euler_cfg_pp', .*'uni_pc_bh2'\]/);
    assert.equal(list.extra_info.input_config, null);
    const width = r.node_errors['5'].errors[0];
    assert.equal(width.type, 'invalid_input_type');
    assert.equal(width.message, 'Failed to convert an input value to a INT value');
    assert.match(width.details, /width, "wide", invalid literal for int\(\) with base 10: 'wide'/);
  });

  it('checks linked inputs: shape, existence, slot and type', () => {
    const p = base();
    p['8'].inputs.vae = ['4', 2, 1] as unknown as ApiPrompt[string]['inputs'][string];
    p['3'].inputs.positive = ['77', 0];
    p['3'].inputs.negative = ['7', 3];
    p['3'].inputs.latent_image = ['4', 0];
    const r = validatePromptSync(p, catalog);
    const byType = (id: string) => Object.fromEntries(r.node_errors[id].errors.map((e) => [e.extra_info.input_name, e]));
    assert.equal(byType('8').vae.type, 'bad_linked_input');
    assert.match(byType('3').positive.details, /links to node '77', which is not in the prompt/);
    assert.match(byType('3').negative.details, /output 3 of node 7 \(CLIPTextEncode\), which has 1 output/);
    assert.equal(byType('3').latent_image.type, 'return_type_mismatch');
    assert.match(byType('3').latent_image.details, /received_type\(MODEL\) mismatch input_type\(LATENT\)/);
  });

  it('coerces values on a copy like Python int/float/str/bool', () => {
    const p = base();
    p['3'].inputs.steps = '25';
    p['3'].inputs.cfg = '7.5';
    p['3'].inputs.denoise = { __value__: [1] } as unknown as number;
    p['5'].inputs.width = 512.9;
    const r = validatePromptSync(p, catalog);
    assert.equal(r.node_errors['3']?.errors[0].type, 'invalid_input_type'); // float([1]) fails as in Python
    delete p['3'].inputs.denoise;
    p['3'].inputs.denoise = 1;
    const ok = validatePromptSync(p, catalog);
    assert.equal(ok.ok, true);
    assert.equal(ok.prompt['3'].inputs.steps, 25);
    assert.equal(ok.prompt['3'].inputs.cfg, 7.5);
    assert.equal(ok.prompt['5'].inputs.width, 512);
    assert.equal(p['3'].inputs.steps, '25');
  });

  it('checks folder-backed combos only when the caller lists the models, matching base names', () => {
    const p = base();
    assert.equal(validatePromptSync(p, catalog).ok, true);
    const withModels = (names: string[]) => validatePromptSync(p, catalog, { comboValues: (c, i) => (c === 'CheckpointLoaderSimple' && i === 'ckpt_name' ? names : undefined) });
    assert.equal(withModels(['v1-5-pruned-emaonly-fp16']).ok, true);
    const bad = withModels(['sd_xl_base_1.0', 'other.safetensors']);
    assert.equal(bad.ok, false);
    const e = bad.node_errors['4'].errors[0];
    assert.equal(e.type, 'value_not_in_list');
    assert.match(e.details, /ckpt_name: 'v1-5-pruned-emaonly-fp16.safetensors' not in \['sd_xl_base_1.0', 'other.safetensors'\] \(no such model in checkpoints\)/);
  });

  it('validates only what outputs need, and runs outputs that pass when others fail', () => {
    const p = base();
    p['20'] = { class_type: 'EmptyLatentImage', inputs: { width: -5, height: 64, batch_size: 1 } };
    assert.equal(validatePromptSync(p, catalog).ok, true);
    p['21'] = { class_type: 'PreviewImage', inputs: { images: ['22', 0] } };
    p['22'] = { class_type: 'VAEDecode', inputs: { samples: ['20', 0], vae: ['4', 2] } };
    const r = validatePromptSync(p, catalog);
    assert.equal(r.ok, true);
    assert.deepEqual(r.outputs, ['9']);
    assert.deepEqual(Object.keys(r.node_errors), ['20']);
    assert.deepEqual(r.node_errors['20'].dependent_outputs, ['21']);
  });

  it('reports a dependency cycle instead of recursing forever', () => {
    const p: ApiPrompt = {
      '1': { class_type: 'LatentUpscaleBy', inputs: { samples: ['2', 0], upscale_method: 'area', scale_by: 1 } },
      '2': { class_type: 'RepeatLatentBatch', inputs: { samples: ['1', 0], amount: 1 } },
      '3': { class_type: 'VAEDecode', inputs: { samples: ['2', 0], vae: ['4', 2] } },
      '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'x' } },
      '5': { class_type: 'SaveImage', inputs: { images: ['3', 0], filename_prefix: 'a' } },
    };
    const r = validatePromptSync(p, catalog);
    assert.equal(r.ok, false);
    const cyc = Object.values(r.node_errors).flatMap((n) => n.errors).find((e) => e.type === 'dependency_cycle');
    assert.ok(cyc);
    assert.match(cyc.details, /2 → 1 → 2|1 → 2 → 1/);
  });

  it('calls NodeDefinition.validateInputs and skips generic checks for inputs it validates', async () => {
    const registry = new Map<string, NodeDefinition>(
      Object.values(catalog).map((schema) => [schema.name, { schema, run: () => ({ outputs: [] }) }]),
    );
    let seen: Record<string, unknown> | undefined;
    registry.set('CheckpointLoaderSimple', {
      schema: catalog.CheckpointLoaderSimple,
      run: () => ({ outputs: [] }),
      validateInputs: async (c) => ((seen = c), c.ckpt_name === 'present' ? true : `model file ${String(c.ckpt_name)} not found`),
      validatesInputs: ['ckpt_name'],
    });
    const p = base();
    const r = await validatePrompt(p, registry as NodeRegistry, { comboValues: () => [] });
    assert.deepEqual(seen, { ckpt_name: 'v1-5-pruned-emaonly-fp16.safetensors' });
    const errs = r.node_errors['4'].errors;
    assert.deepEqual(errs.map((e) => e.type), ['custom_validation_failed']);
    assert.match(errs[0].details, /node 4 \(CheckpointLoaderSimple\): model file v1-5-pruned-emaonly-fp16.safetensors not found/);
    p['4'].inputs.ckpt_name = 'present';
    assert.equal((await validatePrompt(p, registry as NodeRegistry, { comboValues: () => [] })).ok, true);
  });

  it('matches types like validate_node_input', () => {
    assert.equal(typesCompatible('IMAGE', 'IMAGE'), true);
    assert.equal(typesCompatible('*', 'LATENT'), true);
    assert.equal(typesCompatible('INT,FLOAT', 'FLOAT'), true);
    assert.equal(typesCompatible('IMAGE', 'MASK'), false);
  });
});
