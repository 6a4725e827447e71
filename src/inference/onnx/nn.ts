// Neural-network building blocks over GraphBuilder, written once for every network Marble
// builds (the checkpoint converters and tools/modelgen). Each takes tensor names and returns the
// output name; weights are created by the caller, so these stay independent of where they come from.
import type { GraphBuilder } from './graphBuilder';

const FLOAT = 1;
const DOUBLE = 11;

/** x[..., in] @ wT[in, out] (+ b). `wT` is the transposed PyTorch Linear weight. */
export function linear(g: GraphBuilder, x: string, wT: string, b?: string, hint = 'linear'): string {
  const y = g.op('MatMul', [x, wT], {}, hint);
  return b ? g.op('Add', [y, b], {}, `${hint}_bias`) : y;
}

export interface ConvOptions {
  kernel: number;
  stride?: number;
  /** [top, left, bottom, right]; default symmetric (k−1)/2. */
  pads?: [number, number, number, number];
}

export function conv2d(g: GraphBuilder, x: string, w: string, b: string | undefined, o: ConvOptions, hint = 'conv'): string {
  const p = (o.kernel - 1) >> 1;
  const pads = o.pads ?? [p, p, p, p];
  const s = o.stride ?? 1;
  return g.op('Conv', b ? [x, w, b] : [x, w], { kernel_shape: { ints: [o.kernel, o.kernel] }, pads: { ints: pads }, strides: { ints: [s, s] } }, hint);
}

export function silu(g: GraphBuilder, x: string): string {
  return g.op('Mul', [x, g.op('Sigmoid', [x])], {}, 'silu');
}

/** CLIP's quick_gelu: x · sigmoid(1.702 x). */
export function quickGelu(g: GraphBuilder, x: string): string {
  const k = g.constF('quick_gelu_k', [], [1.702]);
  return g.op('Mul', [x, g.op('Sigmoid', [g.op('Mul', [x, k])])], {}, 'quick_gelu');
}

/** Exact (erf) GELU, torch.nn.functional.gelu's default: 0.5 · x · (1 + erf(x / √2)). ORT fuses this pattern. */
export function gelu(g: GraphBuilder, x: string): string {
  const erf = g.op('Erf', [g.op('Div', [x, g.constF('sqrt2', [], [Math.SQRT2])])]);
  const onePlus = g.op('Add', [erf, g.constF('one_f', [], [1])]);
  return g.op('Mul', [g.op('Mul', [x, onePlus]), g.constF('half_f', [], [0.5])], {}, 'gelu');
}

export function layerNorm(g: GraphBuilder, x: string, scale: string, bias: string, eps: number, hint = 'layer_norm'): string {
  return g.op('LayerNormalization', [x, scale, bias], { axis: { i: -1 }, epsilon: { f: eps } }, hint);
}

/**
 * torch.nn.GroupNorm over NCHW: reshape to [N, G, (C/G)·H·W], normalise each row with
 * InstanceNormalization (unit scale, zero bias), reshape back, then the per-channel affine.
 * GroupNormalization-18 changed meaning in opset 21, so exporters and Marble avoid it.
 */
export function groupNorm(g: GraphBuilder, x: string, channels: number, groups: number, eps: number, gamma?: string, beta?: string, hint = 'group_norm'): string {
  const grouped = g.op('Reshape', [x, g.constI64(`${hint}_gshape`, [0, groups, -1])], {}, `${hint}_grouped`);
  const ones = g.constF(`${hint}_ones`, [groups], new Float32Array(groups).fill(1));
  const zeros = g.constF(`${hint}_zeros`, [groups], new Float32Array(groups));
  const normed = g.op('InstanceNormalization', [grouped, ones, zeros], { epsilon: { f: eps } }, `${hint}_in`);
  let y = g.op('Reshape', [normed, g.op('Shape', [x])], {}, `${hint}_back`);
  if (gamma) y = g.op('Mul', [y, g.op('Reshape', [gamma, g.constI64(`${hint}_cshape`, [channels, 1, 1])])], {}, `${hint}_scale`);
  if (beta) y = g.op('Add', [y, g.op('Reshape', [beta, g.constI64(`${hint}_cshape`, [channels, 1, 1])])], {}, `${hint}_shift`);
  return y;
}

