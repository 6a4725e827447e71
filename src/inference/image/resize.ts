// Resizing of float planes ([N,C,H,W]) the way ComfyUI's `comfy.utils.common_upscale` does with
// torch: `interpolate(mode=nearest-exact|bilinear|bicubic|area)` with align_corners=False and no
// antialiasing, plus ComfyUI's own `bislerp`. Working on float tensors (not 8-bit via sharp) keeps
// latents exact and images free of an extra quantisation; only `lanczos` goes through 8-bit
// pixels, as ComfyUI's does through PIL (see `resizeImageLanczos` in sharpIo.ts).
import { checkAllocation, tensor, type Tensor } from '../tensor';
import { pyRound } from './convert';

export const FLOAT_UPSCALE_METHODS = ['nearest-exact', 'bilinear', 'area', 'bicubic', 'bislerp'] as const;
export type FloatUpscaleMethod = (typeof FLOAT_UPSCALE_METHODS)[number];
export type CropMode = 'disabled' | 'center';

/** Per output index: `k` source indices and weights along one axis. */
interface AxisTaps {
  k: number;
  index: Int32Array;
  weight: Float64Array;
}

const CUBIC_A = -0.75; // torch's bicubic coefficient

function cubic1(x: number): number {
  return ((CUBIC_A + 2) * x - (CUBIC_A + 3)) * x * x + 1;
}
function cubic2(x: number): number {
  return ((CUBIC_A * x - 5 * CUBIC_A) * x + 8 * CUBIC_A) * x - 4 * CUBIC_A;
}

function axisTaps(inLen: number, outLen: number, method: Exclude<FloatUpscaleMethod, 'bislerp'>): AxisTaps {
  const scale = inLen / outLen;
  if (method === 'area') {
    // adaptive_avg_pool: output o averages [floor(o*in/out), ceil((o+1)*in/out)).
    let k = 0;
    for (let o = 0; o < outLen; o++) {
      const start = Math.floor((o * inLen) / outLen);
      const end = Math.ceil(((o + 1) * inLen) / outLen);
      k = Math.max(k, end - start);
    }
    const index = new Int32Array(outLen * k);
    const weight = new Float64Array(outLen * k);
    for (let o = 0; o < outLen; o++) {
      const start = Math.floor((o * inLen) / outLen);
      const end = Math.ceil(((o + 1) * inLen) / outLen);
      for (let j = 0; j < end - start; j++) {
        index[o * k + j] = start + j;
        weight[o * k + j] = 1 / (end - start);
      }
    }
    return { k, index, weight };
  }
  const k = method === 'nearest-exact' ? 1 : method === 'bilinear' ? 2 : 4;
  const index = new Int32Array(outLen * k);
  const weight = new Float64Array(outLen * k);
  for (let o = 0; o < outLen; o++) {
    const at = o * k;
    if (method === 'nearest-exact') {
      index[at] = Math.min(Math.floor((o + 0.5) * scale), inLen - 1);
      weight[at] = 1;
    } else if (method === 'bilinear') {
      const src = Math.max(scale * (o + 0.5) - 0.5, 0);
      const i0 = Math.floor(src);
      const l1 = src - i0;
      index[at] = i0;
      index[at + 1] = i0 < inLen - 1 ? i0 + 1 : i0;
      weight[at] = 1 - l1;
      weight[at + 1] = l1;
    } else {
      const src = scale * (o + 0.5) - 0.5; // torch does not clamp the cubic source index
      const i0 = Math.floor(src);
      const t = src - i0;
      const w = [cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)];
      for (let j = 0; j < 4; j++) {
        index[at + j] = Math.min(Math.max(i0 - 1 + j, 0), inLen - 1);
        weight[at + j] = w[j];
      }
    }
  }
  return { k, index, weight };
}

