// Where ONNX Runtime puts each element of a convolution filter when its CPU optimizer turns the
// Conv into an NCHWc one (the blocked layouts of MLAS, whose block size depends on the CPU). Rather
// than restate MLAS's layouts, Marble asks ORT: a one-Conv probe model whose filter holds each
// element's index is optimized the same way, and the reordered filter read back is the map.
// Indices above 2^24 are not exact in float32, so large filters are probed twice (low and high
// 12 bits). Maps are kept per filter shape and attributes, up to CACHE_BYTES for the process (a
// LoCon over every 3×3 convolution of SD1.5 needs ~15 shapes, the largest 118 MB).
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GraphBuilder } from '../onnx/graphBuilder';
import type { ConvAttrs } from './graphTargets';

const CACHE_BYTES = 256 * 2 ** 20;
/** Insertion order is recency order (a hit is moved to the end). */
const cache = new Map<string, { map: Promise<Int32Array>; bytes: number }>();

/** dst → src element index of the reordered filter (−1 for padding). */
export function nchwcFilterMap(shape: readonly number[], conv: ConvAttrs): Promise<Int32Array> {
  const key = JSON.stringify([shape, conv]);
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit.map;
  }
  const map = probe(shape, conv);
  const entry = { map, bytes: 4 * shape.reduce((a, b) => a * b, 1) };
  cache.set(key, entry);
  map.catch(() => cache.delete(key));
  let total = 0;
  for (const e of cache.values()) total += e.bytes;
  for (const [k, e] of cache) {
    if (total <= CACHE_BYTES || k === key) break;
    cache.delete(k);
    total -= e.bytes;
  }
  return map;
}

async function reorderedValues(shape: readonly number[], conv: ConvAttrs, values: Float32Array): Promise<Float32Array> {
  const [o, i] = shape;
  const g = new GraphBuilder('nchwc_probe', 'float32');
  // A spatial size the kernel fits into whatever the strides and dilations.
  const side = Math.max(8, ...conv.kernel.map((k, a) => (k - 1) * conv.dilations[a] + 1 + conv.strides[a]));
  const x = g.input('x', 'float32', [1, i * conv.group, side, side]);
  const w = g.weight('probe.weight', [...shape], values);
  const b = g.weight('probe.bias', [o], new Float32Array(o).fill(0.5));
  const y = g.op('Conv', [x, w, b], {
    kernel_shape: { ints: conv.kernel },
    strides: { ints: conv.strides },
    pads: { ints: conv.pads },
    dilations: { ints: conv.dilations },
    group: { i: conv.group },
  });
  // Followed by a ReLU so the NCHWc transformer treats it like the networks' convolutions.
  g.output('y', g.op('Relu', [y]), 'float32', [1, o, 'h', 'w']);
  const built = g.build();
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'marble-nchwc-'));
  try {
    const out = path.join(dir, 'probe.onnx');
    const s = await ort.InferenceSession.create(built.model, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', optimizedModelFilePath: out, logSeverityLevel: 3 });
    await s.release();
    const m = onnx.ModelProto.decode(await fsp.readFile(out));
    const node = m.graph!.node!.find((n) => n.opType === 'Conv');
    if (!node || node.domain !== 'com.microsoft.nchwc') throw new Error(`ONNX Runtime did not reorder a [${shape.join(', ')}] convolution in the layout probe`);
    const t = m.graph!.initializer!.find((x) => x.name === node.input![1]);
    if (!t?.rawData) throw new Error('the layout probe found no reordered filter');
    const raw = t.rawData;
    return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

async function probe(shape: readonly number[], conv: ConvAttrs): Promise<Int32Array> {
  const n = shape.reduce((a, b) => a * b, 1);
  const exact = n + 1 <= 2 ** 24;
  const low = await reorderedValues(shape, conv, Float32Array.from({ length: n }, (_, k) => (exact ? k + 1 : (k & 4095) + 1)));
  const high = exact ? undefined : await reorderedValues(shape, conv, Float32Array.from({ length: n }, (_, k) => Math.floor(k / 4096) + 1));
  const map = new Int32Array(low.length);
  for (let d = 0; d < low.length; d++) {
    if (low[d] === 0) {
      map[d] = -1;
      continue;
    }
    map[d] = high ? (high[d] - 1) * 4096 + (low[d] - 1) : low[d] - 1;
  }
  return map;
}
