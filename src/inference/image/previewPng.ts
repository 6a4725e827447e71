// Sampler previews as small PNGs built in-process. sharp hands encoding to its libuv worker, which
// competes with ONNX Runtime's threads for the cores on every preview; a 64×64 latent preview is
// a few KB of deflate on this thread instead (and lossless, so the preview shows what the latent has).
import { deflateSync } from 'node:zlib';
import { pngChunk } from '../../workflow/png';

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

/** Interleaved 8-bit RGB → PNG; larger than `maxSize` on a side is reduced by whole-pixel striding. */
export function encodePreviewPng(rgb: { width: number; height: number; data: Uint8Array }, maxSize = 512): Uint8Array {
  const stride = Math.max(1, Math.ceil(Math.max(rgb.width, rgb.height) / maxSize));
  const w = Math.ceil(rgb.width / stride);
  const h = Math.ceil(rgb.height / stride);
  if (rgb.data.length !== rgb.width * rgb.height * 3) {
    throw new Error(`preview: ${rgb.data.length} bytes do not fill ${rgb.width}×${rgb.height} RGB`);
  }
  const raw = new Uint8Array(h * (1 + w * 3)); // each row: filter byte 0 (None), then pixels
  for (let y = 0; y < h; y++) {
    const row = y * (1 + w * 3) + 1;
    for (let x = 0; x < w; x++) {
      const src = ((y * stride) * rgb.width + x * stride) * 3;
      raw[row + x * 3] = rgb.data[src];
      raw[row + x * 3 + 1] = rgb.data[src + 1];
      raw[row + x * 3 + 2] = rgb.data[src + 2];
    }
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, w);
  v.setUint32(4, h);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, adaptive filtering, no interlace
  const idat = deflateSync(raw, { level: 1 });
  const parts = [SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
