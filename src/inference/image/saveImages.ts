// SaveImage / PreviewImage: one PNG per batch image, ComfyUI's names and metadata chunks.
import * as path from 'node:path';
import type { Tensor } from '../tensor';
import { imageDims, imageToUint8 } from './convert';
import { comfyJsonDumps } from '../../workflow/comfyJson';
import { insertTextChunks } from '../../workflow/png';
import { getSaveImagePath, writeFileAtomic } from './savePath';
import { encodePng } from './sharpIo';

export interface SavedImageRef {
  filename: string;
  subfolder: string;
  type: 'output' | 'temp';
}

export interface SaveImagesOptions {
  images: Tensor;
  filenamePrefix: string;
  folder: string;
  type: 'output' | 'temp';
  compressionLevel: number;
  /** The API prompt (hidden PROMPT) → tEXt `prompt`; undefined/null writes none. */
  prompt?: unknown;
  /** Hidden EXTRA_PNGINFO: one tEXt chunk per key (the UI graph arrives as `workflow`). */
  extraPngInfo?: Record<string, unknown>;
  /** False skips all metadata (ComfyUI's --disable-metadata). */
  metadata?: boolean;
  now?: Date;
}

export async function saveImages(opts: SaveImagesOptions): Promise<SavedImageRef[]> {
  const { b, h, w } = imageDims(opts.images, 'images');
  // ComfyUI passes images[0].shape[1], shape[0] → width, height for %width%/%height%.
  const target = await getSaveImagePath(opts.filenamePrefix, opts.folder, w, h, { now: opts.now });
  const chunks: [string, string][] = [];
  if (opts.metadata !== false) {
    if (opts.prompt !== undefined && opts.prompt !== null) chunks.push(['prompt', comfyJsonDumps(opts.prompt)]);
    for (const [key, value] of Object.entries(opts.extraPngInfo ?? {})) chunks.push([key, comfyJsonDumps(value)]);
  }
  const results: SavedImageRef[] = [];
  let counter = target.counter;
  for (let i = 0; i < b; i++) {
    const png = await encodePng(imageToUint8(opts.images, i), opts.compressionLevel);
    const bytes = chunks.length ? insertTextChunks(png, chunks) : png;
    const name = `${target.filename.replaceAll('%batch_num%', String(i))}_${String(counter).padStart(5, '0')}_.png`;
    await writeFileAtomic(path.join(target.fullOutputFolder, name), bytes);
    results.push({ filename: name, subfolder: target.subfolder, type: opts.type });
    counter++;
  }
  return results;
}