/** Resamples `planes` contiguous H×W planes along W, then along H (the filters are separable). */
function resizePlanes(src: Float32Array, planes: number, h: number, w: number, outH: number, outW: number,
  method: Exclude<FloatUpscaleMethod, 'bislerp'>): Float32Array {
  const tw = axisTaps(w, outW, method);
  const th = axisTaps(h, outH, method);
  const mid = new Float32Array(planes * h * outW);
  for (let p = 0; p < planes; p++) {
    for (let y = 0; y < h; y++) {
      const row = (p * h + y) * w;
      const dst = (p * h + y) * outW;
      for (let x = 0; x < outW; x++) {
        let acc = 0;
        for (let j = 0; j < tw.k; j++) acc += src[row + tw.index[x * tw.k + j]] * tw.weight[x * tw.k + j];
        mid[dst + x] = acc;
      }
    }
  }
  const out = new Float32Array(planes * outH * outW);
  for (let p = 0; p < planes; p++) {
    const base = p * h * outW;
    for (let y = 0; y < outH; y++) {
      const dst = (p * outH + y) * outW;
      for (let j = 0; j < th.k; j++) {
        const wgt = th.weight[y * th.k + j];
        if (wgt === 0) continue;
        const row = base + th.index[y * th.k + j] * outW;
        for (let x = 0; x < outW; x++) out[dst + x] += mid[row + x] * wgt;
      }
    }
  }
  return out;
}

/** torch.nn.functional.interpolate(t, size=(outH, outW), mode) for a [N,C,H,W] tensor. */
export function interpolate(t: Tensor, outH: number, outW: number, method: Exclude<FloatUpscaleMethod, 'bislerp'>): Tensor {
  const [n, c, h, w] = checkNchw(t, outH, outW);
  return tensor([n, c, outH, outW], resizePlanes(t.data, n * c, h, w, outH, outW, method));
}

function checkNchw(t: Tensor, outH: number, outW: number): number[] {
  if (t.shape.length !== 4) throw new Error(`resize: expected a [N,C,H,W] tensor, got shape [${t.shape.join(', ')}]`);
  if (!Number.isInteger(outH) || !Number.isInteger(outW) || outH < 1 || outW < 1) {
    throw new Error(`resize: target size must be at least 1×1, got ${outW}×${outH}`);
  }
  return [...t.shape];
}

// ---- bislerp: ComfyUI's spherical interpolation of per-pixel channel vectors ----------------

/** Source pairs and ratios for one axis: torch bilinear of arange (ComfyUI generate_bilinear_data). */
function slerpAxis(inLen: number, outLen: number): { i1: Int32Array; i2: Int32Array; r: Float64Array } {
  const scale = inLen / outLen;
  const i1 = new Int32Array(outLen), i2 = new Int32Array(outLen), r = new Float64Array(outLen);
  for (let o = 0; o < outLen; o++) {
    const src = Math.min(Math.max(scale * (o + 0.5) - 0.5, 0), inLen - 1);
    i1[o] = Math.floor(src);
    r[o] = src - i1[o];
    i2[o] = Math.min(i1[o] + 1, inLen - 1);
  }
  return { i1, i2, r };
}

function slerpInto(out: Float64Array, a: Float64Array, b: Float64Array, r: number): void {
  const c = a.length;
  let na = 0, nb = 0;
  for (let i = 0; i < c; i++) { na += a[i] * a[i]; nb += b[i] * b[i]; }
  na = Math.sqrt(na); nb = Math.sqrt(nb);
  let dot = 0;
  for (let i = 0; i < c; i++) dot += (na === 0 ? 0 : a[i] / na) * (nb === 0 ? 0 : b[i] / nb);
  if (dot > 1 - 1e-5) { out.set(a); return; }
  if (dot < 1e-5 - 1) { for (let i = 0; i < c; i++) out[i] = a[i] * (1 - r) + b[i] * r; return; }
  const omega = Math.acos(dot);
  const so = Math.sin(omega);
  const fa = Math.sin((1 - r) * omega) / so, fb = Math.sin(r * omega) / so;
  const mag = na * (1 - r) + nb * r;
  for (let i = 0; i < c; i++) out[i] = (fa * (na === 0 ? 0 : a[i] / na) + fb * (nb === 0 ? 0 : b[i] / nb)) * mag;
}

