// Deterministic Brownian-motion noise for the SDE samplers (dpmpp_sde, dpmpp_2m_sde, dpmpp_3m_sde).
//
// ComfyUI uses torchsde.BrownianTree seeded with the KSampler seed. Its values depend on torchsde's
// own tree layout and PyTorch's generator and are NOT reproduced here: images from SDE samplers will
// not match ComfyUI pixel for pixel. What is kept is the property the samplers rely on: W(t) is one
// fixed Brownian path per seed, so increments over any intervals are consistent Gaussian increments
// (disjoint intervals independent, variance = length), whatever order or step sizes they are queried
// in. The path is a virtual Brownian tree: W at the midpoint of [a, b] is the Brownian-bridge sample
// (W(a)+W(b))/2 + √((b−a)/4)·Z, with Z drawn from a generator keyed by (seed, node), refined until
// the query time is hit within a relative tolerance.

import { toSeed, type Seed } from './torchGenerator';

const MAX_DEPTH = 40;

// splitmix32-style integer hash, to key each tree node's generator.
function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x21f0aaad);
  h = Math.imul(h ^ (h >>> 15), 0x735a2d97);
  return (h ^ (h >>> 15)) >>> 0;
}

/** Fills out with standard normals from a small counter-free generator (sfc32 + Box–Muller). */
function fillNormals(out: Float64Array, key0: number, key1: number): void {
  let a = key0 | 0;
  let b = key1 | 0;
  let c = mix32(key0 ^ 0x9e3779b9) | 0;
  let d = 1;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  for (let i = 0; i < out.length; i += 2) {
    const u1 = 1 - next();
    const u2 = next();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
}

export class BrownianNoiseSampler {
  private readonly t0: number;
  private readonly t1: number;
  private readonly w1: Float64Array;
  private readonly seedLo: number;
  private readonly seedHi: number;
  private readonly tol: number;
  private readonly cache = new Map<number, Float64Array>();

  constructor(readonly size: number, sigmaMin: number, sigmaMax: number, seed: Seed) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`Brownian noise: size must be a positive integer, got ${size}`);
    if (!(sigmaMin >= 0 && sigmaMax > sigmaMin && Number.isFinite(sigmaMax))) {
      throw new Error(`Brownian noise: need 0 ≤ sigma_min < sigma_max, got ${sigmaMin}, ${sigmaMax}`);
    }
    const s = toSeed(seed);
    this.seedLo = Number(s & 0xffffffffn);
    this.seedHi = Number((s >> 32n) & 0xffffffffn);
    this.t0 = sigmaMin;
    this.t1 = sigmaMax;
    this.tol = (sigmaMax - sigmaMin) * 1e-7;
    this.w1 = new Float64Array(size);
    fillNormals(this.w1, mix32(this.seedLo ^ 0x85ebca6b), mix32(this.seedHi ^ 0xc2b2ae35));
    const scale = Math.sqrt(sigmaMax - sigmaMin);
    for (let i = 0; i < size; i++) this.w1[i] *= scale;
  }

  /** W(t) on the fixed path, t clamped into [sigmaMin, sigmaMax]. */
  value(t: number): Float64Array {
    const tc = Math.min(Math.max(t, this.t0), this.t1);
    const cached = this.cache.get(tc);
    if (cached) return cached;
    const n = this.size;
    let a = this.t0;
    let b = this.t1;
    let wa = new Float64Array(n);
    let wb = Float64Array.from(this.w1);
    let result: Float64Array | null = null;
    if (Math.abs(tc - a) <= this.tol) result = wa;
    else if (Math.abs(tc - b) <= this.tol) result = wb;
    const z = new Float64Array(n);
    let node = 1; // heap index of [a, b]
    for (let depth = 0; result === null && depth < MAX_DEPTH; depth++) {
      const m = 0.5 * (a + b);
      fillNormals(z, mix32(this.seedLo ^ mix32(node)), mix32(this.seedHi ^ mix32(node + depth * 0x632be5ab)));
      const sd = Math.sqrt((b - a) / 4);
      const wm = new Float64Array(n);
      for (let i = 0; i < n; i++) wm[i] = 0.5 * (wa[i] + wb[i]) + sd * z[i];
      if (Math.abs(tc - m) <= this.tol) {
        result = wm;
      } else if (tc < m) {
        b = m;
        wb = wm;
        node = 2 * node;
      } else {
        a = m;
        wa = wm;
        node = 2 * node + 1;
      }
    }
    if (result === null) {
      // Depth exhausted: interpolate linearly inside an interval far below the tolerance.
      const w = (tc - a) / (b - a);
      result = new Float64Array(n);
      for (let i = 0; i < n; i++) result[i] = (1 - w) * wa[i] + w * wb[i];
    }
    this.cache.set(tc, result);
    return result;
  }

  /** Normalised increment (W(sNext) − W(s)) / √|sNext − s|, ~N(0, 1) per element. */
  sample(sigma: number, sigmaNext: number): Float32Array {
    const out = new Float32Array(this.size);
    const dt = Math.abs(sigmaNext - sigma);
    if (dt === 0) return out;
    const w0 = this.value(sigma);
    const w1 = this.value(sigmaNext);
    const inv = 1 / Math.sqrt(dt);
    for (let i = 0; i < this.size; i++) out[i] = (w1[i] - w0[i]) * inv;
    return out;
  }
}
