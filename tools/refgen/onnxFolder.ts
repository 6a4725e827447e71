// Builds an optimum-layout ONNX folder (text_encoder/, unet/, vae_decoder/, vae_encoder/,
// tokenizer/) from a single-file SD1.x checkpoint with the real network builders, so the engine
// can run a ComfyUI prompt on it. Test support: the product path is the conversion cache.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeClipTextOnnx, writeUnetOnnx, writeVaeDecoderOnnx, writeVaeEncoderOnnx, type BuildOptions } from '../../src/inference/checkpoint/build';
import { detectCheckpoint } from '../../src/inference/checkpoint/detect';
import { SafetensorsFile } from '../../src/inference/safetensors/read';
import { SPECIAL_TOKENS_MAP, TOKENIZER_CONFIG } from '../modelgen/configs';
import { findTokenizerDir } from '../modelgen/writeModelFolder';
import type { CheckpointConfig } from './layout';
import { prefixedSource, SD1_PREFIXES } from './weightSource';

function detected(file: SafetensorsFile) {
  const d = detectCheckpoint(file, { role: 'checkpoint' });
  if (d.family !== 'sd1' && d.family !== 'sd2') throw new Error(`${file.file}: writeOnnxFolder builds SD1/SD2 folders; this is ${d.family} (convert it with convertCheckpointToFolder)`);
  if (!d.clip || !d.unet || !d.vae) throw new Error(`${file.file}: detection found no ${!d.clip ? 'CLIP' : !d.unet ? 'U-Net' : 'VAE'}`);
  return { clip: d.clip, unet: d.unet, vae: d.vae };
}

export interface FolderTimings {
  text_encoder: number;
  unet: number;
  vae_decoder: number;
  vae_encoder: number;
}

/**
 * `cfg` 'detect' runs Marble's architecture detection on the file (the product path); a config
 * reads the components by their SD1 prefixes with that config (the generator's own view).
 */
export async function writeOnnxFolder(ckptFile: string, outDir: string, cfg: CheckpointConfig | 'detect', opts: Omit<BuildOptions, 'onProgress'> = { precision: 'fp32' }): Promise<FolderTimings> {
  const file = await SafetensorsFile.open(ckptFile);
  const times: Partial<FolderTimings> = {};
  const timed = async (k: keyof FolderTimings, fn: () => Promise<void>) => {
    const t = performance.now();
    await fn();
    times[k] = performance.now() - t;
  };
  try {
    const parts = cfg === 'detect' ? detected(file) : {
      clip: { config: cfg.clip, weights: prefixedSource(file, SD1_PREFIXES.clip) },
      unet: { config: cfg.unet, weights: prefixedSource(file, SD1_PREFIXES.unet) },
      vae: { config: cfg.vae, weights: prefixedSource(file, SD1_PREFIXES.vae) },
    };
    const { clip, unet, vae } = parts;
    await timed('text_encoder', () => writeClipTextOnnx(path.join(outDir, 'text_encoder', 'model.onnx'), clip.config, clip.weights, opts));
    await timed('unet', () => writeUnetOnnx(path.join(outDir, 'unet', 'model.onnx'), unet.config, unet.weights, opts));
    await timed('vae_decoder', () => writeVaeDecoderOnnx(path.join(outDir, 'vae_decoder', 'model.onnx'), vae.config, vae.weights, opts));
    await timed('vae_encoder', () => writeVaeEncoderOnnx(path.join(outDir, 'vae_encoder', 'model.onnx'), vae.config, vae.weights, opts));
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