/** One bislerp pass along W of [N,C,H,W] (the H pass transposes around it). */
function bislerpW(src: Float32Array, n: number, c: number, h: number, w: number, outW: number): Float32Array {
  const { i1, i2, r } = slerpAxis(w, outW);
  const out = new Float32Array(n * c * h * outW);
  const a = new Float64Array(c), b = new Float64Array(c), res = new Float64Array(c);
  const plane = h * w, outPlane = h * outW;
  for (let bi = 0; bi < n; bi++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < outW; x++) {
        for (let ch = 0; ch < c; ch++) {
          const base = (bi * c + ch) * plane + y * w;
          a[ch] = src[base + i1[x]];
          b[ch] = src[base + i2[x]];
        }
        slerpInto(res, a, b, r[x]);
        for (let ch = 0; ch < c; ch++) out[(bi * c + ch) * outPlane + y * outW + x] = res[ch];
      }
    }
  }
  return out;
}

function transposeHW(src: Float32Array, planes: number, h: number, w: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let p = 0; p < planes; p++) {
    const base = p * h * w;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[base + x * h + y] = src[base + y * w + x];
  }
  return out;
}

/** ComfyUI's bislerp: slerp of channel vectors between the two bilinear neighbours, W then H. */
export function bislerp(t: Tensor, outH: number, outW: number): Tensor {
  const [n, c, h, w] = checkNchw(t, outH, outW);
  const passW = bislerpW(t.data, n, c, h, w, outW);
  const passH = bislerpW(transposeHW(passW, n * c, h, outW), n, c, outW, h, outH);
  return tensor([n, c, outH, outW], transposeHW(passH, n * c, outW, outH));
}

/** ComfyUI's `crop == "center"`: trims the longer side so the aspect matches width/height. */
export function centerCrop(t: Tensor, width: number, height: number): Tensor {
  const [n, c, h, w] = t.shape;
  const oldAspect = w / h, newAspect = width / height;
  let x = 0, y = 0;
  if (oldAspect > newAspect) x = pyRound((w - w * (newAspect / oldAspect)) / 2);
  else if (oldAspect < newAspect) y = pyRound((h - h * (oldAspect / newAspect)) / 2);
  if (x === 0 && y === 0) return t;
  const ch = h - 2 * y, cw = w - 2 * x;
  const out = tensor([n, c, ch, cw]);
  for (let p = 0; p < n * c; p++) {
    for (let row = 0; row < ch; row++) {
      const from = p * h * w + (row + y) * w + x;
      out.data.set(t.data.subarray(from, from + cw), (p * ch + row) * cw);
    }
  }
  return out;
}

/** `comfy.utils.common_upscale` for float methods on a [N,C,H,W] tensor. */
export function commonUpscale(t: Tensor, width: number, height: number, method: string, crop: string): Tensor {
  if (!(FLOAT_UPSCALE_METHODS as readonly string[]).includes(method)) {
    throw new Error(`upscale_method '${method}' is not one of ${FLOAT_UPSCALE_METHODS.join(', ')}`);
  }
  if (crop !== 'disabled' && crop !== 'center') throw new Error(`crop '${crop}' must be 'disabled' or 'center'`);
  checkAllocation(t.shape[0] * t.shape[1] * width * height, `the ${t.shape[0]}×${t.shape[1]} result scaled to ${width}×${height}`);
  const src = crop === 'center' ? centerCrop(t, width, height) : t;
  return method === 'bislerp'
    ? bislerp(src, height, width)
    : interpolate(src, height, width, method as Exclude<FloatUpscaleMethod, 'bislerp'>);
}
