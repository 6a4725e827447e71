// Embedding files (ComfyUI's sd1_clip.load_embed): where a name is looked for, which tensor of
// the file an encoder reads (SDXL clip_l / clip_g, A1111 emb_params, LoRA bundles), and the
// one-line errors for files Marble will not read.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeSafetensors, type SafetensorsDtype } from '../../../src/inference/safetensors/write';
import {
  chooseEmbeddingTensors,
  embeddingKeyForWidth,
  embeddingLookup,
  embeddingSearchDirs,
  findEmbeddingFile,
  MAX_EMBEDDING_BYTES,
  readEmbeddingFile,
} from '../../../src/inference/text/loadEmbedding';
import { float32ToFloat16 } from '../../../src/inference/ort/float16';

function f32(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

async function write(file: string, tensors: [string, number[], number[], SafetensorsDtype?][]): Promise<string> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await writeSafetensors(
    file,
    tensors.map(([name, shape, values, dtype]) => ({
      name,
      dtype: dtype ?? 'F32',
      shape,
      data: dtype === 'F16' ? new Uint8Array(float32ToFloat16(Float32Array.from(values)).buffer) : dtype === 'I32' ? new Uint8Array(Int32Array.from(values).buffer) : f32(values),
    })),
  );
  return file;
}

const ramp = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

