import assert from 'node:assert/strict';
import { detectFormat, parseApiPrompt, parseUiWorkflow, parseWorkflowJson, WorkflowFormatError } from '../../../src/workflow/parse';
import { defaultGraphJson } from './helpers';

describe('workflow/parse', () => {
  it('parses the default graph (v0.4) keeping every node, link and passthrough field', () => {
    const wf = parseUiWorkflow(defaultGraphJson());
    assert.equal(wf.nodes.length, 7);
    assert.equal(wf.links.length, 9);
    assert.equal(wf.last_node_id, 9);
    assert.deepEqual(wf.links.find((l) => l[0] === 8), [8, 4, 2, 8, 1, 'VAE']);
    const ks = wf.nodes.find((n) => n.id === 3)!;
    assert.deepEqual(ks.widgets_values, [156680208700286, true, 20, 8, 'euler', 'normal', 1]);
    assert.deepEqual(wf.extra, { ds: { offset: [0, 0], scale: 1 } });
  });

  it('normalises version 1 (state, link objects, reroutes) to v0.4', () => {
    const wf = parseUiWorkflow({
      version: 1,
      state: { lastNodeId: 12, lastLinkId: 30, lastGroupId: 0, lastRerouteId: 1 },
      nodes: [{ id: 1, type: 'VAEDecode', pos: [0, 0], size: [10, 10] }],
      links: [{ id: 30, origin_id: 4, origin_slot: 2, target_id: 1, target_slot: 1, type: 'VAE', parentId: 1 }],
      reroutes: [{ id: 1, pos: [5, 5], linkIds: [30] }],
    });
    assert.equal(wf.version, 0.4);
    assert.equal(wf.last_node_id, 12);
    assert.equal(wf.last_link_id, 30);
    assert.deepEqual(wf.links, [[30, 4, 2, 1, 1, 'VAE']]);
    assert.equal('state' in wf, false);
    assert.deepEqual((wf.extra as { reroutes: unknown }).reroutes, [{ id: 1, pos: [5, 5], linkIds: [30] }]);
  });

  it('accepts the legacy {"0": x, "1": y} vector form and fills node defaults', () => {
    const wf = parseUiWorkflow({ nodes: [{ id: 2, type: 'Note', pos: { 0: 3, 1: 4 }, size: { 0: 210, 1: 80 } }], links: [] });
    const n = wf.nodes[0];
    assert.deepEqual([n.pos, n.size, n.mode, n.order, n.flags, n.properties], [[3, 4], [210, 80], 0, 0, {}, {}]);
  });

  it('names the JSON path and the expectation on bad input', () => {
    const base = defaultGraphJson() as { nodes: Array<Record<string, unknown>>; links: unknown[] };
    base.nodes[3].widgets_values = 'oops';
    assert.throws(() => parseUiWorkflow(base), /nodes\[3\]\.widgets_values: expected an array .*got the string "oops"/);
    const b2 = defaultGraphJson() as { links: unknown[] };
    b2.links[2] = [1, 2, 3];
    assert.throws(() => parseUiWorkflow(b2), (e: unknown) => e instanceof WorkflowFormatError && e.path === 'links[2]');
    assert.throws(() => parseUiWorkflow({ nodes: [{ id: 1 }] }), /nodes\[0\]\.type: expected the node class name/);
    assert.throws(() => parseUiWorkflow([]), /\(root\): expected a workflow object, got an array/);
  });

  it('parses API prompts and reports the bad node', () => {
    const p = parseApiPrompt({ '1': { class_type: 'X', inputs: { a: 1 } } });
    assert.deepEqual(p['1'].inputs, { a: 1 });
    assert.throws(() => parseApiPrompt({ '7': { inputs: {} } }), /prompt\["7"\]\.class_type: expected the node class name/);
    assert.throws(() => parseApiPrompt({ '7': { class_type: 'X', inputs: [] } }), /prompt\["7"\]\.inputs: expected an object/);
  });

  it('detects UI vs API the way the frontend does', () => {
    assert.equal(detectFormat(defaultGraphJson()), 'ui');
    assert.equal(detectFormat({ '1': { class_type: 'A', inputs: {} } }), 'api');
    assert.equal(detectFormat({ '1': { class_type: 'A' }, x: 3 }), undefined);
    assert.equal(detectFormat({}), undefined);
    assert.throws(() => parseWorkflowJson(42), /expected a ComfyUI workflow .* or an API prompt/);
  });
});
