// Everything that touches sharp (libvips): decoding input images, encoding PNGs and the one
// resize ComfyUI itself does on 8-bit pixels (lanczos through PIL).
import sharp from 'sharp';
import { checkAllocation, tensor, type Tensor } from '../tensor';
import { imageDims, imageToUint8, nchwToNhwc, nhwcToNchw, uint8ToImage, type RawImage } from './convert';
import { centerCrop } from './resize';

export interface LoadedImage {
  /** [B,H,W,3] in 0..1; B > 1 for multi-frame files (frames of another size are skipped, as ComfyUI does). */
  image: Tensor;
  /** [B,H,W] = 1 − alpha, or [B,64,64] zeros when the file has no alpha (ComfyUI's convention). */
  mask: Tensor;
}

/** Decodes pages of a file (EXIF orientation applied) as RGBA-or-RGB 8-bit frames. */
async function decodeFrames(file: string | Uint8Array): Promise<{ frames: RawImage[]; hasAlpha: boolean }> {
  try {
    return await decodeFramesUnchecked(file);
  } catch (e) {
    // sharp's messages ("Input file contains unsupported image format") do not say which file.
    const what = typeof file === 'string' ? file : `${file.byteLength} bytes of image data`;
    throw new Error(`cannot decode image ${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function decodeFramesUnchecked(file: string | Uint8Array): Promise<{ frames: RawImage[]; hasAlpha: boolean }> {
  const input = typeof file === 'string' ? file : Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const meta = await sharp(input).metadata();
  checkAllocation((meta.width ?? 0) * (meta.height ?? 0) * (meta.pages ?? 1) * 4, `image: ${meta.width}×${meta.height} × ${meta.pages ?? 1} frame(s)`);
  const pages = meta.pages && meta.pages > 1 ? meta.pages : 1;
  const hasAlpha = Boolean(meta.hasAlpha);
  const frames: RawImage[] = [];
  for (let page = 0; page < pages; page++) {
    // 16-bit files come out as 8-bit: ComfyUI also converts to 8-bit RGB(A) through PIL.
    let pipeline = sharp(input, { page, pages: 1 }).autoOrient().toColourspace('srgb');
    pipeline = hasAlpha ? pipeline.ensureAlpha() : pipeline.removeAlpha();
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    frames.push({ data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: info.channels });
  }
  return { frames, hasAlpha };
}

/** LoadImage: RGB IMAGE plus MASK = 1 − alpha. */
export async function loadImage(file: string | Uint8Array): Promise<LoadedImage> {
  const { frames, hasAlpha } = await decodeFrames(file);
  const first = frames[0];
  const same = frames.filter((f) => f.width === first.width && f.height === first.height);
  const rgb: RawImage[] = [];
  const masks: Float32Array[] = [];
  for (const f of same) {
    const n = f.width * f.height;
    const px = new Uint8Array(n * 3);
    const mask = new Float32Array(hasAlpha ? n : 64 * 64);
    for (let i = 0; i < n; i++) {
      px[i * 3] = f.data[i * f.channels];
      px[i * 3 + 1] = f.data[i * f.channels + 1];
      px[i * 3 + 2] = f.data[i * f.channels + 2];
      if (hasAlpha) mask[i] = 1 - f.data[i * f.channels + 3] / 255;
    }
    rgb.push({ data: px, width: f.width, height: f.height, channels: 3 });
    masks.push(mask);
  }
  const mh = hasAlpha ? first.height : 64, mw = hasAlpha ? first.width : 64;
  const mask = tensor([masks.length, mh, mw]);
  masks.forEach((m, i) => mask.data.set(m, i * mh * mw));
  return { image: uint8ToImage(rgb), mask };
}

export const MASK_CHANNELS = ['alpha', 'red', 'green', 'blue'] as const;

/**
 * LoadImageMask: one channel of the RGBA-converted first frame as a [1,H,W] MASK. Alpha is
 * inverted; an image without alpha therefore gives all zeros (ComfyUI converts it to RGBA first).
 */
export async function loadImageMask(file: string | Uint8Array, channel: string): Promise<Tensor> {
  const ci = (MASK_CHANNELS as readonly string[]).indexOf(channel);
  if (ci < 0) throw new Error(`channel '${channel}' must be one of ${MASK_CHANNELS.join(', ')}`);
  const input = typeof file === 'string' ? file : Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const { data, info } = await sharp(input, { pages: 1 }).autoOrient().toColourspace('srgb').ensureAlpha()
    .raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const offset = ci === 0 ? 3 : ci - 1;
  const n = info.width * info.height;
  const mask = tensor([1, info.height, info.width]);
  for (let i = 0; i < n; i++) {
    const v = data[i * info.channels + offset] / 255;
    mask.data[i] = ci === 0 ? 1 - v : v;
  }
  return mask;
}

/** Encodes 8-bit pixels as PNG (zlib level as ComfyUI: 4 for SaveImage, 1 for PreviewImage). */
export async function encodePng(raw: RawImage, compressionLevel: number): Promise<Uint8Array> {
  const buf = await sharp(Buffer.from(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength), {
    raw: { width: raw.width, height: raw.height, channels: raw.channels as 1 | 2 | 3 | 4 },
  })
    .png({ compressionLevel, adaptiveFiltering: false })
    .toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Encodes 8-bit pixels as JPEG (previews), optionally fitted into a `maxSize` square. */
export async function encodeJpeg(raw: RawImage, quality = 95, maxSize?: number): Promise<Uint8Array> {
  let s = sharp(Buffer.from(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength), {
    raw: { width: raw.width, height: raw.height, channels: raw.channels as 1 | 2 | 3 | 4 },
  });
  if (maxSize) s = s.resize(maxSize, maxSize, { fit: 'inside' });
  const buf = await s.jpeg({ quality }).toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * ComfyUI's `lanczos` upscale: each image goes to 8-bit, PIL LANCZOS (a = 3), and back; sharp's
 * `lanczos3` is the same kernel. Unlike the float methods this quantises to 1/255 steps.
 */
export async function resizeImageLanczos(image: Tensor, width: number, height: number, crop: string): Promise<Tensor> {
  imageDims(image, 'lanczos resize');
  if (width < 1 || height < 1) throw new Error(`lanczos resize: target size must be at least 1×1, got ${width}×${height}`);
  const cropped = crop === 'center' ? nchwToNhwc(centerCrop(nhwcToNchw(image), width, height)) : image;
  const frames: RawImage[] = [];
  for (let i = 0; i < cropped.shape[0]; i++) {
    const raw = imageToUint8(cropped, i);
    const { data, info } = await sharp(Buffer.from(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength), {
      raw: { width: raw.width, height: raw.height, channels: raw.channels as 1 | 2 | 3 | 4 },
    })
      .resize(width, height, { kernel: 'lanczos3', fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    frames.push({ data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: info.channels });
  }
  return uint8ToImage(frames);
}