describe('embedding files', () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'marble-embfiles-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('which tensor an encoder reads', () => {
    it('maps encoder widths to ComfyUI keys', () => {
      assert.equal(embeddingKeyForWidth(768), 'clip_l');
      assert.equal(embeddingKeyForWidth(1024), 'clip_h');
      assert.equal(embeddingKeyForWidth(1280), 'clip_g');
      assert.equal(embeddingKeyForWidth(64), undefined);
    });

    it('picks clip_l or clip_g from an SDXL file by key, else bundles, else the first tensor', () => {
      assert.deepEqual(chooseEmbeddingTensors(['clip_g', 'clip_l'], 'clip_l'), ['clip_l']);
      assert.deepEqual(chooseEmbeddingTensors(['clip_g', 'clip_l'], 'clip_g'), ['clip_g']);
      assert.deepEqual(chooseEmbeddingTensors(['clip_g', 'clip_l'], 'clip_h'), ['clip_g']);
      assert.deepEqual(chooseEmbeddingTensors(['emb_params'], 'clip_l'), ['emb_params']);
      assert.deepEqual(chooseEmbeddingTensors(['string_to_param.*'], undefined), ['string_to_param.*']);
      const bundle = ['bundle_emb.a.string_to_param.*', 'bundle_emb.b.string_to_param.*', 'lora_te_x.alpha'];
      assert.deepEqual(chooseEmbeddingTensors(bundle, 'clip_l'), bundle.slice(0, 2));
      const sdxlBundle = ['bundle_emb.a.clip_g', 'bundle_emb.a.clip_l', 'lora_unet_x.alpha'];
      assert.deepEqual(chooseEmbeddingTensors(sdxlBundle, 'clip_g'), ['bundle_emb.a.clip_g']);
      assert.deepEqual(chooseEmbeddingTensors([], 'clip_l'), []);
    });

    it('reads the clip_l vectors for a 768-wide encoder and the clip_g ones for a 1280-wide one', async () => {
      const file = await write(path.join(dir, 'sdxl.safetensors'), [
        ['clip_g', [2, 1280], ramp(2560, 1000)],
        ['clip_l', [2, 768], ramp(1536)],
      ]);
      const l = readEmbeddingFile(file, { width: 768 });
      assert.equal(l.vectors.length, 2);
      assert.equal(l.vectors[1]![0], 768);
      const g = readEmbeddingFile(file, { width: 1280 });
      assert.equal(g.vectors.length, 2);
      assert.equal(g.vectors[0]![0], 1000);
      assert.equal(g.vectors[1]![1279], 1000 + 2559);
    });

    it('reads a 1-D tensor as one vector and converts F16', async () => {
      const file = await write(path.join(dir, 'half.safetensors'), [['emb_params', [4], [0.5, -1, 2, 0.25], 'F16']]);
      const e = readEmbeddingFile(file, { width: 4 });
      assert.deepEqual(e.vectors.map((v) => [...v]), [[0.5, -1, 2, 0.25]]);
    });
  });

  describe('where a name is found', () => {
    let root: string;
    before(async () => {
      root = path.join(dir, 'embeddings');
      await write(path.join(root, 'top.safetensors'), [['emb_params', [4], ramp(4)]]);
      await write(path.join(root, 'deep', 'er', 'inner.safetensors'), [['emb_params', [4], ramp(4, 10)]]);
      fs.writeFileSync(path.join(root, 'both.pt'), Buffer.from([0x80, 0x02]));
      await write(path.join(root, 'both.safetensors'), [['emb_params', [4], ramp(4)]]);
      fs.writeFileSync(path.join(root, 'old.pt'), Buffer.from([0x80, 0x02, 0x7d, 0x71]));
      await write(path.join(dir, 'outside.safetensors'), [['emb_params', [4], ramp(4)]]);
    });

    it('tries the exact name, then .safetensors, .pt, .bin, in the folder and its sub-folders', () => {
      const dirs = embeddingSearchDirs([root]);
      assert.equal(dirs[0], root);
      assert.ok(dirs.includes(path.join(root, 'deep', 'er')));
      assert.equal(findEmbeddingFile('top', dirs), path.join(root, 'top.safetensors'));
      assert.equal(findEmbeddingFile('top.safetensors', dirs), path.join(root, 'top.safetensors'));
      assert.equal(findEmbeddingFile('inner', dirs), path.join(root, 'deep', 'er', 'inner.safetensors'));
      assert.equal(findEmbeddingFile('deep/er/inner', dirs), path.join(root, 'deep', 'er', 'inner.safetensors'));
      assert.equal(findEmbeddingFile('both', dirs), path.join(root, 'both.safetensors'));
      assert.equal(findEmbeddingFile('nothere', dirs), undefined);
    });

    it('never leaves the embeddings folders', () => {
      const dirs = embeddingSearchDirs([root]);
      assert.equal(findEmbeddingFile('../outside', dirs), undefined);
      assert.equal(findEmbeddingFile(path.join(dir, 'outside'), dirs), undefined);
      assert.equal(findEmbeddingFile('', dirs), undefined);
    });

    it('refuses a .pt pickle in one line naming it', () => {
      const lookup = embeddingLookup([root], { width: 4 });
      assert.throws(() => lookup('old'), (e: Error) => {
        assert.ok(!e.message.includes('\n'));
        assert.ok(e.message.includes(path.join(root, 'old.pt')));
        assert.match(e.message, /does not execute pickle files/);
        return true;
      });
      assert.deepEqual(lookup('inner')!.map((v) => v[0]), [10]);
      assert.equal(lookup('nothere'), undefined);
    });
  });

  describe('bad files: one line naming the file', () => {
    const oneLine = (file: string, re: RegExp) => (e: Error) => {
      assert.ok(!e.message.includes('\n'), e.message);
      assert.ok(e.message.includes(file), e.message);
      assert.match(e.message, re);
      return true;
    };

    it('names the file and the width expected for vectors of the wrong width', async () => {
      const file = await write(path.join(dir, 'sd2.safetensors'), [['emb_params', [3, 1024], ramp(3072)]]);
      assert.throws(() => readEmbeddingFile(file, { width: 768, encoderLabel: 'CLIP-L' }), oneLine(file, /\[3, 1024\] has vectors 1024 wide; the CLIP-L text encoder takes 768-wide vectors/));
    });

    it('refuses integer tensors, 3-D tensors, non-finite values and empty files', async () => {
      const ints = await write(path.join(dir, 'ints.safetensors'), [['emb_params', [4], ramp(4), 'I32']]);
      assert.throws(() => readEmbeddingFile(ints, { width: 4 }), oneLine(ints, /is I32; an embedding holds float vectors/));
      const cube = await write(path.join(dir, 'cube.safetensors'), [['emb_params', [1, 1, 4], ramp(4)]]);
      assert.throws(() => readEmbeddingFile(cube, { width: 4 }), oneLine(cube, /shape \[1, 1, 4\]; an embedding is \[width\] or \[tokens, width\]/));
      const nan = await write(path.join(dir, 'nan.safetensors'), [['emb_params', [4], [0, NaN, 1, 2]]]);
      assert.throws(() => readEmbeddingFile(nan, { width: 4 }), oneLine(nan, /non-finite value \(NaN\) at element 1/));
      const empty = await write(path.join(dir, 'none.safetensors'), []);
      assert.throws(() => readEmbeddingFile(empty, { width: 4 }), oneLine(empty, /holds no tensors/));
    });

    it('refuses truncated, lying, pickled and oversized files before allocating', async () => {
      const good = await write(path.join(dir, 'good.safetensors'), [['emb_params', [2, 4], ramp(8)]]);
      const bytes = fs.readFileSync(good);
      const cut = path.join(dir, 'cut.safetensors');
      fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 8));
      assert.throws(() => readEmbeddingFile(cut, { width: 4 }), oneLine(cut, /claims bytes .*truncated download or lying header/));
      const lying = path.join(dir, 'lying.safetensors');
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(1n << 40n);
      fs.writeFileSync(lying, Buffer.concat([len, Buffer.from('{}')]));
      assert.throws(() => readEmbeddingFile(lying, { width: 4 }), oneLine(lying, /claims a 1099511627776-byte header/));
      const pickled = path.join(dir, 'pickled.safetensors');
      fs.writeFileSync(pickled, Buffer.concat([Buffer.from([0x80, 0x02, 0x7d, 0x71]), Buffer.alloc(60)]));
      assert.throws(() => readEmbeddingFile(pickled, { width: 4 }), oneLine(pickled, /does not execute pickle files/));
      const huge = path.join(dir, 'huge.safetensors');
      const fd = fs.openSync(huge, 'w');
      fs.ftruncateSync(fd, MAX_EMBEDDING_BYTES + 1);
      fs.closeSync(fd);
      assert.throws(() => readEmbeddingFile(huge, { width: 4 }), oneLine(huge, /an embedding file is at most 64 MB/));
    });
  });
});
