// A thin builder over onnx-proto's generated classes: enough to write small real graphs with
// symbolic dims, fp32 or fp16 weights and optional external data, the way exporters do.
import { onnx } from 'onnx-proto';
import { float32ToFloat16 } from '../../src/inference/ort/float16';

export type ElemType = 'float32' | 'float16' | 'int32' | 'int64';
export type Dim = number | string;

const ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
};

export type AttrValue =
  | { i: number }
  | { f: number }
  | { s: string }
  | { ints: number[] }
  | { floats: number[] };

interface Initializer {
  name: string;
  dims: number[];
  type: ElemType;
  bytes: Uint8Array;
}

export interface ExternalDataOptions {
  /** File written next to model.onnx, e.g. `model.onnx_data`, `weights.pb`, `model.onnx.data`. */
  fileName: string;
  /** Tensors smaller than this stay inside the graph, as exporters do. */
  minBytes?: number;
}

export interface BuiltModel {
  model: Uint8Array;
  external?: { fileName: string; data: Uint8Array };
  parameterCount: number;
}

function valueInfo(name: string, type: ElemType, dims: readonly Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('i' in v) return { name, type: T.INT, i: v.i };
  if ('f' in v) return { name, type: T.FLOAT, f: v.f };
  if ('s' in v) return { name, type: T.STRING, s: new TextEncoder().encode(v.s) };
  if ('ints' in v) return { name, type: T.INTS, ints: v.ints };
  return { name, type: T.FLOATS, floats: v.floats };
}

export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly inits: Initializer[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly used = new Set<string>();
  private parameters = 0;

  /** weightType 'float16' stores weights as fp16 and Casts them up, like keep_io_types exports. */
  constructor(
    readonly graphName: string,
    readonly weightType: 'float32' | 'float16',
  ) {}

  private fresh(hint: string): string {
    let name = hint;
    for (let i = 1; this.used.has(name); i++) name = `${hint}_${i}`;
    this.used.add(name);
    return name;
  }

  input(name: string, type: ElemType, dims: readonly Dim[]): string {
    this.used.add(name);
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Declares a graph output; `value` is renamed with an Identity when its name differs. */
  output(name: string, value: string, type: ElemType, dims: readonly Dim[]): void {
    if (value !== name) this.nodes.push({ opType: 'Identity', input: [value], output: [name], name: this.fresh(`out_${name}`) });
    this.used.add(name);
    this.outputs.push(valueInfo(name, type, dims));
  }

  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, hint = opType): string {
    return this.opMulti(opType, inputs, 1, attrs, hint)[0];
  }

  opMulti(opType: string, inputs: readonly string[], outputCount: number, attrs: Record<string, AttrValue> = {}, hint = opType): string[] {
    const outs = Array.from({ length: outputCount }, (_, i) => this.fresh(`${hint}_o${i}`));
    this.nodes.push({
      opType,
      name: this.fresh(`${hint}_node`),
      input: [...inputs],
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  private addInit(hint: string, dims: number[], type: ElemType, bytes: Uint8Array): string {
    const name = this.fresh(hint);
    this.inits.push({ name, dims, type, bytes });
    return name;
  }

  /** A learned weight. Returns a float32-valued tensor name whatever the storage type. */
  weight(hint: string, dims: number[], values: Float32Array): string {
    this.parameters += values.length;
    if (this.weightType === 'float32') return this.addInit(hint, dims, 'float32', new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    const half = float32ToFloat16(values);
    const stored = this.addInit(`${hint}_fp16`, dims, 'float16', new Uint8Array(half.buffer));
    return this.op('Cast', [stored], { to: { i: ELEM.float32 } }, `${hint}_cast`);
  }

  /** A fixed float32 constant (scales, frequencies): kept fp32 even in fp16 models. */
  constF(hint: string, dims: number[], values: ArrayLike<number>): string {
    const data = Float32Array.from(values);
    return this.addInit(hint, dims, 'float32', new Uint8Array(data.buffer));
  }

  constI64(hint: string, values: readonly number[], dims: number[] = [values.length]): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    return this.addInit(hint, dims, 'int64', new Uint8Array(data.buffer));
  }

  build(external?: ExternalDataOptions): BuiltModel {
    const minBytes = external?.minBytes ?? 1024;
    const chunks: Uint8Array[] = [];
    let offset = 0;
    const initializer: onnx.ITensorProto[] = this.inits.map((t) => {
      const base: onnx.ITensorProto = { name: t.name, dims: t.dims, dataType: ELEM[t.type] };
      if (!external || t.bytes.byteLength < minBytes) return { ...base, rawData: t.bytes };
      // 64-byte alignment lets ORT memory-map tensors without copying.
      const pad = (64 - (offset % 64)) % 64;
      if (pad) chunks.push(new Uint8Array(pad));
      offset += pad;
      chunks.push(t.bytes);
      const entry = {
        ...base,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: external.fileName },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(t.bytes.byteLength) },
        ],
      };
      offset += t.bytes.byteLength;
      return entry;
    });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'marble-modelgen',
      producerVersion: '1',
      opsetImport: [{ domain: '', version: 17 }],
      graph: { name: this.graphName, node: this.nodes, initializer, input: this.inputs, output: this.outputs },
    });
    const bytes = onnx.ModelProto.encode(model).finish();
    const result: BuiltModel = { model: bytes, parameterCount: this.parameters };
    if (external) {
      const data = new Uint8Array(offset);
      let at = 0;
      for (const c of chunks) {
        data.set(c, at);
        at += c.byteLength;
      }
      result.external = { fileName: external.fileName, data };
    }
    return result;
  }
}

export { ELEM as ONNX_ELEM_TYPE };
