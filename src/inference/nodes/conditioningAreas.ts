// Conditioning areas and masks the way ComfyUI's KSampler prepares them before the first step
// (comfy/samplers.py: resolve_areas_and_cond_masks_multidim, calculate_start_end_timesteps,
// create_cond_with_same_area_if_none) and the per-element weights get_area_and_mult gives them.
// Everything here depends only on the latent size, so it is computed once per sampling run and the
// per-step code (unetCall.ts) only crops, runs and accumulates.
import { interpolate } from '../image/resize';
import type { Tensor } from '../tensor';
import type { Conditioning, ConditioningExtras } from './modelTypes';

export type AreaTuple = readonly [number, number, number, number];

/** The region of the latent one entry's U-Net call sees. */
export interface Crop {
  h: number;
  w: number;
  y: number;
  x: number;
}

export interface AreaEntry {
  /** Cross-attention input: the entry's own, or for an equal-area copy the opposite list's. */
  cond: Tensor;
  /** Where the other model inputs come from (inpainting concat latent/mask), same source as `cond`. */
  modelExtras: ConditioningExtras;
  /** [h, w, y, x] as ComfyUI stores it (unclamped): what equal-area copies compare. */
  area?: AreaTuple;
  /** The area clamped to the latent, or the whole latent. */
  crop: Crop;
  /** Crop-sized weights, one plane per mask batch item (one without a mask); equal on every channel. */
  mults: Float32Array[];
  /** The entry applies while sigmaEnd ≤ σ ≤ sigmaStart (ComfyUI's timestep_start/end, in σ). */
  sigmaStart?: number;
  sigmaEnd?: number;
  /** Has an area, a mask or a step range: weighted in x0 space. Plain entries keep the eps average. */
  special: boolean;
  strength: number;
}

export interface LatentDims {
  batch: number;
  height: number;
  width: number;
}

/** The part of ModelSampling used here (ComfyUI's model_sampling.percent_to_sigma). */
export interface PercentToSigma {
  percentToSigma(percent: number): number;
}

interface Pending {
  cond: Tensor;
  extras: ConditioningExtras;
  modelExtras: ConditioningExtras;
  area?: AreaTuple;
  /** Mask resized to the latent: [maskBatch, height, width]. */
  mask?: Float32Array;
  maskBatch: number;
}

/** Latent-unit fuzz of an area's inner edges (get_area_and_mult's `fuzz = 8`). */
const EDGE_FUZZ = 8;

const isSpecial = (e: ConditioningExtras): boolean =>
  e.area !== undefined || e.mask !== undefined || e.start_percent !== undefined || e.end_percent !== undefined;

/** True when any entry of either list needs the area path; plain lists run exactly as before. */
export function needsAreaPath(...lists: (Conditioning | null)[]): boolean {
  return lists.some((l) => l?.some(([, extras]) => isSpecial(extras)));
}

function checkArea(a: readonly number[], who: string): AreaTuple {
  if (a.length !== 4 || a.some((v) => !Number.isInteger(v))) throw new Error(`${who}: area must be 4 integers [height, width, y, x] in latent units, got [${a.join(', ')}]`);
  if (a[0] < 1 || a[1] < 1 || a[2] < 0 || a[3] < 0) throw new Error(`${who}: area [${a.join(', ')}] needs a positive size and a non-negative position`);
  return [a[0], a[1], a[2], a[3]];
}

/** MASK [H,W], [B,H,W] or [B,1,H,W] → [B,height,width], bilinear like common_upscale(…, 'bilinear'). */
function maskToDims(mask: Tensor, dims: LatentDims, who: string): { data: Float32Array; batch: number } {
  const s = mask.shape;
  if (!(mask.data instanceof Float32Array) || s.length < 2 || s.length > 4 || (s.length === 4 && s[1] !== 1)) {
    throw new Error(`${who}: mask must be a MASK [batch, height, width], got shape [${s.join(', ')}]`);
  }
  const [mh, mw] = s.slice(-2);
  const batch = mask.data.length / (mh * mw);
  if (mh === dims.height && mw === dims.width) return { data: mask.data, batch };
  const resized = interpolate({ data: mask.data, shape: [batch, 1, mh, mw] }, dims.height, dims.width, 'bilinear');
  return { data: resized.data, batch };
}

/** set_area_to_bounds: the bounding box of non-zero mask elements over the batch, at least 8×8. */
function maskBounds(mask: Float32Array, batch: number, dims: LatentDims): AreaTuple {
  const { height: H, width: W } = dims;
  let y0 = H;
  let x0 = W;
  let y1 = -1;
  let x1 = -1;
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if (mask[b * H * W + y * W + x] === 0) continue;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
      }
    }
  }
  // An all-zero mask weighs nothing anyway; ComfyUI runs the smallest crop it allows.
  if (y1 < 0) return [8, 8, 0, 0];
  return [Math.max(8, y1 - y0 + 1), Math.max(8, x1 - x0 + 1), y0, x0];
}

function resolveMasks(list: Conditioning, dims: LatentDims, name: string): Pending[] {
  return list.map(([cond, extras], i) => {
    const who = `${name} conditioning entry ${i + 1}`;
    const p: Pending = { cond, extras, modelExtras: extras, maskBatch: 1 };
    if (extras.area !== undefined) p.area = checkArea(extras.area, who);
    if (extras.mask !== undefined) {
      const m = maskToDims(extras.mask, dims, who);
      p.mask = m.data;
      p.maskBatch = m.batch;
      if (extras.set_area_to_bounds) p.area = maskBounds(m.data, m.batch, dims);
    }
    return p;
  });
}

