// VAE Decode / Encode over ONNX sessions. LATENT holds raw VAE latents (what diffusers feeds the
// decoder after dividing by scaling_factor), and IMAGE is ComfyUI's [B,H,W,C] in 0..1.
import type { NodeDefinition } from '../../workflow/nodeDefinition';
import { imageDims } from '../image/convert';
import { interpolate } from '../image/resize';
import { checkAllocation, tensor, type Latent, type Tensor } from '../tensor';
import type { ModelServices } from './modelServices';
import { asConditioning, asVae, type Conditioning, type VaeModel } from './modelTypes';
import { schemaOf } from './schema';
import { asLatent } from './sampling';

function decoderOf(vae: VaeModel) {
  if (!vae.decoder) throw new Error(`VAE '${vae.name}' has no decoder (vae_decoder/model.onnx)`);
  return vae.decoder;
}
function encoderOf(vae: VaeModel) {
  if (!vae.encoder) throw new Error(`VAE '${vae.name}' has no encoder (vae_encoder/model.onnx); img2img and inpainting need one`);
  return vae.encoder;
}

/** Decodes [1,4,h,w] raw latents to [1,3,8h,8w] in −1..1 (one image per call: fp16 VAEs misbehave batched). */
async function decodeOne(vae: VaeModel, latent: Float32Array, h: number, w: number): Promise<Tensor> {
  const out = await decoderOf(vae).run({ latent_sample: { data: latent, shape: [1, 4, h, w] } }, ['sample']);
  return out.sample;
}

/** [1,3,H,W] in −1..1 → writes [H,W,3] in 0..1 into `dst` at the given offset. */
function writePixels(src: Tensor, dst: Float32Array, offset: number): void {
  const [, , H, W] = src.shape;
  const plane = H * W;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = (src.data[c * plane + p] + 1) / 2;
      dst[offset + p * 3 + c] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
}

export async function vaeDecode(vae: VaeModel, latent: Latent, services: ModelServices): Promise<Tensor> {
  const [b, c, h, w] = latent.samples.shape;
  if (c !== 4) throw new Error(`input 'samples' has ${c} channels; the VAE decodes 4-channel latents`);
  const per = c * h * w;
  // Refuse before decoding anything: the output is 8× the latent in each direction.
  checkAllocation(b * h * 8 * w * 8 * 3, `VAE Decode output: ${b} × ${w * 8}×${h * 8}`);
  let image: Tensor | undefined;
  for (let i = 0; i < b; i++) {
    const px = await decodeOne(vae, latent.samples.data.subarray(i * per, (i + 1) * per), h, w);
    const [, , H, W] = px.shape;
    image ??= tensor([b, H, W, 3]);
    writePixels(px, image.data, i * H * W * 3);
  }
  if (vae.decoder?.ep) services.onEp({ model: `${vae.name}/vae_decoder`, provider: vae.decoder.ep });
  return image ?? tensor([0, h * 8, w * 8, 3]);
}

/**
 * Tiled decode for large images: overlapping latent tiles decoded one by one and blended with
 * linear ramps over the overlap. ComfyUI averages three passes with different tile shapes; one
 * feathered pass keeps memory bounded the same way and hides seams.
 */
