// The model call the CFG wrapper drives: one ONNX U-Net run per (sub-)batch. Each latent sample may
// carry several conditioning entries (ConditioningCombine); like ComfyUI's calc_cond_batch every
// entry becomes a row of the batch and the predictions are averaged by strength.
import type { ModelCall } from '../sampling';
import type { Tensor } from '../tensor';
import { interpolate } from '../image/resize';
import type { Conditioning } from './modelTypes';
import type { SdModel } from './modelTypes';

interface Row {
  sample: number;
  cond: Tensor;
  weight: number;
  concatLatent?: Tensor;
  concatMask?: Tensor;
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
  const [, c, h, w] = latentShape;
  const per = c * h * w;
  const plane = h * w;
  const extra = model.inChannels - c;
  if (extra !== 0 && extra !== 5) {
    throw new Error(`the U-Net of '${model.name}' takes ${model.inChannels} channels; Marble supports 4 (normal) and 9 (inpainting)`);
  }
  // The conditioning rows are the same objects on every step: stack them once, so the array (and
  // its fp16 copy for fp16-IO U-Nets) is reused instead of rebuilt per step.
  let lastConds: Tensor[] = [];
  let lastStack: Tensor | undefined;
  const crossAttnFor = (conds: Tensor[]): Tensor => {
    if (!lastStack || conds.length !== lastConds.length || conds.some((c, i) => c !== lastConds[i])) {
      lastStack = stackCrossAttn(conds);
      lastConds = conds;
    }
    return lastStack;
  };
  return async ({ x, batch, timestep, conds }) => {
    const rows: Row[] = [];
    for (let k = 0; k < batch; k++) {
      for (const [cond, extras] of conds[k]) {
        rows.push({ sample: k, cond, weight: extras.strength ?? 1, concatLatent: extras.concat_latent_image, concatMask: extras.concat_mask });
      }
    }
    const channels = model.inChannels;
    const sample = new Float32Array(rows.length * channels * plane);
    rows.forEach((row, r) => {
      const base = r * channels * plane;
      sample.set(x.subarray(row.sample * per, (row.sample + 1) * per), base);
      if (extra === 0) return;
      // 9-channel inpainting U-Net input: latent ‖ mask ‖ masked-image latent (in model space).
      const maskDst = sample.subarray(base + per, base + per + plane);
      if (row.concatMask) maskDst.set(maskToLatent(row.concatMask, 1, h, w));
      else if (inpaint?.mask) {
        const item = row.sample % (inpaint.mask.length / plane);
        maskDst.set(inpaint.mask.subarray(item * plane, (item + 1) * plane));
      }
      else maskDst.fill(1);
      // ComfyUI's concat_cond rounds the resized mask: the U-Net was trained on a binary mask.
      const hasMask = !!(row.concatMask || inpaint?.mask);
      if (hasMask) for (let i = 0; i < plane; i++) maskDst[i] = roundHalfEven(maskDst[i]);
      const imgDst = sample.subarray(base + per + plane, base + 2 * per + plane);
      if (!hasMask) {
        // No mask anywhere (txt2img on an inpainting model): ComfyUI's blank_inpaint_image_like.
        for (let k = 0; k < c; k++) imgDst.fill(BLANK_INPAINT_LATENT[k] ?? 0, k * plane, (k + 1) * plane);
      } else if (row.concatLatent) {
        const src = row.concatLatent.data;
        const n = src.length / per;
        const item = src.subarray((row.sample % n) * per, (row.sample % n) * per + per);
        for (let i = 0; i < per; i++) imgDst[i] = item[i] * model.latentScale;
      } else if (inpaint) {
        imgDst.set(inpaint.latentIn.subarray(row.sample * per, (row.sample + 1) * per));
      }
    });
    const ehs = crossAttnFor(rows.map((r) => r.cond));
    const out = await model.unet.run({
      sample: { data: sample, shape: [rows.length, channels, h, w] },
      timestep: { timestep, batch: rows.length },
      encoder_hidden_states: ehs,
    }, ['out_sample']);
    const pred = out.out_sample.data;
    if (pred.length !== rows.length * per) {
      throw new Error(`the U-Net of '${model.name}' returned ${pred.length} values for ${rows.length} samples of ${per}; expected out_sample [N, ${c}, ${h}, ${w}]`);
    }
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
}
