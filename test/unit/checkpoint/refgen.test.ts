// The reference-rule generator (tools/refgen) against REFERENCE.md: its first-bytes table, the
// manifest's names/shapes/kinds/scales, and the rounding rule. The full file's sha256 is checked
// whenever the parity test generates it.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SafetensorsFile } from '../../../src/inference/safetensors/read';
import { writeRuleCheckpoint } from '../../../tools/refgen/generate';
import { checkpointTensors, SD15, SD15_SMALL } from '../../../tools/refgen/layout';
import { float64ToHalfBits, tensorHalfBits } from '../../../tools/refgen/rule';
import { repoRoot } from '../pipeline/harness';

const hex = (bits: Uint16Array) => Buffer.from(bits.buffer, bits.byteOffset, 8).toString('hex');

describe('refgen: the reference checkpoint rule', () => {
  it("reproduces REFERENCE.md's first-bytes table (seed 1)", () => {
    const rows: [string, 'embedding' | 'dense' | 'norm' | 'bias', number, string][] = [
      ['cond_stage_model.transformer.text_model.embeddings.token_embedding.weight', 'embedding', 0.5, '2631fca90834bdaa'],
      ['model.diffusion_model.input_blocks.0.0.weight', 'dense', 0.25, 'd4b11a2eb8334faf'],
      ['first_stage_model.decoder.norm_out.weight', 'norm', 0.125, '2c3c293b493c3a3b'],
      ['model.diffusion_model.out.2.bias', 'bias', 2 ** -5, 'a0a6699d4f26e926'],
    ];
    for (const [name, kind, scale, bytes] of rows) assert.equal(hex(tensorHalfBits(name, 4, kind, scale, 1)), bytes, name);
  });

  it('rounds float64 values to binary16 once (no double rounding through float32)', () => {
    // 1 + 2^-11 + 2^-40 is just above the midpoint between 1 and 1 + 2^-10: nearest is 0x3c01;
    // through float32 it first becomes the exact midpoint and then ties to even, 0x3c00.
    assert.equal(float64ToHalfBits(1 + 2 ** -11 + 2 ** -40), 0x3c01);
    assert.equal(float64ToHalfBits(1 + 2 ** -11), 0x3c00);
    assert.equal(float64ToHalfBits(-2), 0xc000);
    assert.equal(float64ToHalfBits(65504), 0x7bff);
    assert.equal(float64ToHalfBits(65520), 0x7c00);
    assert.equal(float64ToHalfBits(2 ** -24), 0x0001);
    assert.equal(float64ToHalfBits(2 ** -26), 0x0000);
  });

  it("lists exactly the manifest's 1,130 tensors for SD1.5 (names, shapes, kinds, scales, order)", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test/fixtures/comfyui-reference/sd15/checkpoint-manifest.json'), 'utf8')) as { tensors: [string, number[], string, number][]; files: Record<string, { params: number }> };
    const mine = checkpointTensors(SD15).map((e) => [e.name, e.shape, e.kind, e.scale]);
    assert.deepEqual(mine, manifest.tensors);
    assert.equal(mine.reduce((s, e) => s + (e[1] as number[]).reduce((a, b) => a * b, 1), 0), manifest.files['seed 1'].params);
  });

  it('writes a small checkpoint in the same key layout whose values follow the rule', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'marble-refgen-'));
    try {
      const file = path.join(dir, 'small.safetensors');
      await writeRuleCheckpoint(file, SD15_SMALL, 3);
      const st = await SafetensorsFile.open(file);
      try {
        const entries = checkpointTensors(SD15_SMALL);
        assert.deepEqual([...st.tensors.keys()].sort(), entries.map((e) => e.name));
        const e = entries.find((x) => x.name === 'model.diffusion_model.out.0.weight')!;
        assert.equal(e.kind, 'norm');
        const raw = await st.readRaw(e.name);
        assert.deepEqual(new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)), tensorHalfBits(e.name, e.shape[0], 'norm', 0.125, 3));
      } finally {
        await st.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
