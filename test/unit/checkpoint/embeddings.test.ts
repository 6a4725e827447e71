// Textual-inversion embeddings through a converted text encoder (SD15_SMALL's CLIP, fp32): an
// embedding whose vectors equal rows of the token table must give exactly the conditioning of
// those tokens, weighted or not, pooled output included; a file of the wrong width fails in one
// line naming it; an ONNX export (input_ids only) refuses an embedding that exists.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeClipTextOnnx } from '../../../src/inference/checkpoint/build';
import { ComponentSession } from '../../../src/inference/models';
import { encodeText, textEncoderFeeds } from '../../../src/inference/nodes/conditioning';
import type { ClipModel, Conditioning } from '../../../src/inference/nodes/modelTypes';
import { SessionCache } from '../../../src/inference/ort/sessionCache';
import { SafetensorsFile } from '../../../src/inference/safetensors/read';
import type { Tensor } from '../../../src/inference/tensor';
import { writeSafetensors } from '../../../src/inference/safetensors/write';
import { writeRuleCheckpoint } from '../../../tools/refgen/generate';
import { SD15_SMALL } from '../../../tools/refgen/layout';
import { prefixedSource, SD1_PREFIXES } from '../../../tools/refgen/weightSource';
import { tinyModel } from '../models/fixtures';
import { clipTokenizer } from '../text/helpers';

const TOKEN_TABLE = 'cond_stage_model.transformer.text_model.embeddings.token_embedding.weight';
const D = SD15_SMALL.clip.hiddenSize;

async function writeEmbedding(file: string, rows: Float32Array[], name = 'emb_params', shape?: number[]): Promise<void> {
  const data = new Float32Array(rows.length * rows[0]!.length);
  rows.forEach((r, i) => data.set(r, i * r.length));
  const dims = shape ?? (rows.length === 1 ? [rows[0]!.length] : [rows.length, rows[0]!.length]);
  await writeSafetensors(file, [{ name, dtype: 'F32', shape: dims, data: new Uint8Array(data.buffer) }]);
}

