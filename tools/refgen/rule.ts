// The value rule of test/fixtures/comfyui-reference/REFERENCE.md: every tensor of the reference
// checkpoints is a pure function of (tensor name, index, seed), so ComfyUI's 2 GB reference SD1.5
// file can be regenerated bit for bit instead of downloaded.

/** 'other': OpenCLIP's fused in_proj_bias and 0-D logit_scale (scale 2^-5); 'position_ids': int64 0..n-1. */
export type TensorKind = 'dense' | 'bias' | 'norm' | 'embedding' | 'other' | 'position_ids';

export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

const F64 = new Float64Array(1);
const F64_HI = new Uint32Array(F64.buffer);
/** POW2[k + 40] = 2^k: exact scalings without Math.pow in the hot loop. */
const POW2 = Float64Array.from({ length: 81 }, (_, i) => 2 ** (i - 40));

/**
 * IEEE binary16 bits of `x` rounded to nearest, ties to even, directly from the float64 value
 * (rounding through float32 first could round twice).
 */
export function float64ToHalfBits(x: number): number {
  F64[0] = x;
  const hi = F64_HI[1];
  const sign = (hi >>> 16) & 0x8000;
  const biased = (hi >>> 20) & 0x7ff;
  if (biased === 0x7ff) return x !== x ? 0x7e00 : sign | 0x7c00;
  const a = x < 0 ? -x : x;
  let e = biased - 1023;
  if (e < -14) {
    // Subnormal half (or zero): units of 2^-24; rounding up may reach the first normal, 0x0400.
    const m = a * 16777216;
    let f = Math.floor(m);
    const d = m - f;
    if (d > 0.5 || (d === 0.5 && (f & 1) === 1)) f++;
    return sign | f;
  }
  if (e > 15) return sign | 0x7c00;
  const m = a * POW2[10 - e + 40]; // in [1024, 2048): exact
  let f = Math.floor(m);
  const d = m - f;
  if (d > 0.5 || (d === 0.5 && (f & 1) === 1)) f++;
  if (f === 2048) {
    f = 1024;
    e++;
    if (e > 15) return sign | 0x7c00;
  }
  return sign | ((e + 15) << 10) | (f - 1024);
}

/** 2^round(log2(3/fan_in)/2) for dense tensors; fixed scales for the others (before per-tensor multipliers). */
export function ruleScale(kind: TensorKind, shape: readonly number[]): number {
  if (kind === 'bias' || kind === 'other') return 2 ** -5;
  if (kind === 'position_ids') return 0;
  if (kind === 'norm') return 2 ** -3;
  if (kind === 'embedding') return 2 ** -1;
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  return 2 ** Math.round(Math.log2(3 / fanIn) / 2);
}

/** The tensor's values as binary16 bits in C order. */
export function tensorHalfBits(name: string, count: number, kind: TensorKind, scale: number, seed: number): Uint16Array {
  const key = fmix32((fnv1a32(name) ^ fmix32(seed)) >>> 0);
  const out = new Uint16Array(count);
  const norm = kind === 'norm';
  for (let i = 0; i < count; i++) {
    // fmix32 inlined: this loop runs a billion times for the full-size checkpoint.
    let x = (Math.imul(i, 0x9e3779b1) + key) >>> 0;
    x ^= x >>> 16;
    x = Math.imul(x, 0x85ebca6b);
    x ^= x >>> 13;
    x = Math.imul(x, 0xc2b2ae35);
    x ^= x >>> 16;
    x >>>= 0;
    const v = (2 * (x >>> 9) + 1 - 8388608) / 8388608;
    out[i] = float64ToHalfBits(norm ? 1 + v * scale : v * scale);
  }
  return out;
}
