import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getCoreSchema } from '../../../src/workflow/catalog/catalog';
import { writeCanonicalWorkflow } from '../../../src/workflow/canonicalJson';
import { locateNodes } from '../../../src/workflow/nodeLocations';
import { parseUiWorkflow } from '../../../src/workflow/parse';

const REPO = join(__dirname, '../../..');
const lineOf = (text: string, offset: number) => text.slice(0, offset).split('\n').length;

describe('locateNodes', () => {
  const graph = JSON.parse(readFileSync(join(REPO, 'test/fixtures/comfyui/default_graph.json'), 'utf8'));
  const text = writeCanonicalWorkflow(parseUiWorkflow(graph));
  const lines = text.split('\n');
  const loc = locateNodes(text);

  it('finds each node by id on the line of its "id" property', () => {
    for (const id of ['3', '4', '9']) {
      const s = loc.node(id)!;
      assert.equal(text.slice(s.start, s.end).replace(/\s/g, ''), `"id":${id}`);
    }
    assert.equal(loc.node('99'), undefined);
  });

  it('finds a widget input at its widgets_values element and a socket input at its inputs entry', () => {
    const steps = loc.input('3', 'steps', getCoreSchema('KSampler'))!;
    assert.equal(text.slice(steps.start, steps.end), '20');
    assert.match(lines[lineOf(text, steps.start) - 1], /"widgets_values": \[156680208700286, true, 20,/);
    const model = loc.input('3', 'model')!;
    assert.match(text.slice(model.start, model.end), /"name": "model"/);
    // Unknown input or no schema: the node's id line.
    assert.deepEqual(loc.input('3', 'nope'), loc.node('3'));
  });

  it('works on any formatting and finds nothing in non-workflow text', () => {
    const compact = JSON.stringify(graph);
    const s = locateNodes(compact).node('7')!;
    assert.equal(compact.slice(s.start, s.end), '"id":7');
    assert.equal(locateNodes('{"a": 1}').node('1'), undefined);
    assert.equal(locateNodes('not json').node('1'), undefined);
  });
});