export async function vaeDecodeTiled(vae: VaeModel, latent: Latent, tileSize: number, overlap: number): Promise<Tensor> {
  const [b, c, h, w] = latent.samples.shape;
  const tile = Math.max(8, Math.floor(tileSize / 8));
  const ov = Math.min(Math.floor(overlap / 8), Math.floor(tile / 2));
  const stride = Math.max(1, tile - ov);
  const H = h * 8;
  const W = w * 8;
  const image = tensor([b, H, W, 3], undefined, `VAE Decode (Tiled) output: ${b} × ${W}×${H}`);
  const weight = new Float32Array(H * W);
  const per = c * h * w;
  const starts = (n: number) => {
    const s: number[] = [];
    for (let p = 0; ; p += stride) {
      const start = Math.min(p, Math.max(0, n - tile));
      if (!s.includes(start)) s.push(start);
      if (start + tile >= n) break;
    }
    return s;
  };
  for (let i = 0; i < b; i++) {
    weight.fill(0);
    const acc = new Float32Array(H * W * 3);
    const src = latent.samples.data.subarray(i * per, (i + 1) * per);
    for (const y0 of starts(h)) {
      for (const x0 of starts(w)) {
        const th = Math.min(tile, h - y0);
        const tw = Math.min(tile, w - x0);
        const part = new Float32Array(c * th * tw);
        for (let ch = 0; ch < c; ch++) for (let y = 0; y < th; y++) part.set(src.subarray(ch * h * w + (y0 + y) * w + x0, ch * h * w + (y0 + y) * w + x0 + tw), (ch * th + y) * tw);
        const px = await decodeOne(vae, part, th, tw);
        const PH = th * 8;
        const PW = tw * 8;
        const ramp = ov * 8;
        for (let y = 0; y < PH; y++) {
          const wy = ramp > 0 ? Math.min(1, (Math.min(y, PH - 1 - y) + 1) / ramp) : 1;
          for (let x = 0; x < PW; x++) {
            const wx = ramp > 0 ? Math.min(1, (Math.min(x, PW - 1 - x) + 1) / ramp) : 1;
            const wgt = wy * wx;
            const o = (y0 * 8 + y) * W + x0 * 8 + x;
            weight[o] += wgt;
            for (let ch = 0; ch < 3; ch++) acc[o * 3 + ch] += ((px.data[ch * PH * PW + y * PW + x] + 1) / 2) * wgt;
          }
        }
      }
    }
    const base = i * H * W * 3;
    for (let p = 0; p < H * W; p++) {
      for (let ch = 0; ch < 3; ch++) {
        const v = acc[p * 3 + ch] / weight[p];
        image.data[base + p * 3 + ch] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
    }
  }
  return image;
}

/** ComfyUI's vae_encode_crop_pixels: centre-crop H and W down to multiples of 8. */
function cropTo8(image: Tensor): { data: Float32Array; b: number; h: number; w: number; c: number; y0: number; x0: number } {
  const { b, h, w, c } = imageDims(image, "input 'pixels'");
  const H = Math.floor(h / 8) * 8;
  const W = Math.floor(w / 8) * 8;
  if (H === 0 || W === 0) throw new Error(`input 'pixels' is ${w}×${h}; the VAE needs at least 8×8 pixels`);
  return { data: image.data, b, h, w, c, y0: Math.floor((h - H) / 2), x0: Math.floor((w - W) / 2) };
}

/** Encodes an IMAGE (RGB channels only) to raw latents [B,4,H/8,W/8]; `latent_parameters` exports give the mean. */
export async function vaeEncode(vae: VaeModel, image: Tensor, services: ModelServices): Promise<Tensor> {
  const { data, b, h, w, c, y0, x0 } = cropTo8(image);
  const H = Math.floor(h / 8) * 8;
  const W = Math.floor(w / 8) * 8;
  const enc = encoderOf(vae);
  const io = await enc.open();
  const outName = io.outputs.some((o) => o.name === 'latent_sample') ? 'latent_sample' : 'latent_parameters';
  const plane = H * W;
  let result: Tensor | undefined;
  for (let i = 0; i < b; i++) {
    const px = new Float32Array(3 * plane);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const s = ((i * h + y + y0) * w + x + x0) * c;
        for (let ch = 0; ch < 3; ch++) px[ch * plane + y * W + x] = data[s + Math.min(ch, c - 1)] * 2 - 1;
      }
    }
    const out = (await enc.run({ sample: { data: px, shape: [1, 3, H, W] } }, [outName]))[outName];
    const [, oc, lh, lw] = out.shape;
    const keep = 4 * lh * lw; // latent_parameters = mean ‖ logvar: the first 4 channels are the mean
    if (oc < 4) throw new Error(`VAE encoder of '${vae.name}' returned ${oc} channels; expected 4 (latent_sample) or 8 (latent_parameters)`);
    result ??= tensor([b, 4, lh, lw]);
    result.data.set(out.data.subarray(0, keep), i * keep);
  }
  if (enc.ep) services.onEp({ model: `${vae.name}/vae_encoder`, provider: enc.ep });
  return result!;
}

function asImage(v: unknown, input: string): Tensor {
  imageDims(v, `input '${input}'`);
  return v as Tensor;
}

/** MASK [B,H,W] or [H,W] → [B,1,H,W] resized to the image size (bilinear, as ComfyUI). */
function maskAtImageSize(mask: unknown, h: number, w: number): Tensor {
  const m = mask as Tensor | undefined;
  if (!m || !(m.data instanceof Float32Array) || m.shape.length < 2) throw new Error("input 'mask' must be a MASK ([batch, height, width])");
  const [mh, mw] = m.shape.slice(-2);
  const mb = m.data.length / (mh * mw);
  const t = { data: m.data, shape: [mb, 1, mh, mw] };
  return mh === h && mw === w ? t : interpolate(t, h, w, 'bilinear');
}

