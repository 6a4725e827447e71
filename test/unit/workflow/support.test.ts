// The "cannot run yet" list must match the inference process: every listed class is in the
// catalogue (so it can be drawn and searched) and has no implementation; every other catalogue
// class has one. When a node lands, this test says to take it off the list.
import assert from 'node:assert/strict';
import { createNodeRegistry } from '../../../src/inference/nodes/registry';
import type { ModelServices } from '../../../src/inference/nodes/modelServices';
import type { GetConfig } from '../../../src/inference/nodes/runtimeConfig';
import { VIRTUAL_NODE_TYPES, loadCoreCatalog } from '../../../src/workflow/catalog/catalog';
import { UNSUPPORTED_NODES, unsupportedNodeErrors, unsupportedReason } from '../../../src/workflow/catalog/support';

describe('catalogue support list', () => {
  // Registering definitions touches no model: empty services are enough to list the classes.
  const registry = createNodeRegistry((() => ({})) as unknown as GetConfig, {} as ModelServices);
  const catalog = loadCoreCatalog();

  it('lists exactly the catalogue classes the inference registry lacks', () => {
    const missing = Object.keys(catalog).filter((c) => !registry.has(c)).sort();
    assert.deepEqual(Object.keys(UNSUPPORTED_NODES).sort(), missing);
  });

  it('gives a reason for listed classes and custom nodes, none for runnable ones', () => {
    const known = (c: string) => c in catalog;
    assert.equal(unsupportedReason('CLIPTextEncodeSDXL', known), undefined);
    assert.equal(unsupportedReason('ControlNetLoader', known), 'ControlNet: not yet');
    assert.equal(unsupportedReason('LoraLoader', known), undefined);
    assert.equal(unsupportedReason('KSampler', known), undefined);
    assert.equal(unsupportedReason('SuperCustomUpscaler', known), 'custom node: not installed in Marble');
  });

  it('names each node that cannot run before anything is queued; muted, bypassed and virtual nodes are skipped', () => {
    const known = (c: string) => c in catalog;
    const nodes = [
      { id: 3, type: 'KSampler', mode: 0 }, { id: 10, type: 'ControlNetLoader', mode: 0 }, { id: 11, type: 'ControlNetLoader', mode: 4 },
      { id: 12, type: 'SuperCustomUpscaler', mode: 0 }, { id: 13, type: 'Note', mode: 0 }, { id: 14, type: 'CLIPTextEncodeSDXL', mode: 2 },
    ];
    const errors = unsupportedNodeErrors(nodes, known, VIRTUAL_NODE_TYPES)!;
    assert.deepEqual(Object.keys(errors), ['10', '12']);
    assert.equal(errors['10'].class_type, 'ControlNetLoader');
    assert.equal(errors['10'].errors[0].message, 'Marble cannot run this node (ControlNet: not yet)');
    assert.equal(errors['12'].errors[0].message, 'Marble cannot run this node (custom node: not installed in Marble)');
    assert.equal(unsupportedNodeErrors([{ id: 3, type: 'KSampler' }], known, VIRTUAL_NODE_TYPES), undefined);
  });
});