export type AttentionKernel = 'matmul' | 'ort-mha';

/**
 * Multi-head scaled dot-product attention on projected q [B, Lq, H·d], k and v [B, Lk, H·d] →
 * [B, Lq, H·d], softmax(q kᵀ / √d + mask) v per head. `mask` [Lq, Lk] (additive) broadcasts.
 * 'ort-mha' uses ORT's fused com.microsoft MultiHeadAttention (no mask support here).
 */
export function attention(g: GraphBuilder, q: string, k: string, v: string, heads: number, dimHead: number, opts: { mask?: string; kernel?: AttentionKernel; hint?: string } = {}): string {
  const hint = opts.hint ?? 'attn';
  if (opts.kernel === 'ort-mha' && !opts.mask) {
    return g.op('MultiHeadAttention', [q, k, v], { num_heads: { i: heads }, scale: { f: 1 / Math.sqrt(dimHead) } }, `${hint}_mha`, 'com.microsoft');
  }
  const split = g.constI64(`${hint}_split`, [0, 0, heads, dimHead]);
  const qh = g.op('Transpose', [g.op('Reshape', [q, split])], { perm: { ints: [0, 2, 1, 3] } }, `${hint}_qh`);
  const kt = g.op('Transpose', [g.op('Reshape', [k, split])], { perm: { ints: [0, 2, 3, 1] } }, `${hint}_kt`);
  const vh = g.op('Transpose', [g.op('Reshape', [v, split])], { perm: { ints: [0, 2, 1, 3] } }, `${hint}_vh`);
  let logits = g.op('Mul', [g.op('MatMul', [qh, kt]), g.constF(`${hint}_scale`, [], [1 / Math.sqrt(dimHead)])], {}, `${hint}_logits`);
  if (opts.mask) logits = g.op('Add', [logits, opts.mask], {}, `${hint}_masked`);
  const probs = g.op('Softmax', [logits], { axis: { i: -1 } }, `${hint}_softmax`);
  const ctx = g.op('Transpose', [g.op('MatMul', [probs, vh])], { perm: { ints: [0, 2, 1, 3] } }, `${hint}_ctx`);
  return g.op('Reshape', [ctx, g.constI64(`${hint}_merge`, [0, 0, heads * dimHead])], {}, `${hint}_merged`);
}

/** Shape(x)[start:end] as an int64 1-D tensor (opset 15 Shape slicing). */
export function shapeSlice(g: GraphBuilder, x: string, start: number, end?: number): string {
  const attrs: Record<string, { i: number }> = { start: { i: start } };
  if (end !== undefined) attrs.end = { i: end };
  return g.op('Shape', [x], attrs, 'shape');
}

/** Nearest-neighbour resize of NCHW `x` to the spatial size of `like` (torch interpolate 'nearest'). */
export function resizeNearestLike(g: GraphBuilder, x: string, like: string, hint = 'upsample'): string {
  const size = g.op('Concat', [shapeSlice(g, x, 0, 2), shapeSlice(g, like, 2, 4)], { axis: { i: 0 } }, `${hint}_size`);
  return g.op('Resize', [x, '', '', size], { mode: { s: 'nearest' }, coordinate_transformation_mode: { s: 'asymmetric' }, nearest_mode: { s: 'floor' } }, hint);
}

/** Nearest-neighbour ×2 (torch interpolate scale_factor=2, 'nearest'). */
export function upsample2x(g: GraphBuilder, x: string, hint = 'upsample'): string {
  const scales = g.constF(`${hint}_scales`, [4], [1, 1, 2, 2]);
  return g.op('Resize', [x, '', scales], { mode: { s: 'nearest' }, coordinate_transformation_mode: { s: 'asymmetric' }, nearest_mode: { s: 'floor' } }, hint);
}

export function castTo(g: GraphBuilder, x: string, to: 'float32' | 'float64' | 'float16' | 'int64'): string {
  const code = { float32: FLOAT, float64: DOUBLE, float16: 10, int64: 7 }[to];
  return g.op('Cast', [x], { to: { i: code } }, `to_${to}`);
}
