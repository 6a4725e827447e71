// The "cannot run yet" list must match the inference process: every listed class is in the
// catalogue (so it can be drawn and searched) and has no implementation; every other catalogue
// class has one. When a node lands, this test says to take it off the list.
import assert from 'node:assert/strict';
import { createNodeRegistry } from '../../../src/inference/nodes/registry';
import type { ModelServices } from '../../../src/inference/nodes/modelServices';
import type { GetConfig } from '../../../src/inference/nodes/runtimeConfig';
import { loadCoreCatalog } from '../../../src/workflow/catalog/catalog';
import { UNSUPPORTED_NODES, unsupportedReason } from '../../../src/workflow/catalog/support';

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
    assert.equal(unsupportedReason('CLIPTextEncodeSDXL', known), 'SDXL: not yet');
    assert.equal(unsupportedReason('LoraLoader', known), 'LoRA: not yet');
    assert.equal(unsupportedReason('KSampler', known), undefined);
    assert.equal(unsupportedReason('SuperCustomUpscaler', known), 'custom node: not installed in Marble');
  });
});
