// IEEE 754 binary16 <-> binary32 conversion for fp16 model IO.
// onnxruntime-node on Node 20 hands float16 tensors over as raw Uint16Array bits, so every fp16
// input and output passes through here. A naive Math.pow decoder costs ~25 ms per 512² RGB
// image; the 64K lookup table brings decoding to a few ms (ort-sd.md §2.9).

let decodeTable: Float32Array | undefined;

/** 65,536-entry table: index = half bits, value = the exact float32 it represents. */
function table(): Float32Array {
  if (decodeTable) return decodeTable;
  const bits = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) bits[h] = halfBitsToFloatBits(h);
  decodeTable = new Float32Array(bits.buffer);
  return decodeTable;
}

// Built bitwise (not arithmetically) so NaN payloads and -0 survive exactly.
function halfBitsToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal half: normalise the mantissa; every half subnormal is a normal float32.
  let e = 113;
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float32 bit pattern -> half bits, round to nearest, ties to even; overflow gives ±Infinity. */
function floatBitsToHalfBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) {
    // Keep NaN a NaN even when its payload sits only in the low bits that are dropped.
    return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  }
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Result is a half subnormal (or zero). Values below half the smallest subnormal round to 0.
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    const up = rem > midpoint || (rem === midpoint && (half & 1) === 1);
    return sign | (half + (up ? 1 : 0));
  }
  const half = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (and 65520+ becomes Infinity).
  const up = rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1);
  return half + (up ? 1 : 0);
}

export function float16BitsToNumber(h: number): number {
  return table()[h & 0xffff];
}

export function numberToFloat16Bits(v: number): number {
  scratchF32[0] = v;
  return floatBitsToHalfBits(scratchU32[0]);
}

export function float16ToFloat32(src: Uint16Array, out?: Float32Array): Float32Array {
  const dst = out ?? new Float32Array(src.length);
  if (dst.length < src.length) throw new Error(`float16ToFloat32: output holds ${dst.length} values, need ${src.length}`);
  const t = table();
  for (let i = 0; i < src.length; i++) dst[i] = t[src[i]];
  return dst;
}

export function float32ToFloat16(src: Float32Array | readonly number[], out?: Uint16Array): Uint16Array {
  const dst = out ?? new Uint16Array(src.length);
  if (dst.length < src.length) throw new Error(`float32ToFloat16: output holds ${dst.length} values, need ${src.length}`);
  if (src instanceof Float32Array) {
    const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
    for (let i = 0; i < src.length; i++) dst[i] = floatBitsToHalfBits(bits[i]);
  } else {
    for (let i = 0; i < src.length; i++) dst[i] = numberToFloat16Bits(src[i]);
  }
  return dst;
}
