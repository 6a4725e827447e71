// The shared graph builder: weights streamed to a sink as they are added (never held until
// build()), 64-byte aligned external data that ORT loads, and the same bytes as the in-memory path.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, type ExternalDataSink } from '../../../src/inference/onnx/graphBuilder';
import * as nn from '../../../src/inference/onnx/nn';
import { writeStreamedModel } from '../../../src/inference/onnx/writeModel';

/** y = groupNorm(conv(x)) then a linear over channels: a few weights of mixed sizes. */
function buildNet(g: GraphBuilder, onWeight?: () => void): void {
  const x = g.input('x', 'float32', ['b', 4, 6, 6]);
  const w = g.weight('conv.weight', [9, 4, 3, 3], Float32Array.from({ length: 324 }, (_, i) => Math.sin(i) * 0.2));
  onWeight?.();
  const b = g.weight('conv.bias', [9], Float32Array.from({ length: 9 }, (_, i) => i * 0.01));
  let h = nn.conv2d(g, x, w, b, { kernel: 3 });
  h = nn.groupNorm(g, h, 9, 3, 1e-5);
  const tokens = g.op('Transpose', [g.op('Reshape', [h, g.constI64('flat', [0, 9, -1])])], { perm: { ints: [0, 2, 1] } });
  const lw = g.weight('lin.weight', [9, 300], Float32Array.from({ length: 2700 }, (_, i) => Math.cos(i) * 0.1));
  onWeight?.();
  g.output('y', nn.linear(g, tokens, lw), 'float32', ['b', 36, 300]);
}

describe('GraphBuilder external data', () => {
  it('streams each large weight to the sink when it is added, 64-byte aligned', () => {
    const writes: Uint8Array[] = [];
    const sink: ExternalDataSink = { fileName: 'model.onnx_data', write: (bytes) => writes.push(bytes.slice()) };
    const g = new GraphBuilder('net', 'float32', { sink, minBytes: 1024 });
    const seen: number[] = [];
    buildNet(g, () => seen.push(writes.reduce((s, b) => s + b.byteLength, 0)));
    // conv.weight (1296 B) went out before build(); the bias (36 B) stays inline; lin.weight
    // (10800 B) starts at the next multiple of 64 (1344).
    assert.deepEqual(seen, [1296, 1344 + 10800]);
    const built = g.build();
    assert.equal(built.externalBytes, 1344 + 10800);
    assert.equal(built.external, undefined);
  });

  it('writes model.onnx + model.onnx_data atomically, and ORT runs it like the in-memory build', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'marble-gb-'));
    try {
      const file = path.join(dir, 'm', 'model.onnx');
      const res = await writeStreamedModel(file, 'net', 'float32', async (g) => buildNet(g));
      assert.deepEqual(fs.readdirSync(path.dirname(file)).sort(), ['model.onnx', 'model.onnx_data']);
      assert.equal(fs.statSync(res.dataFile).size, res.dataBytes);
      const mem = new GraphBuilder('net', 'float32');
      buildNet(mem);
      const built = mem.build({ fileName: 'model.onnx_data' });
      assert.deepEqual(new Uint8Array(fs.readFileSync(res.dataFile)), built.external!.data);

      const x = new ort.Tensor('float32', Float32Array.from({ length: 2 * 144 }, (_, i) => Math.sin(i * 0.3)), [2, 4, 6, 6]);
      const a = (await (await ort.InferenceSession.create(file)).run({ x })).y.data as Float32Array;
      fs.writeFileSync(path.join(dir, 'inline.onnx'), mem.build().model);
      const b = (await (await ort.InferenceSession.create(path.join(dir, 'inline.onnx'))).run({ x })).y.data as Float32Array;
      assert.equal(a.length, 2 * 36 * 300);
      assert.deepEqual(a, b);

      // A failure while building leaves nothing behind.
      const bad = path.join(dir, 'bad', 'model.onnx');
      await assert.rejects(writeStreamedModel(bad, 'net', 'float32', async (g) => {
        buildNet(g);
        throw new Error('weights ran out');
      }), /weights ran out/);
      assert.deepEqual(fs.readdirSync(path.dirname(bad)), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
