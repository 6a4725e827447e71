// Plain dense float tensors passed between nodes. ComfyUI's conventions: IMAGE is [B,H,W,C] in
// 0..1, MASK is [B,H,W] in 0..1, LATENT is {samples [B,C,H,W], noise_mask?, batch_index?}.

export interface Tensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

export function tensor(shape: readonly number[], data?: Float32Array): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (data && data.length !== size) {
    throw new Error(`tensor data has ${data.length} elements, shape [${shape.join(', ')}] needs ${size}`);
  }
  return { data: data ?? new Float32Array(size), shape: [...shape] };
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export interface Latent {
  samples: Tensor;
  noise_mask?: Tensor;
  batch_index?: number[];
}
