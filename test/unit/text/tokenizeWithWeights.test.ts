import * as assert from 'node:assert/strict';
import { tokenizeWithWeights, type WeightedToken } from '../../../src/inference/text/tokenizeWithWeights';
import { BOS, EOS, clipTokenizer } from './helpers';

const ids = (chunk: WeightedToken[]) => chunk.map((t) => t.id);
const CAT = 2368;
const DOG = 1929;

describe('tokenizeWithWeights (ComfyUI SDTokenizer)', () => {
  const tok = clipTokenizer();

  it('gives one chunk [BOS, EOS, pad×75] for an empty prompt', () => {
    const r = tokenizeWithWeights(tok, '');
    assert.equal(r.chunks.length, 1);
    assert.deepEqual(ids(r.chunks[0]!), [BOS, EOS, ...new Array(75).fill(EOS)]);
    assert.equal(r.tokenCount, 0);
  });

  it('pads with id 0 when asked (SD2 / SDXL clip_g)', () => {
    const r = tokenizeWithWeights(tok, 'a cat', { padId: 0 });
    assert.deepEqual(ids(r.chunks[0]!).slice(0, 5), [BOS, 320, CAT, EOS, 0]);
    assert.equal(r.chunks[0]!.length, 77);
    assert.equal(tok.idToToken(0), '!');
  });

  it('puts weights on the tokens of each segment and 1.0 on BOS/EOS/pad', () => {
    assert.equal(tok.tokenToId('dog</w>'), DOG);
    const r = tokenizeWithWeights(tok, 'a (cat:1.5), ((dog))');
    const c = r.chunks[0]!;
    assert.deepEqual(c.slice(0, 6), [
      { id: BOS, weight: 1 },
      { id: 320, weight: 1 },
      { id: CAT, weight: 1.5 },
      { id: 267, weight: 1 },
      { id: DOG, weight: 1.1 * 1.1 },
      { id: EOS, weight: 1 },
    ]);
    assert.ok(c.slice(5).every((t) => t.id === EOS && t.weight === 1));
    assert.equal(r.tokenCount, 4);
  });

  it('fits exactly 75 tokens in one chunk and starts a second at 76', () => {
    const r75 = tokenizeWithWeights(tok, 'cat '.repeat(75));
    assert.equal(r75.chunks.length, 1);
    assert.deepEqual(ids(r75.chunks[0]!), [BOS, ...new Array(75).fill(CAT), EOS]);
    const r76 = tokenizeWithWeights(tok, 'cat '.repeat(76));
    assert.equal(r76.chunks.length, 2);
    assert.deepEqual(ids(r76.chunks[1]!).slice(0, 3), [BOS, CAT, EOS]);
    assert.equal(r76.tokenCount, 76);
  });

  it('cuts a long segment exactly at the 75-token boundary', () => {
    const r = tokenizeWithWeights(tok, 'cat '.repeat(100));
    assert.equal(r.chunks.length, 2);
    assert.equal(ids(r.chunks[0]!).filter((i) => i === CAT).length, 75);
    assert.equal(ids(r.chunks[1]!).filter((i) => i === CAT).length, 25);
    assert.ok(r.chunks.every((c) => c.length === 77));
  });

  it('moves a short weighted segment (< 8 tokens) whole to the next chunk', () => {
    const r = tokenizeWithWeights(tok, `${'cat '.repeat(72)}(dog dog dog dog:1.2)`);
    assert.equal(r.chunks.length, 2);
    const first = ids(r.chunks[0]!);
    assert.deepEqual(first.slice(72, 77), [CAT, EOS, EOS, EOS, EOS]); // closed after 72 cats, padded
    assert.deepEqual(r.chunks[1]!.slice(0, 6).map((t) => [t.id, t.weight]), [
      [BOS, 1], [DOG, 1.2], [DOG, 1.2], [DOG, 1.2], [DOG, 1.2], [EOS, 1],
    ]);
  });

  it('splits a segment of 8 or more tokens across the boundary', () => {
    const r = tokenizeWithWeights(tok, `${'cat '.repeat(72)}(${'dog '.repeat(8)}:1.2)`);
    assert.equal(ids(r.chunks[0]!).filter((i) => i === DOG).length, 3); // 77 − (1 + 72) − 1 room
    assert.equal(ids(r.chunks[1]!).filter((i) => i === DOG).length, 5);
  });

  it('tokenizes a segment as one piece: a multi-token word at the boundary is split (ComfyUI ≥ 2025)', () => {
    // 74 cats + "supercalifragilistic" (5 tokens) in ONE unweighted segment → one group of 79.
    const r = tokenizeWithWeights(tok, `${'cat '.repeat(74)}supercalifragilistic`);
    assert.deepEqual(r.chunks[0]!.slice(75, 77).map((t) => tok.idToToken(t.id)), ['super', '<|endoftext|>']);
    assert.equal(tok.idToToken(r.chunks[1]![1]!.id), 'cali');
  });

  it('drops an "embedding:name" it cannot load and keeps the words after it', () => {
    const r = tokenizeWithWeights(tok, 'a cat embedding:easynegative, dog');
    assert.deepEqual(r.missingEmbeddings, ['easynegative']);
    assert.deepEqual(ids(r.chunks[0]!).slice(0, 6), [BOS, 320, CAT, 267, DOG, EOS]);
  });

  it('ignores parentheses when weights are disabled', () => {
    const r = tokenizeWithWeights(tok, '(cat:1.5)', { weights: false });
    assert.ok(r.chunks[0]!.every((t) => t.weight === 1));
    assert.equal(r.tokenCount, tok.encode('(cat:1.5)').length);
    const escaped = tokenizeWithWeights(tok, '\\(cat\\)', { weights: false });
    assert.deepEqual(ids(escaped.chunks[0]!).slice(1, 4), tok.encode('(cat)'));
  });

  it('rejects a pad id outside the vocabulary', () => {
    assert.throws(() => tokenizeWithWeights(tok, 'cat', { padId: 99999 }), /padId 99999 is not a token id/);
  });
});
