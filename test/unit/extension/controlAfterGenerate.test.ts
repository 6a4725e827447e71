import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { applyControlsAfterQueue, applyPendingControls, controlledValues, pendingFromChanges } from '../../../src/extension/controlAfterGenerate';
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

describe('seeds kept out of the file (marble.seedControlWritesFile off)', () => {
  it('the next run continues from the advanced seed, also after other edits; a seed typed in the file wins', () => {
    const doc = structuredClone(template);
    ks(doc).widgets_values[0] = 42;
    ks(doc).widgets_values[1] = 'increment';
    // Run 1 uses 42 and advances to 43 in memory; the document still says 42.
    const first = applyPendingControls(doc, getCoreSchema, new Map());
    assert.equal(ks(first).widgets_values[0], 42);
    let pending = pendingFromChanges(doc, getCoreSchema, applyControlsAfterQueue(first, getCoreSchema).changes);
    const second = applyPendingControls(doc, getCoreSchema, pending);
    assert.equal(ks(second).widgets_values[0], 43);
    assert.equal(ks(doc).widgets_values[0], 42, 'the document is not touched');
    pending = pendingFromChanges(doc, getCoreSchema, applyControlsAfterQueue(second, getCoreSchema).changes);
    // A prompt edit in between: the seeds keep moving.
    const edited = structuredClone(doc);
    edited.nodes.find((n: N) => n.id === 6)!.widgets_values[0] = 'a lighthouse';
    assert.equal(ks(applyPendingControls(edited, getCoreSchema, pending)).widgets_values[0], 44);
    // "Keep seed" / typing a seed into the file: the file's value is used as written.
    const kept = structuredClone(doc);
    ks(kept).widgets_values[0] = 7;
    assert.equal(ks(applyPendingControls(kept, getCoreSchema, pending)).widgets_values[0], 7);
    // "Keep seed" of the document's own seed only sets the control to fixed: that wins too.
    const fixed = structuredClone(doc);
    ks(fixed).widgets_values[1] = 'fixed';
    assert.equal(ks(applyPendingControls(fixed, getCoreSchema, pending)).widgets_values[0], 42);
  });
});
