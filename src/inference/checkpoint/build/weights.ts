// Pulls named tensors from a WeightSource into a GraphBuilder one at a time (each is streamed to
// the external data file and dropped), checking every shape against what the architecture needs
// so a wrong or mislabelled file fails with the tensor's name instead of an ORT error.
import type { GraphBuilder } from '../../onnx/graphBuilder';
import type { BuildOptions, WeightSource } from './types';

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export class WeightReader {
  private done = 0;
  private readonly total: number;

  constructor(
    readonly g: GraphBuilder,
    readonly source: WeightSource,
    readonly component: string,
    private readonly onProgress?: BuildOptions['onProgress'],
  ) {
    this.total = source.names().reduce((sum, n) => sum + count(source.shape(n)), 0);
  }

  has(name: string): boolean {
    return this.source.has(name);
  }

  shape(name: string): number[] {
    if (!this.source.has(name)) throw new Error(`${this.component}: tensor '${name}' is missing from the checkpoint`);
    return this.source.shape(name);
  }

  private async values(name: string, expect: readonly number[]): Promise<Float32Array> {
    const shape = this.shape(name);
    // Conv weights stored [out, in] by some exporters for 1×1 convs are accepted as [out, in, 1, 1].
    const same = shape.length === expect.length && shape.every((d, i) => d === expect[i]);
    const flat1x1 = expect.length === 4 && expect[2] === 1 && expect[3] === 1 && shape.length === 2 && shape[0] === expect[0] && shape[1] === expect[1];
    if (!same && !flat1x1) throw new Error(`${this.component}: tensor '${name}' has shape [${shape.join(', ')}], expected [${expect.join(', ')}]`);
    const v = await this.source.float32(name);
    if (v.length !== count(expect)) throw new Error(`${this.component}: tensor '${name}' holds ${v.length} values, expected ${count(expect)}`);
    this.done += v.length;
    this.onProgress?.(Math.min(this.done, this.total), this.total);
    return v;
  }

  /** A tensor as stored (conv kernels, norms, biases, embeddings). */
  async tensor(name: string, expect: readonly number[]): Promise<string> {
    return this.g.weight(name, [...expect], await this.values(name, expect));
  }

  /** A PyTorch Linear weight [out, in] stored transposed, [in, out], ready for MatMul. */
  async linearT(name: string, outDim: number, inDim: number): Promise<string> {
    const w = await this.values(name, [outDim, inDim]);
    const t = new Float32Array(w.length);
    for (let o = 0; o < outDim; o++) {
      const row = o * inDim;
      for (let i = 0; i < inDim; i++) t[i * outDim + o] = w[row + i];
    }
    return this.g.weight(name, [inDim, outDim], t);
  }

  finish(): void {
    this.onProgress?.(this.total, this.total);
  }
}
