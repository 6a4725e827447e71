// Latent2RGB previews (ComfyUI latent_preview.py Latent2RGBPreviewer with the factors of
// comfy/latent_formats.py): a linear map from the 4 latent channels to RGB per latent pixel, at
// latent resolution. Pure: the caller resizes/encodes.

/** Rows = latent channels 0..3, columns = R, G, B. */
export interface Latent2RgbFactors {
  readonly factors: readonly (readonly [number, number, number])[];
  readonly bias?: readonly [number, number, number];
}

export const SD15_LATENT_RGB: Latent2RgbFactors = {
  factors: [
    [0.3512, 0.2297, 0.3227],
    [0.325, 0.4974, 0.235],
    [-0.2829, 0.1762, 0.2721],
    [-0.212, -0.2616, -0.7177],
  ],
};

export const SDXL_LATENT_RGB: Latent2RgbFactors = {
  factors: [
    [0.3651, 0.4232, 0.4341],
    [-0.2533, -0.0042, 0.1068],
    [0.1076, 0.1111, -0.0362],
    [-0.3165, -0.2492, -0.2188],
  ],
  bias: [0.1084, -0.0175, -0.0011],
};

export interface RgbImage {
  width: number;
  height: number;
  /** Interleaved RGB, row-major, 3 bytes per pixel. */
  data: Uint8Array;
}

/**
 * Preview of one batch item of an x0 latent [B, C, H, W] (model space, as the sampler callback
 * gives it): rgb = latent·F + bias, then (rgb+1)/2 clamped to 0..1, ×255 truncated like
 * ComfyUI's `.mul(255).to(torch.uint8)` after clamping.
 */
export function latentToRgb(latent: Float32Array, shape: readonly number[], factors: Latent2RgbFactors, batchIndex = 0): RgbImage {
  if (shape.length !== 4) throw new Error(`latent preview: expected a [B, C, H, W] latent, got shape [${shape.join(', ')}]`);
  const [b, c, h, w] = shape;
  if (c !== factors.factors.length) throw new Error(`latent preview: the latent has ${c} channels, the factors expect ${factors.factors.length}`);
  if (latent.length !== b * c * h * w) throw new Error(`latent preview: ${latent.length} values do not fill shape [${shape.join(', ')}]`);
  if (!Number.isInteger(batchIndex) || batchIndex < 0 || batchIndex >= b) throw new Error(`latent preview: batch index ${batchIndex} outside 0..${b - 1}`);
  const plane = h * w;
  const base = batchIndex * c * plane;
  const data = new Uint8Array(plane * 3);
  const bias = factors.bias ?? [0, 0, 0];
  for (let p = 0; p < plane; p++) {
    for (let k = 0; k < 3; k++) {
      let v = bias[k];
      for (let ch = 0; ch < c; ch++) v += latent[base + ch * plane + p] * factors.factors[ch][k];
      const u = Math.min(Math.max((v + 1) / 2, 0), 1);
      data[p * 3 + k] = Math.floor(u * 255);
    }
  }
  return { width: w, height: h, data };
}
