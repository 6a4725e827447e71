import assert from 'node:assert/strict';
import { writeCanonicalJson, writeCanonicalWorkflow } from '../../../src/workflow/canonicalJson';
import { readPngMetadata } from '../../../src/workflow/png';
import { defaultGraphJson, EXAMPLES, examplePng } from './helpers';

type Wf = { nodes: Array<{ id: number }>; links: Array<[number]> };

function sortedCopy(wf: Wf): Wf {
  const c = structuredClone(wf);
  c.nodes.sort((a, b) => a.id - b.id);
  c.links.sort((a, b) => a[0] - b[0]);
  return c;
}

describe('workflow/canonicalJson', () => {
  it('orders top-level and node keys, sorts nodes and links, keeps scalar arrays on one line', () => {
    const text = writeCanonicalWorkflow(defaultGraphJson() as Record<string, unknown>);
    const lines = text.split('\n');
    const topKeys = lines.filter((l) => /^ {2}"/.test(l)).map((l) => l.trim().split('"')[1]);
    assert.deepEqual(topKeys, ['last_node_id', 'last_link_id', 'nodes', 'links', 'groups', 'config', 'extra', 'version']);
    const nodeKeys = lines.filter((l) => /^ {6}"/.test(l)).slice(0, 11).map((l) => l.trim().split('"')[1]);
    assert.deepEqual(nodeKeys, ['id', 'type', 'pos', 'size', 'flags', 'order', 'mode', 'inputs', 'outputs', 'properties', 'widgets_values']);
    assert.ok(lines.includes('      "widgets_values": [156680208700286, true, 20, 8, "euler", "normal", 1]'));
    assert.ok(lines.includes('    [1, 4, 0, 3, 0, "MODEL"],'));
    assert.ok(lines.includes('      "pos": [863, 186],'));
    const ids = [...text.matchAll(/^ {6}"id": (\d+),$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(ids, [3, 4, 5, 6, 7, 8, 9]);
    assert.ok(text.endsWith('}\n') && !text.endsWith('\n\n'));
  });

  for (const name of ['default_graph', ...EXAMPLES]) {
    it(`is idempotent and lossless for ${name}`, () => {
      const wf = (name === 'default_graph' ? defaultGraphJson() : JSON.parse(readPngMetadata(examplePng(name)).workflow!)) as Wf;
      const once = writeCanonicalWorkflow(wf as unknown as Record<string, unknown>);
      assert.equal(writeCanonicalWorkflow(JSON.parse(once)), once);
      assert.deepEqual(JSON.parse(once), sortedCopy(wf));
    });
  }

  it('puts unknown keys after the known ones, alphabetically', () => {
    const text = writeCanonicalWorkflow({ zeta: 1, version: 0.4, alpha: { b: 1, a: [] }, nodes: [], links: [], last_node_id: 0, last_link_id: 0 });
    assert.equal(text, '{\n  "last_node_id": 0,\n  "last_link_id": 0,\n  "nodes": [],\n  "links": [],\n  "version": 0.4,\n  "alpha": {\n    "b": 1,\n    "a": []\n  },\n  "zeta": 1\n}\n');
  });

  it('writes other JSON with the same layout rules', () => {
    assert.equal(writeCanonicalJson({ a: ['4', 0], b: [{ c: null }] }), '{\n  "a": ["4", 0],\n  "b": [\n    {\n      "c": null\n    }\n  ]\n}\n');
  });
});
