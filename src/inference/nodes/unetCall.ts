// The model call the CFG wrapper drives: one ONNX U-Net run per (sub-)batch. Each latent sample may
// carry several conditioning entries (ConditioningCombine); like ComfyUI's calc_cond_batch every
// entry becomes a row of the batch and the predictions are averaged by strength. Entries with an
// area, a mask or a step range take ComfyUI's area path instead: the U-Net runs on the area's crop
// of x (equal crop sizes share a run) and the x0 predictions are weighted element by element.
import type { FeedValue } from '../ort/ioAdapter';
import type { ModelCall, ModelCallInput } from '../sampling';
import type { Tensor } from '../tensor';
import { interpolate } from '../image/resize';
import { needsAreaPath, resolveAreaConds, type AreaEntry } from './conditioningAreas';
import type { Conditioning, ConditioningExtras } from './modelTypes';
import type { SdModel } from './modelTypes';

interface Row {
  sample: number;
  cond: Tensor;
  weight: number;
  extras: ConditioningExtras;
}

/** A black (pixel 0) image in SD1.x model latent space, per channel: ComfyUI's blank_inpaint_image_like. */
const BLANK_INPAINT_LATENT = [0.8223, -0.6876, 0.6364, 0.138];

/** torch.round: halves go to the even neighbour (a mask edge resized by bilinear lands on 0.5). */
const roundHalfEven = (v: number): number => (v - Math.floor(v) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v));

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * Cross-attention inputs of different lengths (a long prompt against a short negative) share a
 * batch by repeating each to the least common multiple, as ComfyUI's CONDCrossAttn.concat does:
 * attention over a repeated key set gives the same result as over the original.
 */
function stackCrossAttn(conds: Tensor[]): Tensor {
  const dim = conds[0].shape[2];
  for (const c of conds) {
    if (c.shape[2] !== dim) throw new Error(`KSampler: conditioning widths differ (${dim} vs ${c.shape[2]}): the prompts come from different text encoders`);
  }
  const lens = conds.map((c) => c.shape[1]);
  const lcm = lens.reduce((a, b) => (a * b) / gcd(a, b));
  const out = new Float32Array(conds.length * lcm * dim);
  conds.forEach((c, i) => {
    const one = c.shape[1] * dim;
    for (let r = 0; r < lcm / c.shape[1]; r++) out.set(c.data.subarray(0, one), i * lcm * dim + r * one);
  });
  return { data: out, shape: [conds.length, lcm, dim] };
}

export interface InpaintInputs {
  /** The sampling latent in model space [B,4,h,w]: the masked-image channels when no concat latent is given. */
  latentIn: Float32Array;
  /** Denoise mask at latent size [B,1,h,w], or undefined (then the mask channel is all ones). */
  mask?: Float32Array;
}

/** Resizes a [B,1,H,W]-compatible mask tensor to the latent size (bilinear, as ComfyUI). */
export function maskToLatent(mask: Tensor, batch: number, h: number, w: number): Float32Array {
  const [mh, mw] = mask.shape.slice(-2);
  const mb = mask.data.length / (mh * mw);
  const resized = mh === h && mw === w ? mask.data : interpolate({ data: mask.data, shape: [mb, 1, mh, mw] }, h, w, 'bilinear').data;
  const out = new Float32Array(batch * h * w);
  for (let b = 0; b < batch; b++) out.set(resized.subarray((b % mb) * h * w, ((b % mb) + 1) * h * w), b * h * w);
  return out;
}

