// The element types a safetensors header may name, their sizes, and conversion of raw
// little-endian bytes to float32 (what the graph builders consume).
import { float16ToFloat32 } from '../ort/float16';

export type SafetensorsDtype =
  | 'F64' | 'F32' | 'F16' | 'BF16'
  | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL'
  | 'F8_E4M3' | 'F8_E5M2'
  | 'U16' | 'U32' | 'U64';

/** Bytes per element, keyed by every dtype this reader accepts. */
export const DTYPE_SIZE: Readonly<Record<SafetensorsDtype, number>> = Object.freeze({
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
  F8_E4M3: 1, F8_E5M2: 1,
  U16: 2, U32: 4, U64: 8,
});

export function isSafetensorsDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.hasOwn(DTYPE_SIZE, s);
}

let e4m3Table: Float32Array | undefined;
let e5m2Table: Float32Array | undefined;

// float8 e4m3fn (the variant PyTorch's float8_e4m3fn and safetensors' F8_E4M3 mean): bias 7,
// no infinities, only S.1111.111 is NaN.
function e4m3(): Float32Array {
  if (e4m3Table) return e4m3Table;
  const t = new Float32Array(256);
  for (let b = 0; b < 256; b++) {
    const sign = b & 0x80 ? -1 : 1;
    const exp = (b >>> 3) & 0xf;
    const mant = b & 0x7;
    if (exp === 0xf && mant === 0x7) t[b] = NaN;
    else if (exp === 0) t[b] = sign * mant * 2 ** -9;
    else t[b] = sign * (1 + mant / 8) * 2 ** (exp - 7);
  }
  return (e4m3Table = t);
}

// float8 e5m2 is the top byte of an IEEE binary16, so the half decoder gives it exactly.
function e5m2(): Float32Array {
  if (e5m2Table) return e5m2Table;
  const halves = new Uint16Array(256);
  for (let b = 0; b < 256; b++) halves[b] = b << 8;
  return (e5m2Table = float16ToFloat32(halves));
}

/**
 * Converts little-endian element bytes to float32. `bytes` must start on an offset aligned to the
 * element size (the reader always hands over freshly allocated buffers, so it is).
 * Integers beyond 2^24 lose precision exactly as a float32 cast does in PyTorch.
 */
export function bytesToFloat32(dtype: SafetensorsDtype, bytes: Uint8Array): Float32Array {
  const size = DTYPE_SIZE[dtype];
  if (bytes.byteLength % size !== 0) throw new Error(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  const n = bytes.byteLength / size;
  const { buffer, byteOffset } = bytes;
  const aligned = byteOffset % size === 0;
  const src = aligned ? bytes : bytes.slice();
  const view = <T>(C: new (b: ArrayBufferLike, o: number, l: number) => T): T => (aligned ? new C(buffer, byteOffset, n) : new C(src.buffer, 0, n));
  switch (dtype) {
    case 'F32':
      return new Float32Array(view(Float32Array));
    case 'F16':
      return float16ToFloat32(view(Uint16Array));
    case 'BF16': {
      // bfloat16 is the top half of a float32: widening is a shift, exact for every value.
      const h = view(Uint16Array);
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = h[i] << 16;
      return new Float32Array(bits.buffer);
    }
    case 'F64':
      return Float32Array.from(view(Float64Array));
    case 'I64':
    case 'U64': {
      const src64 = dtype === 'I64' ? view(BigInt64Array) : view(BigUint64Array);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(src64[i]);
      return out;
    }
    case 'I32': return Float32Array.from(view(Int32Array));
    case 'U32': return Float32Array.from(view(Uint32Array));
    case 'I16': return Float32Array.from(view(Int16Array));
    case 'U16': return Float32Array.from(view(Uint16Array));
    case 'I8': return Float32Array.from(view(Int8Array));
    case 'U8': return Float32Array.from(view(Uint8Array));
    case 'BOOL': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = src[i] ? 1 : 0;
      return out;
    }
    case 'F8_E4M3':
    case 'F8_E5M2': {
      const t = dtype === 'F8_E4M3' ? e4m3() : e5m2();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = t[src[i]];
      return out;
    }
  }
}
