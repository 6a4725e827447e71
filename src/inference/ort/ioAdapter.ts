// Converts between Marble's plain float tensors and whatever a given export declares. Exporters
// disagree on input_ids (int32/int64), timestep (scalar or [N]; float32/float16/int64) and float
// IO precision (ort-sd.md §2), so the declared metadata, not the folder's name, decides.
import * as ort from 'onnxruntime-node';
import type { Tensor } from '../tensor';
import { float16ToFloat32, float32ToFloat16 } from './float16';

/**
 * fp16 copies of float32 arrays already fed, keyed by the array itself. Marble never writes into
 * an array after feeding it (every step builds new latents), so a hit is always current.
 */
const halfCache = new WeakMap<Float32Array, Uint16Array>();

export interface IntInput {
  ints: ArrayLike<number> | BigInt64Array;
  shape: readonly number[];
}

export interface TimestepInput {
  /** One value for the whole batch, or one per batch item. */
  timestep: number | readonly number[];
  /** Batch size for [N]-shaped timesteps; inferred from the other inputs' first dim if omitted. */
  batch?: number;
}

export type FeedValue = Tensor | IntInput | TimestepInput;

export interface IoSpec {
  name: string;
  type: string;
  /** Numbers are fixed dims, strings symbolic; [] is a scalar. */
  shape: (number | string)[];
}

interface SessionMetadata {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata?: readonly ort.InferenceSession.ValueMetadata[];
  readonly outputMetadata?: readonly ort.InferenceSession.ValueMetadata[];
}

function specs(names: readonly string[], meta: readonly ort.InferenceSession.ValueMetadata[] | undefined): IoSpec[] {
  return names.map((name, i) => {
    const m = meta?.find((x) => x.name === name) ?? meta?.[i];
    if (m && m.isTensor) return { name, type: m.type, shape: m.shape.map((d) => (typeof d === 'number' ? d : String(d))) };
    return { name, type: 'unknown', shape: [] };
  });
}

const fmtShape = (s: readonly (number | string)[]) => `[${s.join(', ')}]`;

function isTimestep(v: FeedValue): v is TimestepInput {
  return typeof v === 'object' && v !== null && 'timestep' in v;
}
function isInts(v: FeedValue): v is IntInput {
  return typeof v === 'object' && v !== null && 'ints' in v;
}

export class IoAdapter {
  readonly inputs: IoSpec[];
  readonly outputs: IoSpec[];

  /** `label` names the model in errors, e.g. 'unet/model.onnx'. */
  constructor(
    session: SessionMetadata,
    readonly label: string,
  ) {
    this.inputs = specs(session.inputNames, session.inputMetadata);
    this.outputs = specs(session.outputNames, session.outputMetadata);
  }

  input(name: string): IoSpec | undefined {
    return this.inputs.find((s) => s.name === name);
  }

  output(name: string): IoSpec | undefined {
    return this.outputs.find((s) => s.name === name);
  }

  toOrtFeeds(values: Record<string, FeedValue>): Record<string, ort.Tensor> {
    const names = this.inputs.map((s) => s.name);
    for (const k of Object.keys(values)) {
      if (!names.includes(k)) throw new Error(`${this.label} has no input '${k}'; its inputs are ${names.join(', ')}`);
    }
    const missing = names.filter((n) => !(n in values));
    if (missing.length) throw new Error(`${this.label} needs input(s) ${missing.join(', ')} (given: ${Object.keys(values).join(', ') || 'none'})`);
    const batchHint = Object.values(values).find((v): v is Tensor => !isTimestep(v) && !isInts(v))?.shape[0];
    const feeds: Record<string, ort.Tensor> = {};
    for (const spec of this.inputs) {
      const v = values[spec.name];
      feeds[spec.name] = isTimestep(v) ? this.timestep(spec, v, batchHint) : isInts(v) ? this.ints(spec, v) : this.floats(spec, v);
    }
    return feeds;
  }

  private checkShape(spec: IoSpec, shape: readonly number[]): void {
    if (spec.shape.length === 0) return; // undeclared: let ORT judge
    const bad = shape.length !== spec.shape.length || spec.shape.some((d, i) => typeof d === 'number' && d !== shape[i]);
    if (bad) throw new Error(`input '${spec.name}' of ${this.label} expects shape ${fmtShape(spec.shape)}, got ${fmtShape(shape)}`);
  }

  private floats(spec: IoSpec, t: Tensor): ort.Tensor {
    if (!(t.data instanceof Float32Array)) throw new Error(`input '${spec.name}' of ${this.label} expects a float tensor`);
    this.checkShape(spec, t.shape);
    const dims = [...t.shape];
    if (spec.type === 'float32') return new ort.Tensor('float32', t.data, dims);
    if (spec.type === 'float16') {
      // The sampler feeds the same cross-attention array on every step; convert it once.
      let half = halfCache.get(t.data);
      if (!half) {
        half = float32ToFloat16(t.data);
        halfCache.set(t.data, half);
      }
      return new ort.Tensor('float16', half, dims);
    }
    throw new Error(`input '${spec.name}' of ${this.label} is ${spec.type}, not a float tensor; cannot feed float values`);
  }

