// Plain dense float tensors passed between nodes. ComfyUI's conventions: IMAGE is [B,H,W,C] in
// 0..1, MASK is [B,H,W] in 0..1, LATENT is {samples [B,C,H,W], noise_mask?, batch_index?}.
import * as os from 'node:os';

export interface Tensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/**
 * A tensor that would not fit: raised before allocating, because V8 either throws an opaque
 * "Invalid typed array length" or, worse, the OS kills the whole inference process.
 */
export class AllocationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AllocationError';
  }
}

// Below this size a check costs more than it saves (os.freemem is a syscall).
const UNCHECKED_BYTES = 64 * 2 ** 20;
// Room left for ORT sessions, the other tensors of the run and the process itself.
const FREE_MEMORY_SHARE = 0.8;
// V8's typed array ceiling on 64-bit hosts is far above any real machine's memory; this cap keeps
// a single tensor within what one Float32Array index can address.
const MAX_ELEMENTS = 2 ** 32 - 1;

let limitOverride: number | undefined;

/** Tests and memory-budget settings: cap one tensor at `bytes` (undefined restores the default). */
export function setAllocationLimit(bytes: number | undefined): void {
  limitOverride = bytes;
}

/** A fixed cap in MiB from the environment (shared machines, tests); 0 or unset = none. */
function envCapBytes(): number | undefined {
  const mb = Number(process.env.MARBLE_MAX_TENSOR_MB);
  return Number.isFinite(mb) && mb > 0 ? mb * 2 ** 20 : undefined;
}

/** Bytes one tensor may take right now: a share of the free memory, lowered by any fixed cap. */
export function allocationLimitBytes(): number {
  if (limitOverride !== undefined) return limitOverride;
  const free = Math.max(UNCHECKED_BYTES, Math.floor(os.freemem() * FREE_MEMORY_SHARE));
  return Math.min(free, envCapBytes() ?? Infinity);
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(bytes < 2 ** 30 ? 2 : 1)} GiB`;

/**
 * Throws AllocationError when `elements` float32 values would not fit; `what` names the node input
 * or output it is for, e.g. "EmptyLatentImage latent (width 16384, height 16384, batch_size 4096)".
 */
export function checkAllocation(elements: number, what: string): void {
  if (!Number.isFinite(elements) || elements < 0) throw new AllocationError(`${what}: invalid tensor size ${elements}`);
  const bytes = elements * 4;
  if (bytes <= UNCHECKED_BYTES && limitOverride === undefined && envCapBytes() === undefined) return;
  const limit = allocationLimitBytes();
  if (elements > MAX_ELEMENTS || bytes > limit) {
    throw new AllocationError(
      `${what} needs ${gib(bytes)} (${elements} float32 values), more than the ${gib(Math.min(limit, MAX_ELEMENTS * 4))} this process can allocate now; use a smaller size or batch`,
    );
  }
}

export function tensor(shape: readonly number[], data?: Float32Array, what?: string): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (data && data.length !== size) {
    throw new Error(`tensor data has ${data.length} elements, shape [${shape.join(', ')}] needs ${size}`);
  }
  if (!data) checkAllocation(size, what ?? `a tensor of shape [${shape.join(', ')}]`);
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