/** `a` lies inside `b` (both [h, w, y, x]): create_cond_with_same_area_if_none's area_inside. */
const areaInside = (a: AreaTuple, b: AreaTuple): boolean =>
  a[2] >= b[2] && a[3] >= b[3] && a[0] + a[2] <= b[0] + b[2] && a[1] + a[3] <= b[1] + b[3];

const sameArea = (a: AreaTuple, b: AreaTuple): boolean => a.every((v, i) => v === b[i]);

/**
 * Gives `into` an entry with c's area, mask, strength and range but the prompt (model inputs) of
 * the smallest entry of `into` covering that area, unless that one already has the same area.
 */
function addEqualArea(into: Pending[], c: Pending): void {
  if (!c.area) return;
  let smallest: Pending | undefined;
  for (const x of into) {
    if (x.area) {
      if (!areaInside(c.area, x.area)) continue;
      if (!smallest || !smallest.area || smallest.area[0] * smallest.area[1] > x.area[0] * x.area[1]) smallest = x;
    } else if (!smallest) {
      smallest = x;
    }
  }
  if (!smallest || (smallest.area && sameArea(smallest.area, c.area))) return;
  into.push({ ...c, cond: smallest.cond, modelExtras: smallest.modelExtras });
}

function featherAxis(mult: Float32Array, cw: number, along: 'y' | 'x', size: number, start: number, full: number): void {
  const rr = Math.min(EDGE_FUZZ, Math.floor(size / 4));
  const lines = (t: number, f: number) => {
    const scale = Math.fround(f);
    if (along === 'y') for (let i = 0; i < cw; i++) mult[t * cw + i] = Math.fround(mult[t * cw + i] * scale);
    else for (let i = 0; i < mult.length / cw; i++) mult[i * cw + t] = Math.fround(mult[i * cw + t] * scale);
  };
  // Only edges inside the latent fade in; an edge on the border of the image keeps full weight.
  if (start !== 0) for (let t = 0; t < rr; t++) lines(t, (1 / rr) * (t + 1));
  if (start + size < full) for (let t = 0; t < rr; t++) lines(size - 1 - t, (1 / rr) * (t + 1));
}

function finish(p: Pending, dims: LatentDims, ms: PercentToSigma, who: string): AreaEntry {
  const { extras } = p;
  const strength = extras.strength ?? 1;
  const crop: Crop = { h: dims.height, w: dims.width, y: 0, x: 0 };
  if (p.area) {
    const [ah, aw, ay, ax] = p.area;
    crop.h = Math.min(dims.height - ay, ah);
    crop.w = Math.min(dims.width - ax, aw);
    crop.y = ay;
    crop.x = ax;
    if (crop.h <= 0 || crop.w <= 0) {
      throw new Error(`${who}: the area at x ${ax * 8}, y ${ay * 8} (pixels) lies outside the ${dims.width * 8}×${dims.height * 8} image`);
    }
  }
  const cplane = crop.h * crop.w;
  const mults: Float32Array[] = [];
  if (p.mask) {
    const used = Math.min(p.maskBatch, dims.batch);
    if (dims.batch % used !== 0) throw new Error(`${who}: a mask batch of ${p.maskBatch} does not fit a latent batch of ${dims.batch}`);
    const maskStrength = Math.fround(extras.mask_strength ?? 1);
    const plane = dims.height * dims.width;
    for (let b = 0; b < used; b++) {
      const m = new Float32Array(cplane);
      for (let y = 0; y < crop.h; y++) {
        for (let x = 0; x < crop.w; x++) {
          const v = Math.fround(p.mask[b * plane + (crop.y + y) * dims.width + crop.x + x] * maskStrength);
          m[y * crop.w + x] = Math.fround(v * Math.fround(strength));
        }
      }
      mults.push(m);
    }
  } else {
    const m = new Float32Array(cplane).fill(Math.fround(strength));
    if (p.area) {
      featherAxis(m, crop.w, 'y', crop.h, crop.y, dims.height);
      featherAxis(m, crop.w, 'x', crop.w, crop.x, dims.width);
    }
    mults.push(m);
  }
  return {
    cond: p.cond, modelExtras: p.modelExtras, area: p.area, crop, mults, strength, special: isSpecial(extras),
    sigmaStart: extras.start_percent !== undefined ? ms.percentToSigma(extras.start_percent) : undefined,
    sigmaEnd: extras.end_percent !== undefined ? ms.percentToSigma(extras.end_percent) : undefined,
  };
}

/**
 * ComfyUI's process_conds for areas, masks and step ranges: masks resized to the latent, "mask
 * bounds" turned into an area, and each area given an opposite of equal area (positive → negative,
 * then negative → positive, the copies included, as its loops do).
 */
export function resolveAreaConds(
  positive: Conditioning, negative: Conditioning | null, dims: LatentDims, ms: PercentToSigma,
): { positive: AreaEntry[]; negative: AreaEntry[] | null } {
  const pos = resolveMasks(positive, dims, 'positive');
  const neg = negative ? resolveMasks(negative, dims, 'negative') : null;
  if (neg) {
    for (const c of [...pos]) addEqualArea(neg, c);
    for (const c of [...neg]) addEqualArea(pos, c);
  }
  return {
    positive: pos.map((p, i) => finish(p, dims, ms, `positive conditioning entry ${i + 1}`)),
    negative: neg ? neg.map((p, i) => finish(p, dims, ms, `negative conditioning entry ${i + 1}`)) : null,
  };
}