  private ints(spec: IoSpec, v: IntInput): ort.Tensor {
    this.checkShape(spec, v.shape);
    const n = v.shape.reduce((a, b) => a * b, 1);
    if (v.ints.length !== n) throw new Error(`input '${spec.name}' of ${this.label}: ${v.ints.length} values for shape ${fmtShape(v.shape)}`);
    const dims = [...v.shape];
    const num = (i: number) => Number(v.ints[i]);
    if (spec.type === 'int32') return new ort.Tensor('int32', Int32Array.from({ length: n }, (_, i) => num(i)), dims);
    if (spec.type === 'int64') return new ort.Tensor('int64', v.ints instanceof BigInt64Array ? v.ints : BigInt64Array.from({ length: n }, (_, i) => BigInt(Math.trunc(num(i)))), dims);
    throw new Error(`input '${spec.name}' of ${this.label} is ${spec.type}; expected int32 or int64 token ids`);
  }

  private timestep(spec: IoSpec, v: TimestepInput, batchHint: number | undefined): ort.Tensor {
    const given = typeof v.timestep === 'number' ? [v.timestep] : [...v.timestep];
    if (given.length === 0 || given.some((x) => !Number.isFinite(x))) throw new Error(`input '${spec.name}' of ${this.label}: timestep must be finite number(s), got [${given.join(', ')}]`);
    let values: number[];
    let dims: number[];
    if (spec.shape.length === 0) {
      // optimum >= 1.24 exports a scalar: one timestep must serve the whole batch.
      if (given.some((x) => x !== given[0])) throw new Error(`${this.label} takes one scalar timestep for the whole batch; got differing values [${given.join(', ')}]`);
      values = [given[0]];
      dims = [];
    } else if (spec.shape.length === 1) {
      const n = v.batch ?? batchHint ?? given.length;
      if (given.length !== 1 && given.length !== n) throw new Error(`${this.label}: ${given.length} timesteps for a batch of ${n}`);
      values = given.length === n ? given : new Array<number>(n).fill(given[0]);
      dims = [n];
    } else {
      throw new Error(`input '${spec.name}' of ${this.label} has unsupported timestep shape ${fmtShape(spec.shape)}`);
    }
    switch (spec.type) {
      case 'float32':
        return new ort.Tensor('float32', Float32Array.from(values), dims);
      case 'float16':
        return new ort.Tensor('float16', float32ToFloat16(values), dims);
      case 'float64':
        return new ort.Tensor('float64', Float64Array.from(values), dims);
      case 'int64':
        return new ort.Tensor('int64', BigInt64Array.from(values.map((x) => BigInt(Math.round(x)))), dims);
      case 'int32':
        return new ort.Tensor('int32', Int32Array.from(values.map((x) => Math.round(x))), dims);
      default:
        throw new Error(`input '${spec.name}' of ${this.label} has unsupported timestep type ${spec.type}`);
    }
  }

  /** Every output as a float32 Tensor (fp16 decoded through the lookup table). */
  fromOrtOutputs(outputs: Record<string, ort.Tensor>): Record<string, Tensor> {
    const result: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(outputs)) result[name] = { data: toFloat32(t, `${name} of ${this.label}`), shape: [...t.dims] };
    return result;
  }

  async run(session: ort.InferenceSession, values: Record<string, FeedValue>, outputNames?: readonly string[]): Promise<Record<string, Tensor>> {
    if (outputNames) {
      const known = this.outputs.map((o) => o.name);
      const unknown = outputNames.filter((n) => !known.includes(n));
      if (unknown.length) throw new Error(`${this.label} has no output(s) ${unknown.join(', ')}; its outputs are ${known.join(', ')}`);
    }
    const feeds = this.toOrtFeeds(values);
    const out = outputNames ? await session.run(feeds, [...outputNames]) : await session.run(feeds);
    return this.fromOrtOutputs(out as Record<string, ort.Tensor>);
  }
}

function toFloat32(t: ort.Tensor, what: string): Float32Array {
  const d = t.data as unknown;
  if (t.type === 'float32') return d as Float32Array;
  if (t.type === 'float16') {
    // Node >= 24 exposes Float16Array and ORT then returns it instead of raw Uint16 bits.
    return d instanceof Uint16Array ? float16ToFloat32(d) : Float32Array.from(d as ArrayLike<number>);
  }
  if (t.type === 'int64' || t.type === 'uint64') return Float32Array.from(d as BigInt64Array, (x) => Number(x));
  if (d instanceof Int32Array || d instanceof Uint8Array || d instanceof Float64Array || d instanceof Int8Array || d instanceof Uint16Array || d instanceof Int16Array || d instanceof Uint32Array) return Float32Array.from(d);
  throw new Error(`output ${what} has type ${t.type}, which cannot be read as floats`);
}
