// The SDXL checkpoint generator lists exactly what ComfyUI saves (every key name and shape of the
// fixture key lists, and the reference manifest's kinds and scales), so the small generated files
// used by the SDXL tests have the real key layout.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { SDXL_BASE, SDXL_REFINER, sdxlCheckpointTensors } from '../../../tools/refgen/sdxlLayout';
import { sdxlShapes } from './layouts';

describe('SDXL checkpoint layout (tools/refgen/sdxlLayout)', () => {
  it('lists every tensor name and shape of ComfyUI-saved SDXL base and refiner checkpoints', () => {
    for (const [which, cfg] of [['base', SDXL_BASE], ['refiner', SDXL_REFINER]] as const) {
      const mine = sdxlCheckpointTensors(cfg).map((e) => [e.name, e.shape]);
      const theirs = sdxlShapes(which).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const names = new Set(mine.map((e) => e[0] as string));
      const missing = theirs.filter(([n]) => !names.has(n)).map(([n]) => n);
      assert.deepEqual(missing.slice(0, 5), [], `${which}: missing`);
      assert.deepEqual(mine, theirs, which);
    }
  });

  it("matches the base manifest's kinds and scales (the value rule's inputs)", () => {
    const manifest = JSON.parse(readFileSync(path.resolve(__dirname, '../../fixtures/comfyui-reference/sdxl/checkpoint-manifest.json'), 'utf8')) as { tensors: [string, number[], string, number][] };
    const mine = sdxlCheckpointTensors(SDXL_BASE).map((e) => [e.name, e.shape, e.kind, e.scale]);
    assert.deepEqual(mine, manifest.tensors);
  });
});
