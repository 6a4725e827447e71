import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { applyControlsAfterQueue, controlledValues } from '../../../src/extension/controlAfterGenerate';
import { getCoreSchema } from '../../../src/workflow/catalog/catalog';

const template = JSON.parse(readFileSync(path.resolve(__dirname, '../../../resources/workflows/default.workflow.json'), 'utf8'));
type N = { id: number; type: string; mode: number; widgets_values: unknown[] };
const ks = (w: { nodes: N[] }) => w.nodes.find((n) => n.type === 'KSampler')!;

describe('applyControlsAfterQueue', () => {
  it('randomizes the default graph seed (legacy true) and reports the change', () => {
    const { workflow, changes } = applyControlsAfterQueue(template, getCoreSchema, () => 0.5);
    assert.equal(ks(workflow).widgets_values[0], 2 ** 49);
    assert.deepEqual(changes, [{ nodeId: '3', widget: 'seed', from: 156680208700286, to: 2 ** 49 }]);
    assert.equal(ks(template).widgets_values[0], 156680208700286, 'input not mutated');
  });
  it('increments, and leaves fixed, muted and unknown nodes alone', () => {
    const w = structuredClone(template);
    ks(w).widgets_values[1] = 'increment';
    assert.equal(ks(applyControlsAfterQueue(w, getCoreSchema).workflow).widgets_values[0], 156680208700287);
    ks(w).widgets_values[1] = 'fixed';
    assert.equal(applyControlsAfterQueue(w, getCoreSchema).changes.length, 0);
    ks(w).widgets_values[1] = 'randomize';
    ks(w).mode = 2;
    assert.equal(applyControlsAfterQueue(w, getCoreSchema).changes.length, 0);
    assert.equal(applyControlsAfterQueue(template, () => undefined).changes.length, 0);
  });
});

describe('controlledValues', () => {
  it('lists the values a run uses for non-fixed controls (what "Keep seed" offers)', () => {
    assert.deepEqual(controlledValues(template, getCoreSchema), [{ nodeId: '3', widget: 'seed', value: 156680208700286 }]);
    const w = structuredClone(template);
    ks(w).widgets_values[1] = 'fixed';
    assert.deepEqual(controlledValues(w, getCoreSchema), []);
    ks(w).widgets_values[1] = 'increment';
    ks(w).mode = 4;
    assert.deepEqual(controlledValues(w, getCoreSchema), [], 'bypassed nodes do not run');
  });
});
