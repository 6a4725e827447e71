// Float32 arithmetic as PyTorch's AVX2 Box–Muller computes it, one SIMD lane at a time.
//
// PyTorch's normal_fill_16_AVX2 (aten/src/ATen/native/cpu/DistributionTemplates.h) calls log256_ps
// and sincos256_ps from ATen/native/cpu/avx_mathfun.h — Cephes-style float32 polynomials, not libm
// and not Sleef. The source spells every step as separate _mm256_mul_ps/_mm256_add_ps intrinsics,
// but the Linux wheels are built by GCC with -mfma and its default -ffp-contract=fast, so most
// multiply→add pairs are emitted as fused multiply-adds. Which pairs fuse changes the last bit of
// about 1 value in 1000, so the contraction pattern below is part of the contract. It is the one
// used by two independent ports that report bit-exact agreement with torch fixtures (a Zig and a
// Mojo port found through code search); the source of PyTorch alone cannot tell it.
//
// JS numbers are float64: a float32 sum/product/sqrt rounded with Math.fround is correctly rounded
// (53 ≥ 2·24+2), but a fused multiply-add needs care, see fmaf.

const f = Math.fround;

/**
 * Correctly rounded float32 fused multiply-add of float32 inputs. a·b is exact in float64; the sum
 * is rounded once to float64 and then to float32, which is wrong only when the float64 sum lands
 * exactly halfway between two float32 values while the exact sum is not — then the exact error
 * (TwoSum) decides the direction.
 */
export function fmaf(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const r = f(s);
  if (r === s) return r;
  const other = s + (s - r);
  if (f(other) !== other) return r;
  const bb = s - p;
  const err = p - (s - bb) + (c - bb);
  if (err === 0) return r;
  return err > 0 ? Math.max(r, other) : Math.min(r, other);
}

const bits = new DataView(new ArrayBuffer(4));

function floatBits(x: number): number {
  bits.setFloat32(0, x, true);
  return bits.getUint32(0, true);
}

function bitsToFloat(u: number): number {
  bits.setUint32(0, u >>> 0, true);
  return bits.getFloat32(0, true);
}

const SQRTHF = f(0.707106781186547524);
const LOG_P = [
  7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
  -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
].map(f);
const LOG_Q1 = f(-2.12194440e-4);
const LOG_Q2 = f(0.693359375);
const MIN_NORM_POS = bitsToFloat(0x00800000);

/** log256_ps for one lane, for positive finite float32 input (Box–Muller only feeds (0, 1]). */
export function logf32Avx(input: number): number {
  let x = Math.max(f(input), MIN_NORM_POS);
  const b = floatBits(x);
  let e = f(((b >>> 23) - 0x7f) + 1);
  x = bitsToFloat((b & ~0x7f800000) | 0x3f000000);
  const below = x < SQRTHF;
  const tmp = below ? x : 0;
  x = f(x - 1);
  if (below) e = f(e - 1);
  x = f(x + tmp);
  const z = f(x * x);
  let y = LOG_P[0];
  for (let k = 1; k < LOG_P.length; k++) y = fmaf(y, x, LOG_P[k]);
  y = f(y * x);
  y = fmaf(y, z, f(e * LOG_Q1));
  y = fmaf(z, -0.5, y);
  x = f(x + y);
  return fmaf(e, LOG_Q2, x);
}

const FOPI = f(1.27323954473516);
const MINUS_DP1 = f(-0.78515625);
const MINUS_DP2 = f(-2.4187564849853515625e-4);
const MINUS_DP3 = f(-3.77489497744594108e-8);
const COS_P0 = f(2.443315711809948e-5);
const COS_P1 = f(-1.388731625493765e-3);
const COS_P2 = f(4.166664568298827e-2);
const SIN_P0 = f(-1.9515295891e-4);
const SIN_P1 = f(8.3321608736e-3);
const SIN_P2 = f(-1.6666654611e-1);

/** sincos256_ps for one lane; writes [sin, cos] into out to avoid allocating per element. */
export function sincosf32Avx(input: number, out: Float64Array): void {
  const theta = f(input);
  let sinNegative = theta < 0 || Object.is(theta, -0);
  let x = Math.abs(theta);
  let j = Math.trunc(f(x * FOPI)) | 0;
  j = (j + 1) & ~1;
  const y = j;
  if (j & 4) sinNegative = !sinNegative;
  const sinPolyForSin = (j & 2) === 0;
  x = fmaf(y, MINUS_DP1, x);
  x = fmaf(y, MINUS_DP2, x);
  x = fmaf(y, MINUS_DP3, x);
  const cosNegative = (~(j - 2) & 4) !== 0;
  const z = f(x * x);

  let yc = fmaf(COS_P0, z, COS_P1);
  yc = fmaf(yc, z, COS_P2);
  yc = f(yc * z);
  yc = fmaf(yc, z, -f(z * 0.5));
  yc = f(yc + 1);

  let ys = fmaf(SIN_P0, z, SIN_P1);
  ys = fmaf(ys, z, SIN_P2);
  ys = f(ys * z);
  ys = fmaf(ys, x, x);

  // The SIMD code selects with and/andnot masks and then adds +0, which turns −0 into +0.
  const s = (sinPolyForSin ? ys : yc) + 0;
  const c = (sinPolyForSin ? yc : ys) + 0;
  out[0] = sinNegative ? -s : s;
  out[1] = cosNegative ? -c : c;
}
