// Where "embedding:name" vectors land in ComfyUI's 77-token chunks (sd1_clip.py
// tokenize_with_weights): one group per embedding, the segment's weight on every vector, a group
// under 8 vectors moved whole to the next chunk, 8 or more split at the boundary; and how
// encodeTokenWeights hands them to the encoder (id −(k+1) → embeddings[k]).
import assert from 'node:assert/strict';
import { EMBEDDING_TOKEN_ID, encodeTokenWeights, tokenizeWithWeights, type EmbeddingLookup, type WeightedToken } from '../../../src/inference/text';
import { BOS, clipTokenizer, EOS } from './helpers';

const tok = clipTokenizer();
const CAT = tok.encode('cat')[0]!;

/** Vectors [k, k, …] so each is recognisable; `sizes` gives each name's vector count. */
function fakeLookup(sizes: Record<string, number>, asked: string[] = []): EmbeddingLookup {
  return (name) => {
    asked.push(name);
    const n = sizes[name];
    return n === undefined ? undefined : Array.from({ length: n }, (_, k) => new Float32Array(4).fill(k + 1));
  };
}

const isVec = (t: WeightedToken) => t.id === EMBEDDING_TOKEN_ID && t.vector instanceof Float32Array;

describe('embedding:name placement (ComfyUI SDTokenizer)', () => {
  it('places a 1-vector embedding as one token between the words, weight 1', () => {
    const r = tokenizeWithWeights(tok, 'a embedding:one cat', { embeddings: fakeLookup({ one: 1 }) });
    const c = r.chunks[0]!;
    assert.equal(c[0]!.id, BOS);
    assert.equal(c[1]!.id, tok.encode('a')[0]);
    assert.ok(isVec(c[2]!));
    assert.equal(c[2]!.weight, 1);
    assert.equal(c[3]!.id, CAT);
    assert.equal(c[4]!.id, EOS);
    assert.equal(c.length, 77);
    assert.equal(r.tokenCount, 3);
    assert.deepEqual(r.usedEmbeddings, ['one']);
    assert.deepEqual(r.missingEmbeddings, []);
  });

  it('places every vector of a 3-vector embedding in order, with the weight of its parentheses', () => {
    const r = tokenizeWithWeights(tok, '(embedding:three:1.2) cat', { embeddings: fakeLookup({ three: 3 }) });
    const c = r.chunks[0]!;
    assert.deepEqual(c.slice(1, 4).map((t) => t.vector![0]), [1, 2, 3]);
    assert.ok(c.slice(1, 4).every((t) => isVec(t) && t.weight === 1.2));
    assert.equal(c[4]!.id, CAT);
    assert.equal(c[4]!.weight, 1);
  });

  it('looks the name up as written, extension included, and only after a space, a newline or at a segment start', () => {
    const asked: string[] = [];
    const r = tokenizeWithWeights(tok, 'embedding:one.safetensors a,embedding:one\tembedding:one\nembedding:one[x] (embedding:one)', {
      embeddings: fakeLookup({ 'one.safetensors': 1, one: 1 }, asked),
    });
    assert.deepEqual(asked, ['one.safetensors', 'one[x]', 'one']);
    assert.equal(r.chunks[0]!.filter(isVec).length, 2);
    assert.deepEqual(r.missingEmbeddings, ['one[x]'], 'the name is the whole word, brackets included');
  });

  it('ends the name where Python\'s str.split() would (\x1f splits, U+FEFF does not)', () => {
    const asked: string[] = [];
    tokenizeWithWeights(tok, 'embedding:one\x1fcat embedding:two\ufeffx', { embeddings: fakeLookup({}, asked) });
    assert.deepEqual(asked, ['one', 'two\ufeffx']);
  });

  it('moves an embedding of fewer than 8 vectors whole to the next chunk', () => {
    const text = Array(73).fill('cat').join(' ');
    const r = tokenizeWithWeights(tok, `${text} embedding:three`, { embeddings: fakeLookup({ three: 3 }) });
    assert.equal(r.chunks.length, 2);
    assert.equal(r.chunks[0]![74]!.id, EOS, 'chunk 1 closes after the 73 words');
    assert.equal(r.chunks[0]!.filter(isVec).length, 0);
    assert.deepEqual(r.chunks[1]!.slice(1, 4).map((t) => t.vector?.[0]), [1, 2, 3]);
    assert.equal(r.chunks[1]![4]!.id, EOS);
  });

  it('splits an embedding of 8 or more vectors at the 75-token boundary', () => {
    const text = Array(72).fill('cat').join(' ');
    const r = tokenizeWithWeights(tok, `${text} embedding:ten`, { embeddings: fakeLookup({ ten: 10 }) });
    assert.equal(r.chunks.length, 2);
    assert.deepEqual(r.chunks[0]!.slice(73, 76).map((t) => t.vector?.[0]), [1, 2, 3]);
    assert.equal(r.chunks[0]![76]!.id, EOS);
    assert.deepEqual(r.chunks[1]!.slice(1, 8).map((t) => t.vector?.[0]), [4, 5, 6, 7, 8, 9, 10]);
    assert.equal(r.tokenCount, 82);
  });

  it('drops a missing name, reports it and keeps the words after it', () => {
    const r = tokenizeWithWeights(tok, 'a embedding:nothere cat', { embeddings: fakeLookup({}) });
    assert.deepEqual(r.missingEmbeddings, ['nothere']);
    assert.deepEqual(r.chunks[0]!.slice(0, 4).map((t) => t.id), [BOS, tok.encode('a')[0], CAT, EOS]);
  });

  it('retries without commas: "embedding:one," finds one and keeps the comma as text', () => {
    const asked: string[] = [];
    const r = tokenizeWithWeights(tok, 'embedding:one, cat', { embeddings: fakeLookup({ one: 1 }, asked) });
    assert.deepEqual(asked, ['one,', 'one']);
    const c = r.chunks[0]!;
    assert.ok(isVec(c[1]!));
    assert.deepEqual(c.slice(2, 4).map((t) => t.id), [tok.encode(',')[0], CAT]);
  });

  it('passes a lookup error through (a bad file is an error, not a missing embedding)', () => {
    const lookup: EmbeddingLookup = () => {
      throw new Error('embedding /m/bad.safetensors: bad');
    };
    assert.throws(() => tokenizeWithWeights(tok, 'a embedding:bad', { embeddings: lookup }), /bad\.safetensors/);
  });

  it('encodeTokenWeights feeds vectors as ids −1, −2, … with the vectors in order, and the empty row has none', async () => {
    const r = tokenizeWithWeights(tok, 'embedding:three (embedding:one:1.5)', { embeddings: fakeLookup({ three: 3, one: 1 }) });
    let seen: { ids: number[][]; vectors: readonly Float32Array[] } | undefined;
    await encodeTokenWeights(
      r.chunks,
      async (ids, vectors) => {
        seen = { ids, vectors };
        return { hidden: new Float32Array(ids.length * 77 * 2) };
      },
      { bos: BOS, eos: EOS, pad: EOS },
    );
    assert.deepEqual(seen!.ids[0]!.slice(0, 6), [BOS, -1, -2, -3, -4, EOS]);
    assert.deepEqual(seen!.vectors.map((v) => v[0]), [1, 2, 3, 1]);
    assert.equal(seen!.ids.length, 2, 'the weighted prompt adds the empty row');
    assert.ok(seen!.ids[1]!.every((id) => id >= 0));
  });
});
