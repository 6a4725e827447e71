// The model loaders over ComfyUI's models folders. A workflow names a file
// (v1-5-pruned-emaonly-fp16.safetensors): a `.safetensors` file is converted to ONNX once through
// the conversion cache and the cached folder is opened; otherwise the name resolves to an ONNX
// folder of the same base name, as before. Load Checkpoint, Load VAE, Load CLIP and Load
// Diffusion Model all end in the same ONNX sessions, so every other node is unchanged.
import * as path from 'node:path';
import { ComponentSession, folderPaths, loadModelFolder, ModelFolderError, resolveModel, resolveVae, type LoadedModel } from '../models';
import { createModelSampling, SD15_LATENT_RGB, SDXL_LATENT_RGB, type DiscreteScheduleConfig } from '../sampling';
import type { NodeContext, NodeDefinition } from '../../workflow/nodeDefinition';
import { convertedFolder } from './convertedModels';
import type { ModelServices } from './modelServices';
import type { ClipModel, SdModel, VaeModel } from './modelTypes';
import { schemaOf } from './schema';
import * as fs from 'node:fs';

/**
 * An SDXL U-Net's extra inputs from its declared IO (text_embeds [B, pooled], time_ids [B, 5|6]);
 * exports with symbolic widths fall back on model_index.json's requires_aesthetics_score (the
 * refiner) and the projection's usual 1280.
 */
function sdxlInputsOf(loaded: LoadedModel): SdModel['sdxl'] {
  const inputs = loaded.io.unet?.inputs ?? [];
  const te = inputs.find((s) => s.name === 'text_embeds');
  const ti = inputs.find((s) => s.name === 'time_ids');
  if (!te || !ti) return undefined;
  const pooled = typeof te.shape[1] === 'number' ? te.shape[1] : 1280;
  const values = typeof ti.shape[1] === 'number' ? ti.shape[1] : loaded.description.requiresAestheticsScore ? 5 : 6;
  if (values !== 5 && values !== 6) throw new ModelFolderError('io-mismatch', `U-Net of ${loaded.description.dir} takes time_ids of width ${values}; SDXL U-Nets take 6 (base) or 5 (refiner)`);
  return { pooledDim: pooled, timeValues: values };
}

function modelOf(loaded: LoadedModel, name = loaded.description.name): SdModel {
  const d = loaded.description;
  const sdxl = sdxlInputsOf(loaded);
  const prediction = d.predictionType === 'v_prediction' ? 'v_prediction' : d.predictionType === 'sample' ? 'x0' : 'eps';
  return {
    name,
    description: d,
    unet: loaded.unet,
    modelSampling: createModelSampling((d.schedulerConfig ?? {}) as DiscreteScheduleConfig, { prediction }),
    latentScale: d.scalingFactor,
    latentRgb: d.kind === 'sdxl' ? SDXL_LATENT_RGB : SD15_LATENT_RGB,
    inChannels: d.unetInChannels ?? 4,
    ...(sdxl ? { sdxl } : {}),
  };
}

/** SD2.x and SDXL's second tokenizer pad with '!' (id 0); SD1.x pads with the end token. */
function padIdOf(specialTokensMap: unknown, eos: number): number {
  const pad = (specialTokensMap as { pad_token?: unknown } | undefined)?.pad_token;
  const content = typeof pad === 'string' ? pad : (pad as { content?: unknown } | undefined)?.content;
  return content === '!' ? 0 : eos;
}

