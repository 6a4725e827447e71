// The weights a LoRA can patch in one converted component (model.onnx), found in the graph as
// Marble's converter wrote it or as ONNX Runtime's optimizer rewrote it for a CPU cache entry:
//   linear layers: MatMul/Gemm/FusedMatMul initializers keep their names (`…to_q.weight`) and the converter's
//                  transposed layout [in, out];
//   convolutions:  a plain Conv keeps `…proj_in.weight` as [out, in, kh, kw]; an optimized graph
//                  replaces it by an NCHWc Conv whose filter (`reorder_token_N`) is blocked for the
//                  CPU (nchwcLayout.ts) while its bias keeps the name `…proj_in.bias`;
//   fp16 entries:  `<name>_fp16` initializers cast up to float32.
import { promises as fsp } from 'node:fs';
import { onnx } from 'onnx-proto';

export interface ConvAttrs {
  kernel: number[];
  strides: number[];
  pads: number[];
  dilations: number[];
  group: number;
}

export interface PatchTarget {
  /** Canonical weight name (`input_blocks.1.1.proj_in.weight`). */
  name: string;
  /** PyTorch shape: [out, in] or [out, in, kh, kw]. */
  shape: number[];
  /** The initializer holding it. */
  init: string;
  dtype: 'float32' | 'float16';
  /** 'transposed': [in, out] (MatMul/Gemm B); 'oihw': as PyTorch; 'nchwc': ORT's blocked filter. */
  layout: 'transposed' | 'rowmajor' | 'oihw' | 'nchwc';
  /** The Conv's attributes, for an NCHWc filter's layout probe. */
  conv?: ConvAttrs;
}

export interface ComponentGraph {
  model: onnx.ModelProto;
  initializers: Map<string, onnx.ITensorProto>;
  targets: Map<string, PatchTarget>;
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;

function attrInts(node: onnx.INodeProto, name: string): number[] | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  return a?.ints ? a.ints.map(Number) : undefined;
}
function attrInt(node: onnx.INodeProto, name: string): number | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  return a ? Number(a.i) : undefined;
}
function attrFloat(node: onnx.INodeProto, name: string): number | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  return a ? Number(a.f) : undefined;
}

function convAttrs(node: onnx.INodeProto, kernelDims: number[]): ConvAttrs {
  const k = attrInts(node, 'kernel_shape') ?? kernelDims;
  return {
    kernel: k,
    strides: attrInts(node, 'strides') ?? k.map(() => 1),
    pads: attrInts(node, 'pads') ?? [...k.map(() => 0), ...k.map(() => 0)],
    dilations: attrInts(node, 'dilations') ?? k.map(() => 1),
    group: attrInt(node, 'group') ?? 1,
  };
}

export function graphTargets(model: onnx.ModelProto): ComponentGraph {
  const graph = model.graph!;
  const initializers = new Map<string, onnx.ITensorProto>();
  for (const t of graph.initializer ?? []) initializers.set(t.name!, t);
  const targets = new Map<string, PatchTarget>();
  const dims = (t: onnx.ITensorProto) => (t.dims ?? []).map(Number);
  const dtypeOf = (t: onnx.ITensorProto) => (t.dataType === FLOAT ? 'float32' : t.dataType === FLOAT16 ? 'float16' : undefined);
  // `<w>_fp16` → Cast → float32 tensor: follow the cast so consumers see the weight's own name.
  const castFrom = new Map<string, string>();
  for (const n of graph.node ?? []) if (n.opType === 'Cast' && initializers.has(n.input![0]) && n.input![0].endsWith('_fp16')) castFrom.set(n.output![0], n.input![0]);
  const initOf = (input: string | undefined) => (input === undefined ? undefined : (castFrom.get(input) ?? (initializers.has(input) ? input : undefined)));
  const canonical = (init: string) => init.replace(/_fp16$/, '');

  for (const n of graph.node ?? []) {
    const op = n.opType;
    const domain = n.domain ?? '';
    // ORT's MatmulTransposeFusion turns Transpose → MatMul into com.microsoft FusedMatMul (SDXL's
    // linear proj_in reads the transposed feature map): B keeps its name and layout unless transB;
    // alpha scales the product, so a FusedMatMul with alpha ≠ 1 is not a plain weight to patch.
    const fused = op === 'FusedMatMul' && domain === 'com.microsoft' && (attrFloat(n, 'alpha') ?? 1) === 1;
    if ((op === 'MatMul' && domain === '') || (op === 'Gemm' && domain === '' && (attrFloat(n, 'alpha') ?? 1) === 1) || fused) {
      const init = initOf(n.input![1]);
      if (!init || !canonical(init).endsWith('.weight')) continue;
      const t = initializers.get(init)!;
      const d = dims(t);
      const dtype = dtypeOf(t);
      if (d.length !== 2 || !dtype) continue;
      const transB = (op === 'Gemm' || fused) && attrInt(n, 'transB') === 1;
      const name = canonical(init);
      targets.set(name, { name, init, dtype, shape: transB ? d : [d[1], d[0]], layout: transB ? 'rowmajor' : 'transposed' });
    } else if (op === 'Conv') {
      const winit = initOf(n.input![1]);
      if (!winit) continue;
      const t = initializers.get(winit)!;
      const dtype = dtypeOf(t);
      const d = dims(t);
      if (!dtype || d.length !== 4) continue;
      if (domain === '' && canonical(winit).endsWith('.weight')) {
        const name = canonical(winit);
        targets.set(name, { name, init: winit, dtype, shape: d, layout: 'oihw', conv: convAttrs(n, d.slice(2)) });
      } else if (domain === 'com.microsoft.nchwc') {
        // The filter was renamed; the bias still names the layer.
        const bias = initOf(n.input![2]);
        if (!bias || !canonical(bias).endsWith('.bias')) continue;
        const name = `${canonical(bias).slice(0, -'.bias'.length)}.weight`;
        const outDim = dims(initializers.get(bias)!)[0];
        if (outDim !== d[0]) continue; // padded output channels: not a layout a LoRA delta maps onto
        targets.set(name, { name, init: winit, dtype, shape: d, layout: 'nchwc', conv: convAttrs(n, d.slice(2)) });
      }
    }
  }
  return { model, initializers, targets };
}

export async function readComponentGraph(modelFile: string): Promise<ComponentGraph> {
  return graphTargets(onnx.ModelProto.decode(await fsp.readFile(modelFile)));
}

/** Where an initializer's bytes are: in an external file (relative location) or inline. */
export function externalOf(t: onnx.ITensorProto): { location: string; offset: number; length: number } | undefined {
  if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) return undefined;
  const kv = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
  if (!kv.location) return undefined;
  return { location: kv.location, offset: Number(kv.offset ?? 0), length: Number(kv.length ?? 0) };
}
