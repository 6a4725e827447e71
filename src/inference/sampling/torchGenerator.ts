// PyTorch's CPU random generator (at::CPUGeneratorImpl): a 32-bit Mersenne Twister plus the cached
// second Box–Muller value that `normal_distribution<double>` keeps between calls. Reproducing it is
// what lets a ComfyUI seed give the same initial latent noise here.
//
// Facts taken from PyTorch (aten/src/ATen/core/MT19937RNGEngine.h, CPUGeneratorImpl.cpp,
// DistributionsHelper.h, TransformationHelper.h):
// * manual_seed(s) accepts 0..2^64−1 but the engine is seeded with the LOW 32 BITS only (Knuth's
//   init: state[j] = 1812433253·(state[j−1] ^ state[j−1]>>30) + j), so seeds that agree mod 2^32
//   give identical streams. Re-seeding also drops the cached normal values.
// * random() is one engine output; random64() is (first << 32) | second.
// * uniform_real_distribution<float> = (random() & (2^24−1)) · 2^−24 (exact in float32);
//   the double version = (random64() & (2^53−1)) · 2^−53.
// * normal_distribution<double>: u1, u2 uniform doubles; r = sqrt(−2·log1p(−u2)); θ = 2π·u1;
//   returns r·cos θ and caches r·sin θ for the next call.

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;
const TWO_POW_32 = 4294967296;
const TWO_POW_M24 = 1 / 16777216;
const TWO_POW_M53 = 1 / 9007199254740992;
const MAX_SEED = (1n << 64n) - 1n;

/** PyTorch's default CPU seed (c10::detail::default_rng_seed_val). */
export const TORCH_DEFAULT_SEED = 67280421310721n;

export type Seed = bigint | number;

/** Validates a seed and returns it as a BigInt in 0..2^64−1 (what torch.manual_seed accepts). */
export function toSeed(seed: Seed, what = 'seed'): bigint {
  let s: bigint;
  if (typeof seed === 'bigint') {
    s = seed;
  } else {
    // Workflows carry seeds as JSON numbers, so one above 2^53 arrives already rounded to a double
    // (ComfyUI's own frontend sends that same rounded value); its exact integer value is the seed.
    if (!Number.isInteger(seed)) {
      throw new Error(`${what} must be an integer, got ${seed}`);
    }
    s = BigInt(seed);
  }
  if (s < 0n || s > MAX_SEED) {
    throw new Error(`${what} must be between 0 and 2^64-1 (18446744073709551615), got ${s}`);
  }
  return s;
}

/** Seed + k modulo 2^64, the way ComfyUI derives secondary seeds (seed+1 for ancestral noise). */
export function offsetSeed(seed: Seed, k: number): bigint {
  return (toSeed(seed) + BigInt(k)) & MAX_SEED;
}

export class TorchCpuGenerator {
  private readonly state = new Uint32Array(N);
  private next = 0;
  private left = 1;
  private cachedDoubleNormal: number | null = null;
  private currentSeed: bigint = TORCH_DEFAULT_SEED;

  constructor(seed: Seed = TORCH_DEFAULT_SEED) {
    this.manualSeed(seed);
  }

  get seed(): bigint {
    return this.currentSeed;
  }

  manualSeed(seed: Seed): this {
    const s = toSeed(seed);
    this.currentSeed = s;
    this.cachedDoubleNormal = null;
    const st = this.state;
    st[0] = Number(s & 0xffffffffn);
    for (let j = 1; j < N; j++) {
      const prev = st[j - 1];
      st[j] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + j) >>> 0;
    }
    this.left = 1;
    this.next = 0;
    return this;
  }

  private twist(): void {
    const st = this.state;
    let k = 0;
    for (; k < N - M; k++) {
      const y = (st[k] & UPPER_MASK) | (st[k + 1] & LOWER_MASK);
      st[k] = st[k + M] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    for (; k < N - 1; k++) {
      const y = (st[k] & UPPER_MASK) | (st[k + 1] & LOWER_MASK);
      st[k] = st[k + M - N] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    const y = (st[N - 1] & UPPER_MASK) | (st[0] & LOWER_MASK);
    st[N - 1] = st[M - 1] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    this.left = N;
    this.next = 0;
  }

  /** One 32-bit engine output (CPUGeneratorImpl::random). */
  random(): number {
    if (--this.left === 0) this.twist();
    let y = this.state[this.next++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** random64() as a BigInt: first draw in the high word. */
  random64(): bigint {
    const hi = this.random();
    const lo = this.random();
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** uniform_real_distribution<float>(0, 1): a float32 value in [0, 1). */
  uniformFloat(): number {
    return (this.random() & 0xffffff) * TWO_POW_M24;
  }

  /** uniform_real_distribution<double>(0, 1), built from random64 without BigInt. */
  uniformDouble(): number {
    const hi = this.random();
    const lo = this.random();
    return ((hi & 0x1fffff) * TWO_POW_32 + lo) * TWO_POW_M53;
  }

  /** normal_distribution<double>(0, 1) with PyTorch's one-value cache. */
  normalDouble(): number {
    if (this.cachedDoubleNormal !== null) {
      const v = this.cachedDoubleNormal;
      this.cachedDoubleNormal = null;
      return v;
    }
    const u1 = this.uniformDouble();
    const u2 = this.uniformDouble();
    const r = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = 2 * Math.PI * u1;
    this.cachedDoubleNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
}