/** Sets masked pixels (mask ≥ 0.5) to 0.5 grey, as VAEEncodeForInpaint and InpaintModelConditioning do. */
function greyMasked(image: Tensor, mask: Tensor): Tensor {
  const { b, h, w, c } = imageDims(image, "input 'pixels'");
  const out = tensor(image.shape, Float32Array.from(image.data));
  const mb = mask.shape[0];
  for (let i = 0; i < b; i++) {
    const mo = (i % mb) * h * w;
    for (let p = 0; p < h * w; p++) {
      const keep = 1 - Math.round(mask.data[mo + p]);
      for (let ch = 0; ch < Math.min(3, c); ch++) {
        const k = (i * h * w + p) * c + ch;
        out.data[k] = (out.data[k] - 0.5) * keep + 0.5;
      }
    }
  }
  return out;
}

/** grow_mask_by: a box dilation (ComfyUI's conv2d with a ones kernel, clamped to 0..1). */
function growMask(mask: Tensor, grow: number): Tensor {
  const [b, , h, w] = mask.shape;
  const out = tensor(mask.shape);
  const pad = Math.ceil((grow - 1) / 2);
  for (let i = 0; i < b; i++) {
    const o = i * h * w;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let dy = 0; dy < grow && s < 1; dy++) {
          const yy = y + dy - pad;
          if (yy < 0 || yy >= h) continue;
          for (let dx = 0; dx < grow; dx++) {
            const xx = x + dx - pad;
            if (xx >= 0 && xx < w) s += Math.round(mask.data[o + yy * w + xx]);
          }
        }
        out.data[o + y * w + x] = Math.round(Math.min(1, s));
      }
    }
  }
  return out;
}

export function vaeNodes(services: ModelServices): NodeDefinition[] {
  return [
    {
      schema: schemaOf('VAEDecode'),
      async run(inputs) {
        return { outputs: [await vaeDecode(asVae(inputs.vae), asLatent(inputs.samples, 'samples'), services)] };
      },
    },
    {
      schema: schemaOf('VAEDecodeTiled'),
      async run(inputs) {
        return { outputs: [await vaeDecodeTiled(asVae(inputs.vae), asLatent(inputs.samples, 'samples'), Number(inputs.tile_size), Number(inputs.overlap))] };
      },
    },
    {
      schema: schemaOf('VAEEncode'),
      async run(inputs) {
        const samples = await vaeEncode(asVae(inputs.vae), asImage(inputs.pixels, 'pixels'), services);
        return { outputs: [{ samples } satisfies Latent] };
      },
    },
    {
      schema: schemaOf('VAEEncodeForInpaint'),
      async run(inputs) {
        const pixels = asImage(inputs.pixels, 'pixels');
        const { h, w } = imageDims(pixels, "input 'pixels'");
        const mask = maskAtImageSize(inputs.mask, h, w);
        const grow = Number(inputs.grow_mask_by);
        const noiseMask = grow > 0 ? growMask(mask, grow) : tensor(mask.shape, mask.data.map(Math.round));
        const samples = await vaeEncode(asVae(inputs.vae), greyMasked(pixels, mask), services);
        return { outputs: [{ samples, noise_mask: noiseMask } satisfies Latent] };
      },
    },
    {
      schema: schemaOf('InpaintModelConditioning'),
      async run(inputs) {
        const vae = asVae(inputs.vae);
        const pixels = asImage(inputs.pixels, 'pixels');
        const { h, w } = imageDims(pixels, "input 'pixels'");
        const mask = maskAtImageSize(inputs.mask, h, w);
        const concat = await vaeEncode(vae, greyMasked(pixels, mask), services);
        const original = await vaeEncode(vae, pixels, services);
        const add = (c: Conditioning): Conditioning => c.map(([t, extras]) => [t, { ...extras, concat_latent_image: concat, concat_mask: mask }]);
        const latent: Latent = { samples: original };
        if (inputs.noise_mask !== false) latent.noise_mask = mask;
        return { outputs: [add(asConditioning(inputs.positive, 'positive')), add(asConditioning(inputs.negative, 'negative')), latent] };
      },
    },
  ];
}