export function createUnetCall(model: SdModel, latentShape: readonly number[], inpaint?: InpaintInputs): ModelCall<Conditioning> {
  const [batchSize, c, h, w] = latentShape;
  const per = c * h * w;
  const plane = h * w;
  const extra = model.inChannels - c;
  if (extra !== 0 && extra !== 5) {
    throw new Error(`the U-Net of '${model.name}' takes ${model.inChannels} channels; Marble supports 4 (normal) and 9 (inpainting)`);
  }
  const channels = model.inChannels;
  // The conditioning rows are the same objects on every step: stack them once, so the array (and
  // its fp16 copy for fp16-IO U-Nets) is reused instead of rebuilt per step. Area runs alternate
  // between row sets within a step, hence a few remembered stacks rather than one.
  const tensorIds = new WeakMap<Tensor, number>();
  let nextId = 0;
  const stacks = new Map<string, Tensor>();
  const crossAttnFor = (conds: Tensor[]): Tensor => {
    const key = conds.map((t) => {
      let id = tensorIds.get(t);
      if (id === undefined) tensorIds.set(t, (id = nextId++));
      return id;
    }).join(',');
    let stack = stacks.get(key);
    if (!stack) {
      if (stacks.size >= 8) stacks.clear();
      stack = stackCrossAttn(conds);
      stacks.set(key, stack);
    }
    return stack;
  };

  /** Channels 4‥8 of a 9-channel row (`dst` is the whole row, the latent already in channels 0‥3). */
  const fillInpaint = (dst: Float32Array, item: number, extras: ConditioningExtras) => {
    // 9-channel inpainting U-Net input: latent ‖ mask ‖ masked-image latent (in model space).
    const maskDst = dst.subarray(per, per + plane);
    if (extras.concat_mask) maskDst.set(maskToLatent(extras.concat_mask, 1, h, w));
    else if (inpaint?.mask) {
      const i = item % (inpaint.mask.length / plane);
      maskDst.set(inpaint.mask.subarray(i * plane, (i + 1) * plane));
    }
    else maskDst.fill(1);
    // ComfyUI's concat_cond rounds the resized mask: the U-Net was trained on a binary mask.
    const hasMask = !!(extras.concat_mask || inpaint?.mask);
    if (hasMask) for (let i = 0; i < plane; i++) maskDst[i] = roundHalfEven(maskDst[i]);
    const imgDst = dst.subarray(per + plane, 2 * per + plane);
    if (!hasMask) {
      // No mask anywhere (txt2img on an inpainting model): ComfyUI's blank_inpaint_image_like.
      for (let k = 0; k < c; k++) imgDst.fill(BLANK_INPAINT_LATENT[k] ?? 0, k * plane, (k + 1) * plane);
    } else if (extras.concat_latent_image) {
      const src = extras.concat_latent_image.data;
      const n = src.length / per;
      const one = src.subarray((item % n) * per, (item % n) * per + per);
      for (let i = 0; i < per; i++) imgDst[i] = one[i] * model.latentScale;
    } else if (inpaint) {
      imgDst.set(inpaint.latentIn.subarray(item * per, (item + 1) * per));
    }
  };

  /** SDXL's text_embeds/time_ids rows, from each entry's resolved ADM inputs (runSampler's sdxlAdm). */
  const sdxlFeeds = (extras: ConditioningExtras[]): Record<string, FeedValue> => {
    if (!model.sdxl) return {};
    const { pooledDim, timeValues } = model.sdxl;
    const n = extras.length;
    const textEmbeds = new Float32Array(n * pooledDim);
    const timeIds = new Float32Array(n * timeValues);
    extras.forEach((e, r) => {
      if (!e.sdxl_adm) throw new Error(`model '${model.name}' is SDXL and a conditioning entry reached it without its size conditioning`);
      textEmbeds.set(e.sdxl_adm.textEmbeds, r * pooledDim);
      timeIds.set(e.sdxl_adm.timeIds, r * timeValues);
    });
    return { text_embeds: { data: textEmbeds, shape: [n, pooledDim] }, time_ids: { data: timeIds, shape: [n, timeValues] } };
  };

  /** One U-Net run on n rows of ch×cw latents; returns out_sample. */
  const predict = async (sample: Float32Array, n: number, ch: number, cw: number, conds: Tensor[], extras: ConditioningExtras[], timestep: number): Promise<Float32Array> => {
    let out;
    try {
      out = await model.unet.run({
        sample: { data: sample, shape: [n, channels, ch, cw] },
        timestep: { timestep, batch: n },
        encoder_hidden_states: crossAttnFor(conds),
        ...sdxlFeeds(extras),
      }, ['out_sample']);
    } catch (e) {
      if (ch === h && cw === w) throw e;
      throw new Error(`the U-Net of '${model.name}' failed on a ${cw * 8}×${ch * 8}-pixel conditioning area (${cw}×${ch} latent): ${(e as Error).message}`);
    }
    const pred = out.out_sample.data;
    if (pred.length !== n * c * ch * cw) {
      throw new Error(`the U-Net of '${model.name}' returned ${pred.length} values for ${n} samples of ${c * ch * cw}; expected out_sample [N, ${c}, ${ch}, ${cw}]`);
    }
    return pred;
  };

  const plainCall = async ({ x, batch, timestep, conds }: ModelCallInput<Conditioning>): Promise<Float32Array> => {
    const rows: Row[] = [];
    for (let k = 0; k < batch; k++) {
      for (const [cond, extras] of conds[k]) rows.push({ sample: k, cond, weight: extras.strength ?? 1, extras });
    }
    const sample = new Float32Array(rows.length * channels * plane);
    rows.forEach((row, r) => {
      const base = r * channels * plane;
      sample.set(x.subarray(row.sample * per, (row.sample + 1) * per), base);
      if (extra !== 0) fillInpaint(sample.subarray(base, base + channels * plane), row.sample, row.extras);
    });
    const pred = await predict(sample, rows.length, h, w, rows.map((r) => r.cond), rows.map((r) => r.extras), timestep);
    const result = new Float32Array(batch * per);
    const weights = new Float64Array(batch);
    rows.forEach((row, r) => {
      const dst = result.subarray(row.sample * per, (row.sample + 1) * per);
      const src = pred.subarray(r * per, (r + 1) * per);
      for (let i = 0; i < per; i++) dst[i] += src[i] * row.weight;
      weights[row.sample] += row.weight;
    });
    for (let k = 0; k < batch; k++) {
      if (weights[k] !== 1 && weights[k] !== 0) {
        const dst = result.subarray(k * per, (k + 1) * per);
        for (let i = 0; i < per; i++) dst[i] /= weights[k];
      }
    }
    return result;
  };

  // ComfyUI's calc_cond_batch for lists with areas/masks/step ranges: x0 = Σ mult·x0ᵢ / (Σ mult + 1e-37),
  // in float32 like torch, so an element no entry covers gets x0 = 0.
  const areaCall = async (input: ModelCallInput<Conditioning>, lists: AreaEntry[][]): Promise<{ denoised: Float32Array }> => {
    const { x, batch, sigma, timestep, samples, xUnscaled } = input;
    const groups = new Map<string, { k: number; e: AreaEntry }[]>();
    for (let k = 0; k < batch; k++) {
      for (const e of lists[k]) {
        if (e.sigmaStart !== undefined && sigma > e.sigmaStart) continue;
        if (e.sigmaEnd !== undefined && sigma < e.sigmaEnd) continue;
        const key = `${e.crop.h}x${e.crop.w}`;
        let g = groups.get(key);
        if (!g) groups.set(key, (g = []));
        g.push({ k, e });
      }
    }
    const acc = new Float32Array(batch * per);
    const counts = new Float32Array(batch * plane).fill(1e-37);
    const full = extra !== 0 ? new Float32Array(channels * plane) : undefined;
    for (const rows of groups.values()) {
      const { h: ch, w: cw } = rows[0].e.crop;
      const cplane = ch * cw;
      const rowSize = channels * cplane;
      const sample = new Float32Array(rows.length * rowSize);
      rows.forEach(({ k, e }, r) => {
        let src = x.subarray(k * per, (k + 1) * per);
        if (full) {
          full.set(src, 0);
          fillInpaint(full, samples[k], e.modelExtras);
          src = full;
        }
        cropInto(src, channels, w, e.crop, sample.subarray(r * rowSize, (r + 1) * rowSize));
      });
      const pred = await predict(sample, rows.length, ch, cw, rows.map((r) => r.e.cond), rows.map((r) => r.e.modelExtras), timestep);
      const xCrop = new Float32Array(c * cplane);
      const d = new Float32Array(c * cplane);
      // ComfyUI pops a batch from the back of its list, so it accumulates in reverse order.
      for (let r = rows.length - 1; r >= 0; r--) {
        const { k, e } = rows[r];
        const { y: oy, x: ox } = e.crop;
        cropInto(xUnscaled.subarray(k * per, (k + 1) * per), c, w, e.crop, xCrop);
        model.modelSampling.calculateDenoised(sigma, pred.subarray(r * c * cplane, (r + 1) * c * cplane), xCrop, d);
        const mult = e.mults.length === 1 ? e.mults[0] : e.mults[samples[k] % e.mults.length];
        for (let yy = 0; yy < ch; yy++) {
          for (let xx = 0; xx < cw; xx++) {
            const m = mult[yy * cw + xx];
            const at = (oy + yy) * w + ox + xx;
            counts[k * plane + at] += m;
            for (let q = 0; q < c; q++) acc[k * per + q * plane + at] += Math.fround(d[q * cplane + yy * cw + xx] * m);
          }
        }
      }
    }
    for (let k = 0; k < batch; k++) {
      for (let q = 0; q < c; q++) {
        for (let i = 0; i < plane; i++) acc[k * per + q * plane + i] /= counts[k * plane + i];
      }
    }
    return { denoised: acc };
  };

  // Resolved lists by the Conditioning object the CFG wrapper passes back on every call.
  const resolved = new WeakMap<Conditioning, AreaEntry[]>();
  const dims = { batch: batchSize, height: h, width: w };
  const register = (entries: AreaEntry[]): Conditioning => {
    const list: Conditioning = entries.map((e) => [e.cond, e.modelExtras]);
    resolved.set(list, entries);
    return list;
  };

  const resolveAlone = (cond: Conditioning): AreaEntry[] => {
    // Reached without prepareConds (or a plain list beside an area one): this list alone, no opposite-area copies.
    const alone = resolveAreaConds(cond, null, dims, model.modelSampling).positive;
    resolved.set(cond, alone);
    return alone;
  };
  const call: ModelCall<Conditioning> = async (input) => {
    const lists = input.conds.map((cond) => resolved.get(cond) ?? (needsAreaPath(cond) ? resolveAlone(cond) : undefined));
    if (lists.every((l) => !l)) return plainCall(input);
    return areaCall(input, lists.map((l, k) => l ?? resolveAlone(input.conds[k])));
  };
  call.prepareConds = (positive, negative) => {
    if (!needsAreaPath(positive, negative)) return { positive, negative };
    const r = resolveAreaConds(positive, negative, dims, model.modelSampling);
    return { positive: register(r.positive), negative: r.negative ? register(r.negative) : null };
  };
  return call;
}

/** Copies the crop of a [channels, H, W] row (row width `w`) into `dst` [channels, crop.h, crop.w]. */
function cropInto(src: Float32Array, channels: number, w: number, crop: { h: number; w: number; y: number; x: number }, dst: Float32Array): void {
  const srcPlane = src.length / channels;
  const cplane = crop.h * crop.w;
  for (let q = 0; q < channels; q++) {
    for (let y = 0; y < crop.h; y++) {
      const from = q * srcPlane + (crop.y + y) * w + crop.x;
      dst.set(src.subarray(from, from + crop.w), q * cplane + y * crop.w);
    }
  }
}
