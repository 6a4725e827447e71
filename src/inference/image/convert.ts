// IMAGE tensors ([B,H,W,C] float 0..1) ⇄ 8-bit pixels, and layout changes for the resizers.
import { tensor, type Tensor } from '../tensor';

export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** Checks that `t` is an IMAGE ([B,H,W,C], C = 1..4) and returns its dims; `what` names it in errors. */
export function imageDims(t: unknown, what: string): { b: number; h: number; w: number; c: number } {
  const shape = (t as Tensor | undefined)?.shape;
  if (!shape || !((t as Tensor).data instanceof Float32Array) || shape.length !== 4) {
    throw new Error(`${what}: expected an IMAGE tensor [batch, height, width, channels], got ${shape ? `shape [${shape.join(', ')}]` : typeof t}`);
  }
  const [b, h, w, c] = shape;
  if (c < 1 || c > 4) throw new Error(`${what}: an IMAGE needs 1-4 channels, got ${c}`);
  return { b, h, w, c };
}

/**
 * One batch item as 8-bit pixels. Like ComfyUI's `np.clip(255 * x, 0, 255).astype(np.uint8)`,
 * values are truncated, not rounded, so files match ComfyUI's byte for byte.
 */
export function imageToUint8(image: Tensor, index: number): RawImage {
  const { b, h, w, c } = imageDims(image, 'imageToUint8');
  if (index < 0 || index >= b) throw new Error(`imageToUint8: batch index ${index} out of range 0..${b - 1}`);
  const n = h * w * c;
  const out = new Uint8Array(n);
  const src = image.data.subarray(index * n, (index + 1) * n);
  for (let i = 0; i < n; i++) {
    const v = src[i] * 255;
    out[i] = v >= 255 ? 255 : v > 0 ? v : 0; // Uint8Array stores truncate; NaN → 0
  }
  return { data: out, width: w, height: h, channels: c };
}

/** Stacks equally sized 8-bit frames into a [B,H,W,C] float IMAGE (x / 255). */
export function uint8ToImage(frames: RawImage[]): Tensor {
  if (frames.length === 0) throw new Error('uint8ToImage: no frames');
  const { width, height, channels } = frames[0];
  const n = width * height * channels;
  const out = tensor([frames.length, height, width, channels]);
  frames.forEach((f, i) => {
    if (f.width !== width || f.height !== height || f.channels !== channels) {
      throw new Error(`uint8ToImage: frame ${i} is ${f.width}x${f.height}x${f.channels}, expected ${width}x${height}x${channels}`);
    }
    for (let j = 0; j < n; j++) out.data[i * n + j] = f.data[j] / 255;
  });
  return out;
}

/** [B,H,W,C] → [B,C,H,W] (the resizers work on planes, as torch does after `movedim(-1, 1)`). */
export function nhwcToNchw(t: Tensor): Tensor {
  const [b, h, w, c] = t.shape;
  const out = tensor([b, c, h, w]);
  const plane = h * w;
  for (let i = 0; i < b; i++) {
    const base = i * plane * c;
    for (let p = 0; p < plane; p++) {
      for (let ch = 0; ch < c; ch++) out.data[base + ch * plane + p] = t.data[base + p * c + ch];
    }
  }
  return out;
}

/** [B,C,H,W] → [B,H,W,C]. */
export function nchwToNhwc(t: Tensor): Tensor {
  const [b, c, h, w] = t.shape;
  const out = tensor([b, h, w, c]);
  const plane = h * w;
  for (let i = 0; i < b; i++) {
    const base = i * plane * c;
    for (let p = 0; p < plane; p++) {
      for (let ch = 0; ch < c; ch++) out.data[base + p * c + ch] = t.data[base + ch * plane + p];
    }
  }
  return out;
}

/** Python's round(): halves go to the even neighbour (round(2.5) == 2), which sizes depend on. */
export function pyRound(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
