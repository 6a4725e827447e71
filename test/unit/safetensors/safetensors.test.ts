import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PICKLE_MESSAGE, SafetensorsError, SafetensorsFile } from '../../../src/inference/safetensors/read';
import { bytesOf, writeSafetensors } from '../../../src/inference/safetensors/write';

/** A file with the given header object (serialised as is) and `data` after it. */
async function rawFile(dir: string, name: string, header: unknown, data: Uint8Array = new Uint8Array(0), headerText?: string): Promise<string> {
  const json = Buffer.from(headerText ?? JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const file = path.join(dir, name);
  await fsp.writeFile(file, Buffer.concat([len, json, data]));
  return file;
}

async function expectDefect(file: string, pattern: RegExp): Promise<SafetensorsError> {
  let caught: unknown;
  try {
    const f = await SafetensorsFile.open(file);
    await f.close();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof SafetensorsError, `expected a SafetensorsError for ${file}, got ${String(caught)}`);
  assert.equal(caught.file, file);
  assert.ok(caught.message.startsWith(`${file}: `), caught.message);
  assert.ok(!caught.message.includes('\n'), 'the message is one line');
  assert.match(caught.defect, pattern);
  return caught;
}

describe('safetensors reader and writer', () => {
  let dir: string;
  before(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'marble-st-'));
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('writes the reference layout: sorted keys, no spaces, padded header, data in the same order', async () => {
    const file = path.join(dir, 'layout.safetensors');
    const b = new Float32Array([1, 2, 3]);
    const a = new Uint16Array([0x3c00, 0xc000]);
    await writeSafetensors(file, [
      { name: 'b.weight', dtype: 'F32', shape: [3], data: bytesOf(b) },
      { name: 'a.bias', dtype: 'F16', shape: [2], data: () => bytesOf(a) },
    ]);
    const bytes = await fsp.readFile(file);
    const n = Number(bytes.readBigUInt64LE(0));
    assert.equal(n % 8, 0);
    const header = bytes.subarray(8, 8 + n).toString('utf8');
    const expected = '{"a.bias":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b.weight":{"dtype":"F32","shape":[3],"data_offsets":[4,16]}}';
    assert.equal(header.trimEnd(), expected);
    assert.equal(header.length - expected.length, (8 - (expected.length % 8)) % 8, 'padded with the fewest spaces');
    assert.deepEqual([...bytes.subarray(8 + n)], [...bytesOf(a), ...bytesOf(b)]);
    assert.deepEqual((await fsp.readdir(dir)).filter((f) => f.endsWith('.tmp')), [], 'no temp file left');
  });

  it('round-trips through the writer with metadata, all dtypes and zero-size tensors', async () => {
    const file = path.join(dir, 'round.safetensors');
    const f64 = new Float64Array([0.1, -2.5, 1e300]);
    const i64 = new BigInt64Array([0n, 76n, -3n]);
    const u8 = new Uint8Array([0, 1, 255]);
    await writeSafetensors(
      file,
      [
        { name: 'x.f64', dtype: 'F64', shape: [3], data: bytesOf(f64) },
        { name: 'position_ids', dtype: 'I64', shape: [1, 3], data: async () => bytesOf(i64) },
        { name: 'u8', dtype: 'U8', shape: [3], data: u8 },
        { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Uint8Array(0) },
        { name: 'scalar', dtype: 'F16', shape: [], data: bytesOf(new Uint16Array([0x4400])) },
      ],
      { metadata: { format: 'pt', '10': 'ten' } },
    );
    const f = await SafetensorsFile.open(file);
    try {
      assert.deepEqual(f.metadata, { format: 'pt', '10': 'ten' });
      assert.deepEqual([...f.tensors.keys()].sort(), ['empty', 'position_ids', 'scalar', 'u8', 'x.f64']);
      assert.deepEqual(f.tensors.get('position_ids')!.shape, [1, 3]);
      assert.deepEqual([...(await f.readRaw('u8'))], [0, 1, 255]);
      assert.deepEqual([...(await f.readFloat32('u8'))], [0, 1, 255]);
      assert.deepEqual([...(await f.readFloat32('position_ids'))], [0, 76, -3]);
      assert.deepEqual([...(await f.readFloat32('x.f64'))], [Math.fround(0.1), -2.5, Infinity]);
      assert.equal((await f.readRaw('empty')).length, 0);
      assert.deepEqual(f.tensors.get('empty')!.shape, [0, 4]);
      assert.deepEqual([...(await f.readFloat32('scalar'))], [4]);
    } finally {
      await f.close();
    }
  });

  it('converts f16 and bf16 to float32 exactly (every bit pattern) and rounds f64 to nearest', async () => {
    const file = path.join(dir, 'conv.safetensors');
    const all = new Uint16Array(65536);
    for (let i = 0; i < 65536; i++) all[i] = i;
    await writeSafetensors(file, [
      { name: 'h', dtype: 'F16', shape: [65536], data: bytesOf(all) },
      { name: 'bf', dtype: 'BF16', shape: [65536], data: bytesOf(all) },
      { name: 'd', dtype: 'F64', shape: [2], data: bytesOf(new Float64Array([1 + 2 ** -24, 1 + 3 * 2 ** -24])) },
    ]);
    const f = await SafetensorsFile.open(file);
    try {
      const h = await f.readFloat32('h');
      // Independent decoder: value = (-1)^s * 2^(e-15) * (1 + m/1024), subnormals 2^-14 * m/1024.
      for (let i = 0; i < 65536; i++) {
        const s = i & 0x8000 ? -1 : 1;
        const e = (i >>> 10) & 0x1f;
        const m = i & 0x3ff;
        const want = e === 0x1f ? (m ? NaN : s * Infinity) : e === 0 ? s * m * 2 ** -24 : s * 2 ** (e - 15) * (1 + m / 1024);
        if (!Object.is(h[i], want)) assert.fail(`F16 0x${i.toString(16)} decoded to ${h[i]}, expected ${want}`);
      }
      const bf = await f.readFloat32('bf');
      const bits = new Uint32Array(bf.buffer);
      for (let i = 0; i < 65536; i++) if (bits[i] !== i << 16 >>> 0) assert.fail(`BF16 0x${i.toString(16)} decoded to bits 0x${bits[i].toString(16)}`);
      assert.equal(bf[0x3f80], 1);
      assert.equal(bf[0xc040], -3);
      // Ties to even: 1+2^-24 → 1, 1+3·2^-24 → 1+2^-22.
      assert.deepEqual([...(await f.readFloat32('d'))], [1, 1 + 2 ** -22]);
    } finally {
      await f.close();
    }
  });

  it('refuses truncated files with a one-line error naming the file', async () => {
    const good = path.join(dir, 'good.safetensors');
    await writeSafetensors(good, [{ name: 'w', dtype: 'F32', shape: [16], data: new Uint8Array(64) }]);
    const bytes = await fsp.readFile(good);
    const cut = path.join(dir, 'cut.safetensors');
    await fsp.writeFile(cut, bytes.subarray(0, bytes.length - 10));
    await expectDefect(cut, /truncated/);
    const tiny = path.join(dir, 'tiny.safetensors');
    await fsp.writeFile(tiny, bytes.subarray(0, 5));
    await expectDefect(tiny, /5 bytes long.*truncated/);
    const headerCut = path.join(dir, 'headercut.safetensors');
    await fsp.writeFile(headerCut, bytes.subarray(0, 20));
    await expectDefect(headerCut, /header but only 12 bytes follow/);
    await expectDefect(path.join(dir, 'missing.safetensors'), /no such file/);
  });

  it('refuses a header length beyond the limit without allocating it', async () => {
    const file = path.join(dir, 'hugeheader.safetensors');
    const b = Buffer.alloc(16);
    b.writeBigUInt64LE(2n ** 62n);
    await fsp.writeFile(file, b);
    await expectDefect(file, /limit is 104857600 bytes/);
  });

  it('refuses offsets that lie: past the end, mismatched with the shape, reversed', async () => {
    await expectDefect(await rawFile(dir, 'past.safetensors', { w: { dtype: 'F32', shape: [4], data_offsets: [16, 32] } }, new Uint8Array(16)), /claims bytes 16\.\.32.*holds only 16 bytes/);
    await expectDefect(await rawFile(dir, 'mismatch.safetensors', { w: { dtype: 'F32', shape: [4], data_offsets: [0, 12] } }, new Uint8Array(16)), /needs 16 bytes but its data_offsets span 12/);
    await expectDefect(await rawFile(dir, 'reversed.safetensors', { w: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, new Uint8Array(16)), /data_offsets \[8,4\]/);
    await expectDefect(await rawFile(dir, 'noff.safetensors', { w: { dtype: 'F32', shape: [1] } }, new Uint8Array(16)), /data_offsets undefined/);
  });

  it('refuses overlapping tensors', async () => {
    const header = { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } };
    await expectDefect(await rawFile(dir, 'overlap.safetensors', header, new Uint8Array(16)), /'a' and 'b' overlap/);
  });

  it('refuses a 100 GB claimed tensor before any allocation', async () => {
    const big = 100 * 1024 ** 3;
    await expectDefect(
      await rawFile(dir, 'claim.safetensors', { w: { dtype: 'F32', shape: [big / 4], data_offsets: [0, big] } }, new Uint8Array(64)),
      /claims bytes 0\.\.107374182400/,
    );
    // A lying shape with honest small offsets is caught by the product check, even when it overflows.
    await expectDefect(
      await rawFile(dir, 'claim2.safetensors', { w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40, 2 ** 40], data_offsets: [0, 64] } }, new Uint8Array(64)),
      /needs more than the whole file/,
    );
  });

  it('refuses bad JSON, non-object headers, unknown dtypes, bad shapes and bad metadata', async () => {
    await expectDefect(await rawFile(dir, 'badjson.safetensors', null, undefined, '{"w": {"dtype": "F32",'), /not well-formed JSON/);
    await expectDefect(await rawFile(dir, 'array.safetensors', null, undefined, '[1, 2, 3]'), /not a JSON object/);
    await expectDefect(await rawFile(dir, 'dtype.safetensors', { w: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, new Uint8Array(16)), /unknown dtype "F128"/);
    await expectDefect(await rawFile(dir, 'shape.safetensors', { w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /shape \[-1\]/);
    await expectDefect(await rawFile(dir, 'shape2.safetensors', { w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, new Uint8Array(4)), /shape \[1.5\]/);
    await expectDefect(await rawFile(dir, 'meta.safetensors', { __metadata__: { a: 1 } }), /__metadata__ entry 'a' is not a string/);
    const utf = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(4n);
    const badUtf = path.join(dir, 'utf.safetensors');
    await fsp.writeFile(badUtf, Buffer.concat([len, utf]));
    await expectDefect(badUtf, /not valid UTF-8/);
  });

  it('refuses pickles by name and by content, even named .safetensors', async () => {
    for (const ext of ['.ckpt', '.pt', '.pth', '.bin', '.pkl']) {
      const file = path.join(dir, `model${ext}`);
      await fsp.writeFile(file, 'anything');
      const e = await expectDefect(file, /pickle/);
      assert.equal(e.defect, PICKLE_MESSAGE);
    }
    const zip = path.join(dir, 'zip.safetensors');
    await fsp.writeFile(zip, Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0, 0, 0, 0]));
    assert.equal((await expectDefect(zip, /pickle/)).defect, PICKLE_MESSAGE);
    for (const proto of [2, 5]) {
      const pkl = path.join(dir, `proto${proto}.safetensors`);
      await fsp.writeFile(pkl, Buffer.from([0x80, proto, 0x7d, 0x71, 0, 0x28, 0, 0, 0, 0]));
      assert.equal((await expectDefect(pkl, /pickle/)).defect, PICKLE_MESSAGE);
    }
  });

  it('reads a real safetensors file whose header length starts with pickle-like bytes (80 02 … 80 05)', async () => {
    for (const len of [0x280, 0x580]) {
      const json = JSON.stringify({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } });
      const file = await rawFile(dir, `len${len}.safetensors`, null, bytesOf(new Float32Array([2.5])), json.padEnd(len, ' '));
      const head = (await fsp.readFile(file)).subarray(0, 2);
      assert.equal(head[0], 0x80);
      const f = await SafetensorsFile.open(file);
      assert.deepEqual([...(await f.readFloat32('w'))], [2.5]);
      await f.close();
    }
  });

  it('reads a tensor at the end of a 3 GB (sparse) file by offset, never the whole file', async function () {
    // Node cannot read a file over 2 GB into one buffer; a reader that did would throw here.
    const gap = 3 * 1024 ** 3;
    const header = { filler: { dtype: 'U8', shape: [gap], data_offsets: [0, gap] }, tail: { dtype: 'F32', shape: [2], data_offsets: [gap, gap + 8] } };
    const file = await rawFile(dir, 'sparse.safetensors', header);
    const start = (await fsp.stat(file)).size;
    const fh = await fsp.open(file, 'r+');
    try {
      await fh.write(bytesOf(new Float32Array([1.5, -7])), 0, 8, start + gap);
    } finally {
      await fh.close();
    }
    const before = process.memoryUsage().arrayBuffers;
    const f = await SafetensorsFile.open(file);
    try {
      assert.equal(f.size, start + gap + 8);
      assert.deepEqual([...(await f.readFloat32('tail'))], [1.5, -7]);
      assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 ** 2, 'reading one tensor did not buffer the file');
    } finally {
      await f.close();
      await fsp.rm(file);
    }
  });

  it('writer: streams producers one at a time and leaves no file when one fails', async () => {
    const file = path.join(dir, 'fail.safetensors');
    const calls: string[] = [];
    await assert.rejects(
      writeSafetensors(file, [
        { name: 'a', dtype: 'F32', shape: [1], data: () => (calls.push('a'), new Uint8Array(4)) },
        { name: 'b', dtype: 'F32', shape: [2], data: () => (calls.push('b'), new Uint8Array(4)) },
        { name: 'c', dtype: 'F32', shape: [1], data: () => (calls.push('c'), new Uint8Array(4)) },
      ]),
      /tensor 'b' of shape \[2\] F32 needs 8 bytes, got 4/,
    );
    assert.deepEqual(calls, ['a', 'b'], 'producers run in file order and stop at the failure');
    assert.deepEqual((await fsp.readdir(dir)).filter((f) => f.startsWith('.fail') || f === 'fail.safetensors'), []);
    await assert.rejects(writeSafetensors(file, [{ name: 'a', dtype: 'F32', shape: [1], data: new Uint8Array(4) }, { name: 'a', dtype: 'F32', shape: [1], data: new Uint8Array(4) }]), /given twice/);
  });

  it('reads element ranges and small tensors synchronously; converts every integer and float8 dtype', async () => {
    const file = path.join(dir, 'kinds.safetensors');
    const e4m3 = new Uint8Array([0x00, 0x38, 0xb8, 0x7e, 0x7f, 0x01, 0x08]); // 0, 1, -1, 448, NaN, 2^-9, 2^-6
    const e5m2 = new Uint8Array([0x3c, 0xc0, 0x7b, 0x7c, 0x01]); // 1, -2, 57344, Inf, 2^-16
    await writeSafetensors(file, [
      { name: 'm', dtype: 'F32', shape: [3, 4], data: bytesOf(Float32Array.from({ length: 12 }, (_, i) => i)) },
      { name: 'i32', dtype: 'I32', shape: [2], data: bytesOf(new Int32Array([-5, 2 ** 30])) },
      { name: 'i16', dtype: 'I16', shape: [2], data: bytesOf(new Int16Array([-300, 7])) },
      { name: 'u16', dtype: 'U16', shape: [1], data: bytesOf(new Uint16Array([65535])) },
      { name: 'u32', dtype: 'U32', shape: [1], data: bytesOf(new Uint32Array([4e9])) },
      { name: 'i8', dtype: 'I8', shape: [2], data: bytesOf(new Int8Array([-128, 127])) },
      { name: 'u64', dtype: 'U64', shape: [1], data: bytesOf(new BigUint64Array([2n ** 53n + 2n])) },
      { name: 'b', dtype: 'BOOL', shape: [3], data: new Uint8Array([0, 1, 2]) },
      { name: 'e4m3', dtype: 'F8_E4M3', shape: [7], data: e4m3 },
      { name: 'e5m2', dtype: 'F8_E5M2', shape: [5], data: e5m2 },
    ]);
    const f = await SafetensorsFile.open(file);
    try {
      assert.deepEqual([...(await f.readFloat32Range('m', 4, 4))], [4, 5, 6, 7], 'row 1 of a [3, 4] matrix');
      assert.deepEqual([...(await f.readFloat32Range('m', 0, 0))], []);
      await assert.rejects(f.readFloat32Range('m', 10, 4), /elements 10\.\.14 are outside 'm' \(12 elements\)/);
      assert.deepEqual([...f.readFloat32Sync('m')], Array.from({ length: 12 }, (_, i) => i));
      assert.deepEqual([...(await f.readFloat32('i32'))], [-5, 2 ** 30]);
      assert.deepEqual([...(await f.readFloat32('i16'))], [-300, 7]);
      assert.deepEqual([...(await f.readFloat32('u16'))], [65535]);
      assert.deepEqual([...(await f.readFloat32('u32'))], [4e9]);
      assert.deepEqual([...(await f.readFloat32('i8'))], [-128, 127]);
      assert.deepEqual([...(await f.readFloat32('u64'))], [2 ** 53]);
      assert.deepEqual([...(await f.readFloat32('b'))], [0, 1, 1]);
      const a = await f.readFloat32('e4m3');
      assert.deepEqual([a[0], a[1], a[2], a[3], a[5], a[6]], [0, 1, -1, 448, 2 ** -9, 2 ** -6]);
      assert.ok(Number.isNaN(a[4]));
      assert.deepEqual([...(await f.readFloat32('e5m2'))], [1, -2, 57344, Infinity, 2 ** -16]);
    } finally {
      await f.close();
    }
  });

  it('errors on unknown tensor names and reads after close', async () => {
    const file = path.join(dir, 'names.safetensors');
    await writeSafetensors(file, [{ name: 'w', dtype: 'F32', shape: [1], data: new Uint8Array(4) }]);
    const f = await SafetensorsFile.open(file);
    await assert.rejects(f.readRaw('nope'), /has no tensor 'nope'/);
    await f.close();
    await assert.rejects(f.readRaw('w'), /after close/);
  });
});
