// A thin builder over onnx-proto's generated classes: graphs with symbolic dims, fp32 or fp16
// weights, and external data. Pure: it never touches the file system. Weights either stay in
// memory until build() (small generated models) or go to an ExternalDataSink the moment they are
// added, so a multi-gigabyte network is never held whole (ONNX protobufs stop at 2 GB anyway).
import { onnx } from 'onnx-proto';
import { float32ToFloat16 } from '../ort/float16';

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
  /** In memory until build(); undefined once streamed to the sink. */
  bytes?: Uint8Array;
  /** Where the bytes went in the external data file. */
  external?: { offset: number; length: number };
}

export interface ExternalDataOptions {
  /** File written next to model.onnx, e.g. `model.onnx_data`, `weights.pb`, `model.onnx.data`. */
  fileName: string;
  /** Tensors smaller than this stay inside the graph, as exporters do. */
  minBytes?: number;
}

/**
 * Receives weight bytes in file order as the graph is built. `write` may keep a reference only
 * until it returns (callers reuse nothing, but a sink must not assume it may keep the buffer).
 */
export interface ExternalDataSink {
  /** File name recorded in the graph, relative to the model file (e.g. `model.onnx_data`). */
  readonly fileName: string;
  write(bytes: Uint8Array): void;
}

export interface BuiltModel {
  model: Uint8Array;
  /** Present when build() was asked for in-memory external data. */
  external?: { fileName: string; data: Uint8Array };
  parameterCount: number;
  /** Bytes written to the streaming sink, when one was given to the constructor. */
  externalBytes?: number;
}

export interface GraphBuilderOptions {
  /** Stream weights of at least `minBytes` (default 1024) to this sink as they are added. */
  sink?: ExternalDataSink;
  minBytes?: number;
  /** Extra operator set domains, e.g. { 'com.microsoft': 1 } for ORT's contrib ops. */
  extraOpsets?: Record<string, number>;
  opset?: number;
  producerName?: string;
}

/** 64-byte alignment lets ORT memory-map tensors without copying. */
const ALIGN = 64;

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
  private sinkOffset = 0;

  /** weightType 'float16' stores weights as fp16 and Casts them up, like keep_io_types exports. */
  constructor(
    readonly graphName: string,
    readonly weightType: 'float32' | 'float16',
    private readonly options: GraphBuilderOptions = {},
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

  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, hint = opType, domain?: string): string {
    return this.opMulti(opType, inputs, 1, attrs, hint, domain)[0];
  }

  opMulti(opType: string, inputs: readonly string[], outputCount: number, attrs: Record<string, AttrValue> = {}, hint = opType, domain?: string): string[] {
    const outs = Array.from({ length: outputCount }, (_, i) => this.fresh(`${hint}_o${i}`));
    this.nodes.push({
      opType,
      name: this.fresh(`${hint}_node`),
      input: [...inputs],
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      ...(domain ? { domain } : {}),
    });
    return outs;
  }

  private addInit(hint: string, dims: number[], type: ElemType, bytes: Uint8Array): string {
    const name = this.fresh(hint);
    const sink = this.options.sink;
    if (sink && bytes.byteLength >= (this.options.minBytes ?? 1024)) {
      const pad = (ALIGN - (this.sinkOffset % ALIGN)) % ALIGN;
      if (pad) sink.write(new Uint8Array(pad));
      this.sinkOffset += pad;
      sink.write(bytes);
      this.inits.push({ name, dims, type, external: { offset: this.sinkOffset, length: bytes.byteLength } });
      this.sinkOffset += bytes.byteLength;
    } else {
      this.inits.push({ name, dims, type, bytes });
    }
    return name;
  }

  /** A learned weight. Returns a float32-valued tensor name whatever the storage type. */
  weight(hint: string, dims: number[], values: Float32Array): string {
    this.parameters += values.length;
    if (this.weightType === 'float32') return this.addInit(hint, dims, 'float32', new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    const half = float32ToFloat16(values);
    const stored = this.addInit(`${hint}_fp16`, dims, 'float16', new Uint8Array(half.buffer, half.byteOffset, half.byteLength));
    return this.op('Cast', [stored], { to: { i: ELEM.float32 } }, `${hint}_cast`);
  }

  /** A fixed float32 constant (scales, frequencies, masks): kept fp32 even in fp16 models. */
  constF(hint: string, dims: number[], values: ArrayLike<number>): string {
    const data = Float32Array.from(values);
    return this.addInit(hint, dims, 'float32', new Uint8Array(data.buffer));
  }

  constI64(hint: string, values: readonly number[], dims: number[] = [values.length]): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    return this.addInit(hint, dims, 'int64', new Uint8Array(data.buffer));
  }

  get parameterCount(): number {
    return this.parameters;
  }

  /**
   * Encodes the model. With a streaming sink the external tensors are already written; without
   * one, `external` gathers the large tensors into an in-memory data file as exporters lay it out.
   */
  build(external?: ExternalDataOptions): BuiltModel {
    const sink = this.options.sink;
    if (sink && external) throw new Error('GraphBuilder: weights were streamed to a sink; build() takes no external data options then');
    const minBytes = external?.minBytes ?? 1024;
    const chunks: Uint8Array[] = [];
    let offset = 0;
    const externalEntry = (base: onnx.ITensorProto, fileName: string, at: number, length: number): onnx.ITensorProto => ({
      ...base,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: fileName },
        { key: 'offset', value: String(at) },
        { key: 'length', value: String(length) },
      ],
    });
    const initializer: onnx.ITensorProto[] = this.inits.map((t) => {
      const base: onnx.ITensorProto = { name: t.name, dims: t.dims, dataType: ELEM[t.type] };
      if (t.external) return externalEntry(base, sink!.fileName, t.external.offset, t.external.length);
      const bytes = t.bytes!;
      if (!external || bytes.byteLength < minBytes) return { ...base, rawData: bytes };
      const pad = (ALIGN - (offset % ALIGN)) % ALIGN;
      if (pad) chunks.push(new Uint8Array(pad));
      offset += pad;
      chunks.push(bytes);
      const entry = externalEntry(base, external.fileName, offset, bytes.byteLength);
      offset += bytes.byteLength;
      return entry;
    });
    const opsetImport = [{ domain: '', version: this.options.opset ?? 17 }, ...Object.entries(this.options.extraOpsets ?? {}).map(([domain, version]) => ({ domain, version }))];
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: this.options.producerName ?? 'marble',
      producerVersion: '1',
      opsetImport,
      graph: { name: this.graphName, node: this.nodes, initializer, input: this.inputs, output: this.outputs },
    });
    const bytes = onnx.ModelProto.encode(model).finish();
    const result: BuiltModel = { model: bytes, parameterCount: this.parameters };
    if (sink) result.externalBytes = this.sinkOffset;
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
