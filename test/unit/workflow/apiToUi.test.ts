import assert from 'node:assert/strict';
import { apiToUi } from '../../../src/workflow/apiToUi';
import { loadCoreCatalog } from '../../../src/workflow/catalog/catalog';
import { parseUiWorkflow } from '../../../src/workflow/parse';
import type { ApiPrompt, UiNode } from '../../../src/workflow/types';
import { uiToApi } from '../../../src/workflow/uiToApi';
import { defaultGraphJson, fixture } from './helpers';

const catalog = loadCoreCatalog();

function overlaps(a: UiNode, b: UiNode): boolean {
  return a.pos[0] < b.pos[0] + b.size[0] && b.pos[0] < a.pos[0] + a.size[0] && a.pos[1] < b.pos[1] + b.size[1] && b.pos[1] < a.pos[1] + a.size[1];
}

describe('workflow/apiToUi', () => {
  it('round-trips the default graph: UI → API → UI → API gives the first API prompt', () => {
    const api1 = uiToApi(parseUiWorkflow(defaultGraphJson()), catalog).prompt;
    const { workflow, warnings } = apiToUi(api1, catalog);
    assert.deepEqual(warnings, []);
    const api2 = uiToApi(parseUiWorkflow(JSON.parse(JSON.stringify(workflow))), catalog).prompt;
    assert.deepEqual(api2, api1);
  });

  it('writes widgets_values in schema order with control_after_generate "fixed" and typed links', () => {
    const { workflow } = apiToUi(fixture('default_prompt_api.json') as ApiPrompt, catalog);
    const ks = workflow.nodes.find((n) => n.id === 3)!;
    assert.deepEqual(ks.widgets_values, [156680208700286, 'fixed', 20, 8, 'euler', 'normal', 1]);
    assert.deepEqual(ks.inputs!.map((i) => i.name), ['model', 'positive', 'negative', 'latent_image']);
    const vae = workflow.links.find((l) => l[1] === 4 && l[2] === 2)!;
    assert.equal(vae[5], 'VAE');
    assert.equal(vae[3], 8);
    assert.equal(workflow.nodes.find((n) => n.id === 4)!.outputs![1].links!.length, 2);
    assert.equal(workflow.last_node_id, 9);
    assert.equal(workflow.last_link_id, workflow.links.length);
  });

  it('lays nodes out in columns by dependency depth without overlaps', () => {
    const { workflow } = apiToUi(fixture('default_prompt_api.json') as ApiPrompt, catalog);
    const x = (id: number) => workflow.nodes.find((n) => n.id === id)!.pos[0];
    assert.ok(x(4) === x(5) && x(4) < x(6) && x(6) === x(7) && x(7) < x(3) && x(3) < x(8) && x(8) < x(9));
    for (const a of workflow.nodes) for (const b of workflow.nodes) if (a !== b) assert.equal(overlaps(a, b), false, `${a.id} overlaps ${b.id}`);
  });

  it('keeps titles that differ from the display name and turns linked widgets into sockets', () => {
    const prompt: ApiPrompt = {
      '1': { class_type: 'EmptyLatentImage', inputs: { width: 640, height: ['2', 0], batch_size: 1 }, _meta: { title: 'Canvas' } },
      '2': { class_type: 'Mystery', inputs: { value: 768, label: { __value__: ['a', 'b'] } } },
      '3': { class_type: 'PreviewImage', inputs: { images: ['9', 0] } },
    };
    const { workflow, warnings } = apiToUi(prompt, catalog);
    const n1 = workflow.nodes.find((n) => n.id === 1)!;
    assert.equal(n1.title, 'Canvas');
    assert.deepEqual(n1.widgets_values, [640, 512, 1]);
    assert.deepEqual(n1.inputs, [{ name: 'height', type: 'INT', widget: { name: 'height' }, link: 1 }]);
    const n2 = workflow.nodes.find((n) => n.id === 2)!;
    assert.deepEqual(n2.widgets_values, { value: 768, label: ['a', 'b'] });
    assert.match(warnings.join('\n'), /node 2: node type "Mystery" is not installed/);
    assert.match(warnings.join('\n'), /node 3 \(PreviewImage\) input "images" links to node 9, which is not in the prompt/);
    // The unknown node's named values come back out of uiToApi unchanged.
    const back = uiToApi(workflow, catalog).prompt;
    assert.deepEqual(back['2'].inputs, { value: 768, label: { __value__: ['a', 'b'] } });
    assert.deepEqual(back['1'].inputs.height, ['2', 0]);
  });
});