function readJson(file: string | undefined): unknown {
  if (!file || !fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

const stem = (name: string) => path.basename(name.replace(/\\/g, '/')).replace(/\.(safetensors|sft|ckpt|pt|pth|bin)$/i, '');

/**
 * ComfyUI's default CLIP layer: SD1 reads the last layer; SD2's OpenCLIP-H reads the penultimate
 * one ("penultimate" in sd2_clip.py). Converted encoders build all layers, so SD2 starts at −2.
 */
function defaultLayerIdx(summary: Record<string, unknown> | undefined): number {
  return summary?.family === 'sd2' || summary?.family === 'sdxl' || summary?.family === 'sdxl_refiner' ? -2 : -1;
}

/**
 * SDXL's CLIP from a folder with text_encoder_2 (OpenCLIP-G, tokenizer_2) and, for the base,
 * text_encoder (CLIP-L): both read layer −2 without the final LayerNorm (sdxl_clip.py).
 */
async function sdxlClipOf(services: ModelServices, loaded: LoadedModel, name: string): Promise<ClipModel | undefined> {
  const d = loaded.description;
  if (!loaded.textEncoder2) return undefined;
  const part = async (encoder: ComponentSession, tok: typeof d.tokenizer) => {
    const tokenizer = await services.tokenizerFor(tok?.dir);
    return { encoder, tokenizer, padId: padIdOf(readJson(tok?.specialTokensMap), tokenizer.eosId) };
  };
  // OpenCLIP-G pads with 0 ('!'); a tokenizer_2 folder without special_tokens_map still does.
  const g = await part(loaded.textEncoder2, d.tokenizer2 ?? d.tokenizer);
  const gPart = d.tokenizer2?.specialTokensMap ? g : { ...g, padId: 0 };
  const l = loaded.textEncoder ? await part(loaded.textEncoder, d.tokenizer) : undefined;
  const main = l ?? gPart;
  return { name, encoder: main.encoder, tokenizer: main.tokenizer, padId: main.padId, layerIdx: -2, rawHidden: true, embeddingDirs: embeddingDirsOf(services), sdxl: { ...(l ? { l } : {}), g: gPart } };
}

/** ComfyUI hands every CLIP the "embeddings" folders (models roots and extra_model_paths.yaml). */
function embeddingDirsOf(services: ModelServices): string[] {
  return folderPaths(services.getConfig().modelsRoots, 'embeddings');
}

async function clipOf(services: ModelServices, encoder: ComponentSession, tokenizerDir: string | undefined, specialTokensMap: string | undefined, name: string, layerIdx: number): Promise<ClipModel> {
  const tokenizer = await services.tokenizerFor(tokenizerDir);
  return { name, encoder, tokenizer, padId: padIdOf(readJson(specialTokensMap), tokenizer.eosId), layerIdx, embeddingDirs: embeddingDirsOf(services) };
}

/** A `.safetensors` (or refused pickle) under the loader's folders, converted to a cached ONNX folder. */
async function fromFile(services: ModelServices, file: string, role: 'checkpoint' | 'vae' | 'unet' | 'clip', ctx: NodeContext, input: string) {
  return convertedFolder(services, file, role, ctx, input);
}

const hasFile = (dir: string, ...rel: string[]) => fs.existsSync(path.join(dir, ...rel));

/** resolveModel with the input named in its errors (not found, pickle refused, name leaving its folder). */
function resolveInput(roots: readonly string[], folder: string, input: string, name: string) {
  try {
    return resolveModel(roots, folder, name);
  } catch (e) {
    if (e instanceof ModelFolderError) throw new ModelFolderError(e.code, `input '${input}': ${e.message}`);
    throw e;
  }
}

export function loaderNodes(services: ModelServices): NodeDefinition[] {
  const roots = () => services.getConfig().modelsRoots;
  /** A text encoder file (converted) or ONNX folder under text_encoders/, opened and checked. */
  const textEncoderOf = async (name: string, input: string, ctx: NodeContext) => {
    const src = resolveInput(roots(), 'text_encoders', input, name);
    let dir: string;
    let summary: Record<string, unknown> | undefined;
    if (src.kind === 'safetensors') {
      const conv = await fromFile(services, src.file, 'clip', ctx, input);
      dir = conv.dir;
      summary = conv.summary;
    } else {
      dir = src.kind === 'onnx' ? src.dir : path.dirname(src.file);
    }
    const sub = hasFile(dir, 'text_encoder', 'model.onnx') ? path.join(dir, 'text_encoder') : dir;
    const model = src.kind === 'onnx-file' ? src.file : path.join(sub, 'model.onnx');
    if (!fs.existsSync(model)) throw new ModelFolderError('missing-component', `input '${input}': ${dir} has no text_encoder/model.onnx or model.onnx`);
    const tokDir = hasFile(dir, 'tokenizer', 'vocab.json') ? path.join(dir, 'tokenizer') : undefined;
    const encoder = new ComponentSession('text_encoder', model, `text encoder of ${name} (${model})`, services.cache);
    await encoder.open();
    const specialTokens = tokDir && hasFile(tokDir, 'special_tokens_map.json') ? path.join(tokDir, 'special_tokens_map.json') : undefined;
    return { encoder, tokDir, specialTokens, summary };
  };
  return [
    {
      schema: schemaOf('CheckpointLoaderSimple'),
      async run(inputs, ctx) {
        const name = String(inputs.ckpt_name);
        const src = resolveInput(roots(), 'checkpoints', 'ckpt_name', name);
        let dir: string;
        let display: string | undefined;
        let summary: Record<string, unknown> | undefined;
        if (src.kind === 'safetensors') {
          const conv = await fromFile(services, src.file, 'checkpoint', ctx, 'ckpt_name');
          dir = conv.dir;
          summary = conv.summary;
          display = stem(name);
        } else if (src.kind === 'onnx') {
          dir = src.dir;
        } else {
          throw new ModelFolderError('missing-component', `input 'ckpt_name': ${src.file} is a single .onnx file; a checkpoint is a .safetensors file or an ONNX pipeline folder (unet/model.onnx, text_encoder/, vae_decoder/)`);
        }
        // Only the U-Net is opened now: a missing or corrupt U-Net fails here, naming the file;
        // the encoders open on first use so an unused VAE encoder never costs memory.
        const loaded = await loadModelFolder(dir, services.cache, { open: ['unet'] });
        const modelName = display ?? loaded.description.name;
        if (loaded.unet.ep) services.onEp({ model: `${modelName}/unet`, provider: loaded.unet.ep });
        const model = modelOf(loaded, modelName);
        const tok = loaded.description.tokenizer;
        const clip = loaded.textEncoder2 ? await sdxlClipOf(services, loaded, modelName) : loaded.textEncoder ? await clipOf(services, loaded.textEncoder, tok?.dir, tok?.specialTokensMap, modelName, defaultLayerIdx(summary)) : undefined;
        const vae: VaeModel | undefined = loaded.vaeDecoder || loaded.vaeEncoder ? { name: modelName, decoder: loaded.vaeDecoder, encoder: loaded.vaeEncoder } : undefined;
        return { outputs: [model, clip, vae] };
      },
    },
    {
      schema: schemaOf('VAELoader'),
      async run(inputs, ctx) {
        const name = String(inputs.vae_name);
        const src = resolveInput(roots(), 'vae', 'vae_name', name);
        if (src.kind === 'safetensors') {
          const { dir } = await fromFile(services, src.file, 'vae', ctx, 'vae_name');
          const dec = path.join(dir, 'vae_decoder', 'model.onnx');
          const enc = path.join(dir, 'vae_encoder', 'model.onnx');
          const decoder = new ComponentSession('vae_decoder', dec, `VAE decoder of ${name} (${dec})`, services.cache);
          const encoder = new ComponentSession('vae_encoder', enc, `VAE encoder of ${name} (${enc})`, services.cache);
          await decoder.open();
          return { outputs: [{ name: stem(name), decoder, encoder } satisfies VaeModel] };
        }
        const found = resolveVae(roots(), name);
        const decoder = new ComponentSession('vae_decoder', found.decoder, `VAE decoder ${found.decoder}`, services.cache);
        const encoder = found.encoder ? new ComponentSession('vae_encoder', found.encoder, `VAE encoder ${found.encoder}`, services.cache) : undefined;
        await decoder.open();
        const vae: VaeModel = { name, decoder, encoder };
        return { outputs: [vae] };
      },
    },
    {
      schema: schemaOf('CLIPLoader'),
      async run(inputs, ctx) {
        const name = String(inputs.clip_name);
        const type = String(inputs.type ?? 'stable_diffusion');
        if (type !== 'stable_diffusion') {
          throw new Error(`input 'type': '${type}' text encoders are not supported yet; Marble loads 'stable_diffusion' (SD1.x CLIP-L and SD2.x OpenCLIP-H) text encoders; SDXL's pair loads with DualCLIPLoader (type sdxl)`);
        }
        const found = await textEncoderOf(name, 'clip_name', ctx);
        const clip = await clipOf(services, found.encoder, found.tokDir, found.specialTokens, stem(name), defaultLayerIdx(found.summary));
        return { outputs: [clip] };
      },
    },
    {
      schema: schemaOf('DualCLIPLoader'),
      async run(inputs, ctx) {
        const type = String(inputs.type ?? 'sdxl');
        if (type !== 'sdxl') throw new Error(`input 'type': '${type}' is not supported yet; Marble's DualCLIPLoader loads 'sdxl' (CLIP-L and OpenCLIP-G)`);
        const names = [String(inputs.clip_name1), String(inputs.clip_name2)];
        const found = [await textEncoderOf(names[0], 'clip_name1', ctx), await textEncoderOf(names[1], 'clip_name2', ctx)];
        // Which is which, in either order as ComfyUI accepts them: OpenCLIP-G has the projected
        // pooled output (text_embeds) or is 1280 wide; CLIP-L is neither.
        const isG = await Promise.all(found.map(async (f) => {
          const io = await f.encoder.open();
          const last = io.outputs.find((o) => o.name === 'last_hidden_state');
          return io.outputs.some((o) => o.name === 'text_embeds') || last?.shape.at(-1) === 1280;
        }));
        if (isG[0] === isG[1]) {
          const what = isG[0] ? 'OpenCLIP-G' : 'not OpenCLIP-G';
          throw new Error(`DualCLIPLoader (sdxl) needs a CLIP-L and an OpenCLIP-G text encoder; both '${names[0]}' and '${names[1]}' are ${what}`);
        }
        const gi = isG[0] ? 0 : 1;
        const part = async (f: (typeof found)[number], padId?: number) => {
          const tokenizer = await services.tokenizerFor(f.tokDir);
          return { encoder: f.encoder, tokenizer, padId: padId ?? tokenizer.eosId };
        };
        // ComfyUI's SDXL tokenizers: CLIP-L pads with the end token, OpenCLIP-G with 0.
        const l = await part(found[1 - gi]);
        const g = await part(found[gi], 0);
        const clip: ClipModel = { name: `${stem(names[0])}+${stem(names[1])}`, encoder: l.encoder, tokenizer: l.tokenizer, padId: l.padId, layerIdx: -2, rawHidden: true, embeddingDirs: embeddingDirsOf(services), sdxl: { l, g } };
        return { outputs: [clip] };
      },
    },
    {
      schema: schemaOf('UNETLoader'),
      async run(inputs, ctx) {
        const name = String(inputs.unet_name);
        const dtype = String(inputs.weight_dtype ?? 'default');
        if (dtype !== 'default') {
          // fp8 storage has no ONNX Runtime CPU kernels; the converted precision is used instead.
          ctx.log(`weight_dtype '${dtype}' is not available in Marble; the U-Net runs with the converted precision (${services.conversionVariant().precision})`);
        }
        const src = resolveInput(roots(), 'diffusion_models', 'unet_name', name);
        if (src.kind === 'onnx-file') {
          throw new ModelFolderError('missing-component', `input 'unet_name': ${src.file} is a bare .onnx file; Load Diffusion Model takes a .safetensors U-Net or a folder with unet/model.onnx (and unet/config.json, scheduler/)`);
        }
        const dir = src.kind === 'safetensors' ? (await fromFile(services, src.file, 'unet', ctx, 'unet_name')).dir : src.dir;
        const loaded = await loadModelFolder(dir, services.cache, { open: ['unet'] }).catch((e: unknown) => {
          throw e instanceof ModelFolderError ? new ModelFolderError(e.code, `input 'unet_name': ${e.message}`) : e;
        });
        const modelName = stem(name);
        if (loaded.unet.ep) services.onEp({ model: `${modelName}/unet`, provider: loaded.unet.ep });
        return { outputs: [modelOf(loaded, modelName)] };
      },
    },
  ];
}
