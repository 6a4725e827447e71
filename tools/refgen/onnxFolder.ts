// Builds an optimum-layout ONNX folder (text_encoder/, unet/, vae_decoder/, vae_encoder/,
// tokenizer/) from a single-file SD1.x checkpoint with the real network builders, so the engine
// can run a ComfyUI prompt on it. Test support: the product path is the conversion cache.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeClipTextOnnx, writeUnetOnnx, writeVaeDecoderOnnx, writeVaeEncoderOnnx, type BuildOptions } from '../../src/inference/checkpoint/build';
import { SafetensorsFile } from '../../src/inference/safetensors/read';
import { SPECIAL_TOKENS_MAP, TOKENIZER_CONFIG } from '../modelgen/configs';
import { findTokenizerDir } from '../modelgen/writeModelFolder';
import type { CheckpointConfig } from './layout';
import { prefixedSource, SD1_PREFIXES } from './weightSource';

export interface FolderTimings {
  text_encoder: number;
  unet: number;
  vae_decoder: number;
  vae_encoder: number;
}

export async function writeOnnxFolder(ckptFile: string, outDir: string, cfg: CheckpointConfig, opts: Omit<BuildOptions, 'onProgress'> = { precision: 'fp32' }): Promise<FolderTimings> {
  const file = await SafetensorsFile.open(ckptFile);
  const times: Partial<FolderTimings> = {};
  const timed = async (k: keyof FolderTimings, fn: () => Promise<void>) => {
    const t = performance.now();
    await fn();
    times[k] = performance.now() - t;
  };
  try {
    const clip = prefixedSource(file, SD1_PREFIXES.clip);
    const unet = prefixedSource(file, SD1_PREFIXES.unet);
    const vae = prefixedSource(file, SD1_PREFIXES.vae);
    await timed('text_encoder', () => writeClipTextOnnx(path.join(outDir, 'text_encoder', 'model.onnx'), cfg.clip, clip, opts));
    await timed('unet', () => writeUnetOnnx(path.join(outDir, 'unet', 'model.onnx'), cfg.unet, unet, opts));
    await timed('vae_decoder', () => writeVaeDecoderOnnx(path.join(outDir, 'vae_decoder', 'model.onnx'), cfg.vae, vae, opts));
    await timed('vae_encoder', () => writeVaeEncoderOnnx(path.join(outDir, 'vae_encoder', 'model.onnx'), cfg.vae, vae, opts));
  } finally {
    await file.close();
  }
  const tok = findTokenizerDir();
  const tokDir = path.join(outDir, 'tokenizer');
  fs.mkdirSync(tokDir, { recursive: true });
  for (const f of ['vocab.json', 'merges.txt']) fs.copyFileSync(path.join(tok, f), path.join(tokDir, f));
  fs.writeFileSync(path.join(tokDir, 'special_tokens_map.json'), JSON.stringify(SPECIAL_TOKENS_MAP));
  fs.writeFileSync(path.join(tokDir, 'tokenizer_config.json'), JSON.stringify(TOKENIZER_CONFIG));
  return times as FolderTimings;
}
