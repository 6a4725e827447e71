import assert from 'node:assert/strict';
import { comfyJsonDumps } from '../../../src/workflow/comfyJson';
import { crc32, insertTextChunks, isPng, readPngChunks, readPngMetadata } from '../../../src/workflow/png';
import { EXAMPLES, examplePng } from './helpers';

/** Python writes floats like 8.0; JS can only write 8. Normalise that one known difference. */
function dropPointZero(text: string): string {
  return text.replace(/(?<=[:,\[] ?-?\d+)\.0(?=[,}\]])/g, '');
}

const enc = (s: string) => new TextEncoder().encode(s);

/** A PNG chunk with a correct CRC. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const c = new Uint8Array(12 + data.length);
  const view = new DataView(c.buffer);
  view.setUint32(0, data.length);
  c.set(enc(type), 4);
  c.set(data, 8);
  view.setUint32(8 + data.length, crc32(c.subarray(4, 8 + data.length)));
  return c;
}

/** A 1×1 PNG header with no text chunks, so inserted chunks are the only ones. */
function bareHeader(...middle: Uint8Array[]): Uint8Array {
  const ihdr = new Uint8Array([0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]);
  const parts = [new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), ...middle, chunk('IEND', new Uint8Array())];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('workflow/png', () => {
  for (const name of EXAMPLES) {
    it(`reads the workflow and prompt chunks of ${name}.png, and comfyJsonDumps reproduces them`, () => {
      const png = examplePng(name);
      const chunks = readPngChunks(png);
      assert.deepEqual(chunks.slice(0, 3).map((c) => c.type), ['IHDR', 'tEXt', 'tEXt']);
      assert.equal(chunks.at(-1)!.type, 'IEND');
      const meta = readPngMetadata(png);
      const wf = JSON.parse(meta.workflow!);
      assert.ok(Array.isArray(wf.nodes) && wf.nodes.length > 0);
      const prompt = JSON.parse(meta.prompt!);
      assert.equal(comfyJsonDumps(prompt), dropPointZero(meta.prompt!));
      assert.equal(comfyJsonDumps(wf), dropPointZero(meta.workflow!));
    });
  }

  it('inserts tEXt chunks right after IHDR with valid CRCs, readable back', () => {
    const png = bareHeader();
    const out = insertTextChunks(png, [['prompt', '{"a": 1}'], ['workflow', 'caf\u00e9']]);
    const chunks = readPngChunks(out);
    assert.deepEqual(chunks.slice(0, 3).map((c) => c.type), ['IHDR', 'tEXt', 'tEXt']);
    const view = new DataView(out.buffer, out.byteOffset);
    for (const c of chunks.slice(1, 3)) {
      const stored = view.getUint32(c.offset + 8 + c.data.length);
      assert.equal(stored, crc32(out.subarray(c.offset + 4, c.offset + 8 + c.data.length)));
    }
    assert.equal(chunks[1].data[0], 'p'.charCodeAt(0));
    const texts = readPngMetadata(out).texts;
    assert.deepEqual(texts, { prompt: '{"a": 1}', workflow: 'caf\u00e9' });
    assert.equal(out.length, png.length + 12 + 15 + 12 + 13);
    // IEND (the rest of the file) is untouched.
    assert.deepEqual(out.subarray(out.length - 12), png.subarray(png.length - 12));
    // Into a real image: the inserted chunk comes first; later (original) chunks win on read.
    const real = insertTextChunks(examplePng('lora'), { note: 'hello' });
    assert.equal(readPngMetadata(real).texts.note, 'hello');
    assert.equal(readPngChunks(real)[1].type, 'tEXt');
  });

  it('computes the standard CRC-32', () => {
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
    assert.equal(crc32(new TextEncoder().encode('IEND')), 0xae426082);
  });

  it('refuses non-latin-1 text and bad keywords, pointing at comfyJsonDumps', () => {
    const png = examplePng('lora');
    assert.throws(() => insertTextChunks(png, { prompt: '猫' }), /U\+732B .* escape it \(comfyJsonDumps does\)/);
    assert.throws(() => insertTextChunks(png, { '': 'x' }), /keyword "" must be 1-79/);
  });

  it('rejects non-PNG and truncated data with a clear message', () => {
    assert.equal(isPng(new Uint8Array([1, 2, 3])), false);
    assert.throws(() => readPngChunks(new TextEncoder().encode('{"nodes": []}')), /not a PNG file/);
    const png = examplePng('lora');
    assert.throws(() => readPngChunks(png.subarray(0, 2000)), /truncated PNG: chunk \w+ at byte \d+ needs \d+ bytes/);
  });

  it('reads uncompressed iTXt and legacy comf chunks', () => {
    const itxt = chunk('iTXt', new Uint8Array([...enc('workflow'), 0, 0, 0, ...enc('en'), 0, 0, ...enc('{"nodes":[] , "é":1}')]));
    const comf = chunk('comf', new Uint8Array([...enc('parameters'), 0, ...enc('steps: 20')]));
    const png = bareHeader(itxt, comf);
    const meta = readPngMetadata(png);
    assert.equal(meta.workflow, '{"nodes":[] , "é":1}');
    assert.equal(meta.parameters, 'steps: 20');
  });

  it('dumps like Python json.dumps', () => {
    assert.equal(comfyJsonDumps({ a: [1, 2.5, 'é🙂'], b: null, c: true, d: 'x"\\\n\t\u0001' }), '{"a": [1, 2.5, "\\u00e9\\ud83d\\ude42"], "b": null, "c": true, "d": "x\\"\\\\\\n\\t\\u0001"}');
    assert.equal(comfyJsonDumps([0.00001, 1e-7, 0.0001, 1e21, NaN, -Infinity, -0]), '[1e-05, 1e-07, 0.0001, 1000000000000000000000, NaN, -Infinity, 0]');
  });
});
