// Writes a complete diffusers/optimum-style model folder. The folder appears atomically: it is
// built under a temporary name beside the target and renamed into place, so a reader never sees
// half a model (and a crash leaves only a *.tmp-* folder behind).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { modelIndexJson, schedulerConfigJson, SPECIAL_TOKENS_MAP, textEncoderConfigJson, TOKENIZER_CONFIG, unetConfigJson, vaeConfigJson } from './configs';
import type { BuiltModel } from '../../src/inference/onnx/graphBuilder';
import { Prng } from './prng';
import { parseVariant, SIZES, type ModelSize } from './spec';
import { buildTextEncoder } from './textEncoder';
import { buildUnet } from './unet';
import { buildVaeDecoder, buildVaeEncoder } from './vae';

export interface GenerateOptions {
  size?: ModelSize;
  /** Comma-separated variant names (see VARIANT_TWEAKS), e.g. 'fp16,inpaint'. */
  variant?: string;
  seed?: number;
  /** Replace an existing folder. Without it an existing target is an error. */
  force?: boolean;
  /** Folder holding vocab.json + merges.txt; found automatically when omitted. */
  tokenizerDir?: string;
}

export interface GeneratedFolder {
  dir: string;
  files: { path: string; bytes: number }[];
  parameters: Record<string, number>;
  elapsedMs: number;
}

// Only the repository's own copy: nothing outside the checkout is read.
const TOKENIZER_CANDIDATES = [path.join('resources', 'clip-tokenizer')];

/** Finds vocab.json/merges.txt in the repo's resources/clip-tokenizer (searched upwards from here and the cwd). */
export function findTokenizerDir(explicit?: string): string {
  const has = (d: string) => fs.existsSync(path.join(d, 'vocab.json')) && fs.existsSync(path.join(d, 'merges.txt'));
  if (explicit) {
    if (!has(explicit)) throw new Error(`modelgen: tokenizer folder ${explicit} has no vocab.json + merges.txt`);
    return explicit;
  }
  const starts = [typeof __dirname === 'string' ? __dirname : undefined, process.cwd()].filter((d): d is string => !!d);
  const tried: string[] = [];
  for (const start of starts) {
    for (let dir = path.resolve(start), i = 0; i < 6; i++, dir = path.dirname(dir)) {
      for (const rel of TOKENIZER_CANDIDATES) {
        const cand = path.join(dir, rel);
        if (has(cand)) return cand;
        tried.push(cand);
      }
      if (path.dirname(dir) === dir) break;
    }
  }
  throw new Error(`modelgen: CLIP tokenizer files (vocab.json, merges.txt) not found; looked in:\n  ${[...new Set(tried)].join('\n  ')}`);
}

export function generateModelFolder(outDir: string, opts: GenerateOptions = {}): GeneratedFolder {
  const started = performance.now();
  const size = opts.size ?? 'tiny';
  const variantName = opts.variant ?? 'fp32';
  const variant = parseVariant(variantName);
  const seed = opts.seed ?? 1;
  const sizes = SIZES[size];
  const target = path.resolve(outDir);
  if (fs.existsSync(target) && !opts.force) throw new Error(`modelgen: ${target} already exists (use --force to replace it)`);
  const tokenizerDir = findTokenizerDir(opts.tokenizerDir);

  const root = new Prng(seed);
  const models: Record<string, BuiltModel> = {
    text_encoder: buildTextEncoder(sizes, variant, root.fork('text_encoder')),
    unet: buildUnet(sizes, variant, root.fork('unet'), variant.unetExternalData),
    vae_decoder: buildVaeDecoder(sizes, variant, root.fork('vae_decoder')),
    vae_encoder: buildVaeEncoder(sizes, variant, root.fork('vae_encoder')),
  };

  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
  const files: GeneratedFolder['files'] = [];
  const write = (rel: string, data: string | Uint8Array) => {
    const p = path.join(tmp, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, data);
    files.push({ path: rel, bytes: typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength });
  };
  const json = (rel: string, value: object) => write(rel, `${JSON.stringify(value, null, 2)}\n`);

  try {
    for (const [name, built] of Object.entries(models)) {
      write(`${name}/model.onnx`, built.model);
      if (built.external) write(`${name}/${built.external.fileName}`, built.external.data);
    }
    write('tokenizer/vocab.json', fs.readFileSync(path.join(tokenizerDir, 'vocab.json')));
    write('tokenizer/merges.txt', fs.readFileSync(path.join(tokenizerDir, 'merges.txt')));
    json('tokenizer/special_tokens_map.json', SPECIAL_TOKENS_MAP);
    json('tokenizer/tokenizer_config.json', TOKENIZER_CONFIG);
    if (variant.modelIndex) {
      json('model_index.json', modelIndexJson({ size, variantName, seed }));
      json('scheduler/scheduler_config.json', schedulerConfigJson(variant));
      json('text_encoder/config.json', textEncoderConfigJson(sizes));
      json('unet/config.json', unetConfigJson(sizes, variant));
      json('vae_decoder/config.json', vaeConfigJson(sizes));
      json('vae_encoder/config.json', vaeConfigJson(sizes));
    }
    replaceDir(tmp, target, !!opts.force);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  const parameters = Object.fromEntries(Object.entries(models).map(([k, m]) => [k, m.parameterCount]));
  return { dir: target, files, parameters, elapsedMs: performance.now() - started };
}

function replaceDir(tmp: string, target: string, force: boolean): void {
  if (!fs.existsSync(target)) {
    fs.renameSync(tmp, target);
    return;
  }
  if (!force) throw new Error(`modelgen: ${target} appeared while generating; not replacing it`);
  const old = `${target}.old-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
  fs.renameSync(target, old);
  fs.renameSync(tmp, target);
  fs.rmSync(old, { recursive: true, force: true });
}

/** The checkpoint name ComfyUI's default workflow asks for (as `v1-5-pruned-emaonly-fp16.safetensors`). */
export const DEFAULT_CHECKPOINT_NAME = 'v1-5-pruned-emaonly-fp16';

/**
 * Creates `<root>/checkpoints/v1-5-pruned-emaonly-fp16/` (a tiny fp16-weight, fp32-IO demo model)
 * unless it already exists. Safe when two processes race: the loser discards its copy.
 */
export function ensureDefaultModels(root: string, opts: Pick<GenerateOptions, 'size' | 'seed' | 'tokenizerDir'> = {}): { dir: string; created: boolean } {
  const dir = path.join(path.resolve(root), 'checkpoints', DEFAULT_CHECKPOINT_NAME);
  if (fs.existsSync(path.join(dir, 'unet', 'model.onnx'))) return { dir, created: false };
  if (fs.existsSync(dir)) throw new Error(`modelgen: ${dir} exists but has no unet/model.onnx; remove it or put a complete model there`);
  try {
    generateModelFolder(dir, { size: opts.size ?? 'tiny', variant: 'fp16', seed: opts.seed ?? 1, tokenizerDir: opts.tokenizerDir });
    return { dir, created: true };
  } catch (err) {
    if (fs.existsSync(path.join(dir, 'unet', 'model.onnx'))) return { dir, created: false };
    throw err;
  }
}
