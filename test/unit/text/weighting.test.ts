import * as assert from 'node:assert/strict';
import {
  applyTokenWeights,
  emptyPromptIds,
  encodeTokenWeights,
  type EncodeIds,
} from '../../../src/inference/text/weighting';
import type { WeightedToken } from '../../../src/inference/text/tokenizeWithWeights';

const SPECIAL = { bos: 49406, eos: 49407, pad: 49407 };
const SEQ = 4;
const DIM = 2;

// A fake encoder whose hidden state is a readable function of (row contents, position, channel):
// value = 100·(first real id of the row mod 7) + 10·position + channel.
function fakeEncoder(calls: number[][][]): EncodeIds {
  return async (rows) => {
    calls.push(rows.map((r) => [...r]));
    const hidden = new Float32Array(rows.length * SEQ * DIM);
    const pooled = new Float32Array(rows.length * 3);
    rows.forEach((row, r) => {
      const tag = row[1]! % 7;
      for (let j = 0; j < SEQ; j++) for (let d = 0; d < DIM; d++) hidden[(r * SEQ + j) * DIM + d] = 100 * tag + 10 * j + d;
      pooled.fill(r + 0.5, r * 3, r * 3 + 3);
    });
    return { hidden, pooled };
  };
}

const chunk = (pairs: Array<[number, number]>): WeightedToken[] => pairs.map(([id, weight]) => ({ id, weight }));

describe('token weighting (ComfyUI encode_token_weights)', () => {
  it('builds the empty prompt as [BOS, EOS, pad…]', () => {
    assert.deepEqual(emptyPromptIds(5, { bos: 1, eos: 2, pad: 0 }), [1, 2, 0, 0, 0]);
  });

  it('applies z = (z − z_empty)·w + z_empty only where w ≠ 1', () => {
    const hidden = new Float32Array([1, 2, 3, 4, 5, 6]); // 1 chunk × 3 tokens × 2
    const empty = new Float32Array([0.5, 0.5, 1, 1, 2, 2]);
    const out = applyTokenWeights(hidden, [[1, 2, 0]], empty, 2);
    assert.deepEqual([...out], [1, 2, (3 - 1) * 2 + 1, (4 - 1) * 2 + 1, 2, 2]);
    assert.deepEqual([...hidden], [1, 2, 3, 4, 5, 6]); // input not modified
  });

  it('rounds like float32 arithmetic', () => {
    const out = applyTokenWeights(new Float32Array([0.1]), [[1.1]], new Float32Array([0.3]), 1);
    const f = Math.fround;
    assert.equal(out[0], f(f(f(f(0.1) - f(0.3)) * f(1.1)) + f(0.3)));
  });

  it('encodes without an empty row and returns hidden states untouched when all weights are 1', async () => {
    const calls: number[][][] = [];
    const chunks = [chunk([[49406, 1], [320, 1], [49407, 1], [49407, 1]])];
    const r = await encodeTokenWeights(chunks, fakeEncoder(calls), SPECIAL);
    assert.equal(calls[0]!.length, 1);
    assert.deepEqual(r.shape, [1, SEQ, DIM]);
    assert.deepEqual([...r.cond], [500, 501, 510, 511, 520, 521, 530, 531]); // 320 mod 7 = 5
    assert.deepEqual([...r.pooled!], [0.5, 0.5, 0.5]);
  });

  it('appends the empty prompt once when any chunk is weighted and weights every chunk against it', async () => {
    const calls: number[][][] = [];
    const chunks = [
      chunk([[49406, 1], [320, 1], [49407, 1], [49407, 1]]), // tag 5, all weights 1
      chunk([[49406, 1], [2368, 2], [49407, 1], [49407, 1]]), // tag 2368 mod 7 = 2, token 1 at ×2
    ];
    const r = await encodeTokenWeights(chunks, fakeEncoder(calls), SPECIAL);
    assert.deepEqual(calls[0]!.map((row) => row.length), [4, 4, 4]);
    assert.deepEqual(calls[0]![2], [49406, 49407, 49407, 49407]);
    assert.deepEqual(r.shape, [1, 2 * SEQ, DIM]); // chunks concatenated on the sequence axis
    assert.deepEqual([...r.cond.subarray(0, 8)], [500, 501, 510, 511, 520, 521, 530, 531]);
    // empty row: its id 49407 mod 7 = 1 → 100 + 10·j + d; weighted: (210 − 110)·2 + 110 = 310
    assert.deepEqual([...r.cond.subarray(8, 16)], [200, 201, 310, 311, 220, 221, 230, 231]);
    assert.deepEqual([...r.pooled!], [0.5, 0.5, 0.5]); // first chunk's pooled, not the empty row's
  });

  it('uses the model pad id for the empty prompt (OpenCLIP pads with 0)', async () => {
    const calls: number[][][] = [];
    await encodeTokenWeights([chunk([[49406, 1], [320, 1.2], [49407, 1], [0, 1]])], fakeEncoder(calls), { ...SPECIAL, pad: 0 });
    assert.deepEqual(calls[0]![1], [49406, 49407, 0, 0]);
  });

  it('explains a hidden-state size that does not fit the batch', async () => {
    const bad: EncodeIds = async () => ({ hidden: new Float32Array(7) });
    await assert.rejects(
      encodeTokenWeights([chunk([[49406, 1], [49407, 1]])], bad, SPECIAL),
      /returned 7 hidden values for 1 rows × 2 tokens/,
    );
    assert.throws(() => applyTokenWeights(new Float32Array(4), [[1, 2]], new Float32Array(3), 2), /empty-prompt hidden has 3 values, expected 2 × 2 = 4/);
  });
});