describe('textual-inversion embeddings in a converted text encoder', function () {
  this.timeout(120_000);
  const tok = clipTokenizer();
  const cache = new SessionCache({ ep: 'cpu' });
  let dir: string;
  let embDir: string;
  let clip: ClipModel;
  const row = new Map<number, Float32Array>();
  const idOf = (word: string) => {
    const ids = tok.encode(word);
    assert.equal(ids.length, 1, `'${word}' is one token`);
    return ids[0]!;
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'marble-embeddings-'));
    const ckpt = path.join(dir, 'small.safetensors');
    await writeRuleCheckpoint(ckpt, SD15_SMALL, 5);
    const st = await SafetensorsFile.open(ckpt);
    const model = path.join(dir, 'text_encoder', 'model.onnx');
    await writeClipTextOnnx(model, SD15_SMALL.clip, prefixedSource(st, SD1_PREFIXES.clip), { precision: 'fp32' });
    for (const word of ['cat', 'red', 'ball', 'dog']) {
      const id = idOf(word);
      row.set(id, await st.readFloat32Range(TOKEN_TABLE, id * D, D));
    }
    await st.close();
    embDir = path.join(dir, 'embeddings');
    fs.mkdirSync(path.join(embDir, 'sub'), { recursive: true });
    await writeEmbedding(path.join(embDir, 'cat1.safetensors'), [row.get(idOf('cat'))!]);
    await writeEmbedding(path.join(embDir, 'sub', 'three.safetensors'), ['red', 'ball', 'dog'].map((w) => row.get(idOf(w))!));
    await writeEmbedding(path.join(embDir, 'wide.safetensors'), [new Float32Array(D + 8)]);
    const encoder = new ComponentSession('text_encoder', model, `text encoder (${model})`, cache);
    clip = { name: 'small', encoder, tokenizer: tok, padId: tok.eosId, layerIdx: -1, embeddingDirs: [embDir] };
  });
  after(async () => {
    await cache.freeAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const same = (a: Conditioning, b: Conditioning) => {
    assert.deepEqual(a[0]![0].shape, b[0]![0].shape);
    assert.ok(a[0]![0].data.every((v, i) => Object.is(v, b[0]![0].data[i])), 'conditioning is bit-identical');
    const pa = a[0]![1].pooled_output!;
    const pb = b[0]![1].pooled_output!;
    assert.ok(pa.length === D && pa.every((v, i) => Object.is(v, pb[i])), 'pooled output is bit-identical');
  };

  it('a 1-vector embedding equal to a token row gives that token’s conditioning', async () => {
    same(await encodeText(clip, 'a photo of embedding:cat1 sitting'), await encodeText(clip, 'a photo of cat sitting'));
  });

  it('a 3-vector embedding (found in a sub-folder) gives the conditioning of its three tokens', async () => {
    same(await encodeText(clip, 'photo of embedding:three , ok'), await encodeText(clip, 'photo of red ball dog , ok'));
  });

  it('retries a name without its trailing commas and keeps the commas as text, as ComfyUI does', async () => {
    same(await encodeText(clip, 'a embedding:cat1, b'), await encodeText(clip, 'a cat, b'));
  });

  it('weights apply to embedding vectors like words: (embedding:cat1:1.3), and the name with its extension', async () => {
    same(await encodeText(clip, 'a (embedding:cat1:1.3) sitting'), await encodeText(clip, 'a (cat:1.3) sitting'));
    same(await encodeText(clip, '(embedding:three.safetensors) ball'), await encodeText(clip, '(red ball dog) ball'));
  });

  it('differs from the prompt without the embedding (the vectors reach the encoder)', async () => {
    const a = await encodeText(clip, 'a photo of embedding:cat1 sitting');
    const b = await encodeText(clip, 'a photo of sitting');
    assert.ok(a[0]![0].data.some((v, i) => v !== b[0]![0].data[i]));
  });

  it('warns about a missing embedding through the given log and drops its name', async () => {
    const warnings: string[] = [];
    const a = await encodeText(clip, 'a photo of embedding:nothere sitting', { warn: (m) => warnings.push(m) });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^warning, embedding:nothere does not exist, ignoring/);
    assert.ok(warnings[0]!.includes(embDir));
    same(a, await encodeText(clip, 'a photo of sitting'));
  });

  it('refuses an embedding of the wrong width in one line naming the file and the width expected', async () => {
    await assert.rejects(encodeText(clip, 'a embedding:wide b'), (e: Error) => {
      assert.ok(!e.message.includes('\n'), e.message);
      assert.ok(e.message.includes(path.join(embDir, 'wide.safetensors')), e.message);
      assert.match(e.message, /72 wide; this text encoder takes 64-wide vectors/);
      return true;
    });
  });

  it("reads the encoder's own tensor from an SDXL-style file holding clip_l and clip_g", async () => {
    const cat = row.get(idOf('cat'))!;
    const dog = row.get(idOf('dog'))!;
    await writeSafetensors(path.join(embDir, 'pair.safetensors'), [
      { name: 'clip_g', dtype: 'F32', shape: [1, D], data: new Uint8Array(Float32Array.from(dog).buffer) },
      { name: 'clip_l', dtype: 'F32', shape: [1, D], data: new Uint8Array(Float32Array.from(cat).buffer) },
    ]);
    same(await encodeText({ ...clip, embeddingKey: 'clip_l' }, 'a embedding:pair b'), await encodeText(clip, 'a cat b'));
    same(await encodeText({ ...clip, embeddingKey: 'clip_g' }, 'a embedding:pair b'), await encodeText(clip, 'a dog b'));
    // No key for a 64-wide encoder: the file's first tensor, as ComfyUI's next(iter(values)).
    same(await encodeText(clip, 'a embedding:pair b'), await encodeText(clip, 'a dog b'));
  });

  it('feeds one unused zero row when there are no embeddings, and checks vector widths', async () => {
    const io = await clip.encoder.open();
    const feeds = textEncoderFeeds(io.inputs, [[1, 2, 3]]);
    assert.deepEqual((feeds.extra_token_embeddings as Tensor).shape, [1, D]);
    assert.ok((feeds.extra_token_embeddings as Tensor).data.every((v) => v === 0));
    const two = textEncoderFeeds(io.inputs, [[1, -1, -2]], [new Float32Array(D).fill(1), new Float32Array(D).fill(2)]);
    assert.deepEqual((two.extra_token_embeddings as Tensor).shape, [2, D]);
    assert.equal((two.extra_token_embeddings as Tensor).data[D], 2);
    assert.throws(() => textEncoderFeeds(io.inputs, [[-1]], [new Float32Array(D + 1)]), /vector 0 has 65 values; the text encoder takes 64/);
    assert.throws(() => textEncoderFeeds([{ name: 'input_ids', type: 'int32', shape: ['b', 's'] }], [[-1]], [new Float32Array(D)]), /takes token ids only/);
  });

  it('an ONNX export without the embeddings input refuses an existing embedding by name, and encodes plain prompts', async () => {
    const folder = tinyModel('fp32');
    const encoder = new ComponentSession('text_encoder', path.join(folder, 'text_encoder', 'model.onnx'), 'tiny text encoder', cache);
    const exported: ClipModel = { ...clip, name: 'tiny', encoder };
    await assert.rejects(encodeText(exported, 'a embedding:cat1 b'), /embedding:cat1 .*cat1\.safetensors.*'tiny' is an ONNX export that takes token ids only/);
    const warnings: string[] = [];
    const plain = await encodeText(exported, 'a embedding:nothere b', { warn: (m) => warnings.push(m) });
    assert.equal(warnings.length, 1);
    assert.ok(plain[0]![0].data.length > 0);
  });
});
