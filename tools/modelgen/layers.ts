// Random-weight layers for the generated models: the graph building blocks come from Marble's
// shared ONNX library (src/inference/onnx); this only draws the weights. Initialisation follows
// He/LeCun-style fan-in scaling so activations stay near unit variance through the random layers.
import type { GraphBuilder } from '../../src/inference/onnx/graphBuilder';
import * as nn from '../../src/inference/onnx/nn';
import type { Prng } from './prng';

export class Layers {
  constructor(
    readonly g: GraphBuilder,
    readonly rng: Prng,
  ) {}

  /** x[..., inDim] @ W[inDim, outDim] (+ b). */
  linear(x: string, inDim: number, outDim: number, name: string, opts: { bias?: boolean; gain?: number } = {}): string {
    const w = this.g.weight(`${name}.weight`, [inDim, outDim], this.rng.normals(inDim * outDim, (opts.gain ?? 1) / Math.sqrt(inDim)));
    const b = opts.bias === false ? undefined : this.g.weight(`${name}.bias`, [outDim], this.rng.normals(outDim, 0.02));
    return nn.linear(this.g, x, w, b, name);
  }

  conv(x: string, cin: number, cout: number, name: string, opts: { kernel?: number; stride?: number; gain?: number } = {}): string {
    const k = opts.kernel ?? 3;
    const fanIn = cin * k * k;
    const w = this.g.weight(`${name}.weight`, [cout, cin, k, k], this.rng.normals(cout * fanIn, (opts.gain ?? Math.SQRT2) / Math.sqrt(fanIn)));
    const b = this.g.weight(`${name}.bias`, [cout], this.rng.normals(cout, 0.02));
    return nn.conv2d(this.g, x, w, b, { kernel: k, stride: opts.stride }, name);
  }

  silu(x: string): string {
    return nn.silu(this.g, x);
  }

  /** CLIP's quick_gelu: x * sigmoid(1.702 x). Gelu itself only arrives in opset 20. */
  quickGelu(x: string): string {
    return nn.quickGelu(this.g, x);
  }

  /** Per-sample, per-channel normalisation over H×W (stand-in for GroupNorm, which needs opset 18). */
  instanceNorm(x: string, channels: number, name: string, learned = true): string {
    const scale = learned ? this.g.weight(`${name}.scale`, [channels], this.rng.normals(channels, 0.05, 1)) : this.g.constF(`${name}.one`, [channels], new Float32Array(channels).fill(1));
    const bias = learned ? this.g.weight(`${name}.bias`, [channels], this.rng.normals(channels, 0.02)) : this.g.constF(`${name}.zero`, [channels], new Float32Array(channels));
    return this.g.op('InstanceNormalization', [x, scale, bias], { epsilon: { f: 1e-5 } }, name);
  }

  layerNorm(x: string, dim: number, name: string): string {
    const scale = this.g.weight(`${name}.weight`, [dim], this.rng.normals(dim, 0.05, 1));
    const bias = this.g.weight(`${name}.bias`, [dim], this.rng.normals(dim, 0.02));
    return nn.layerNorm(this.g, x, scale, bias, 1e-5, name);
  }

  /**
   * Single-head scaled dot-product attention. q: [B, Lq, qDim], kv: [B, Lk, kvDim] → [B, Lq, outDim].
   * `mask` (optional) is added to the [B, Lq, Lk] logits before the softmax.
   */
  attention(q: string, kv: string, dims: { qDim: number; kvDim: number; inner: number; outDim: number }, name: string, mask?: string): string {
    const { g } = this;
    const Q = this.linear(q, dims.qDim, dims.inner, `${name}.to_q`, { bias: false });
    const K = this.linear(kv, dims.kvDim, dims.inner, `${name}.to_k`, { bias: false });
    const V = this.linear(kv, dims.kvDim, dims.inner, `${name}.to_v`, { bias: false });
    const Kt = g.op('Transpose', [K], { perm: { ints: [0, 2, 1] } });
    let logits = g.op('Mul', [g.op('MatMul', [Q, Kt]), g.constF(`${name}.scale`, [], [1 / Math.sqrt(dims.inner)])], {}, `${name}_logits`);
    if (mask) logits = g.op('Add', [logits, mask], {}, `${name}_masked`);
    const probs = g.op('Softmax', [logits], { axis: { i: -1 } }, `${name}_softmax`);
    const ctx = g.op('MatMul', [probs, V], {}, `${name}_ctx`);
    return this.linear(ctx, dims.inner, dims.outDim, `${name}.to_out`);
  }

  /** ResNet block: norm → SiLU → conv → norm (+ time embedding) → SiLU → conv, plus skip. */
  resBlock(x: string, channels: number, name: string, temb?: string): string {
    let h = this.instanceNorm(this.conv(this.silu(this.instanceNorm(x, channels, `${name}.norm1`)), channels, channels, `${name}.conv1`), channels, `${name}.norm2`);
    // The time embedding is a per-channel constant, so it goes in after the norm (which would
    // cancel it) and before the non-linearity.
    if (temb) h = this.g.op('Add', [h, temb], {}, `${name}_temb`);
    h = this.conv(this.silu(h), channels, channels, `${name}.conv2`, { gain: 0.5 });
    return this.g.op('Add', [x, h], {}, `${name}_residual`);
  }

  /** Shape(x)[start:end] as an int64 1-D tensor (opset 15 Shape slicing). */
  shapeSlice(x: string, start: number, end?: number): string {
    return nn.shapeSlice(this.g, x, start, end);
  }
}
