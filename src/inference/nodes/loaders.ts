// Load Checkpoint and Load VAE over ONNX model folders. A ComfyUI workflow names a checkpoint file
// (v1-5-pruned-emaonly-fp16.safetensors); Marble resolves it to a folder of the same base name.
import { ComponentSession, loadModelFolder, resolveCheckpoint, resolveVae, type LoadedModel } from '../models';
import { createModelSampling, SD15_LATENT_RGB, SDXL_LATENT_RGB, type DiscreteScheduleConfig } from '../sampling';
import type { NodeDefinition } from '../../workflow/nodeDefinition';
import type { ModelServices } from './modelServices';
import type { ClipModel, SdModel, VaeModel } from './modelTypes';
import { schemaOf } from './schema';
import * as fs from 'node:fs';

function modelOf(loaded: LoadedModel): SdModel {
  const d = loaded.description;
  const prediction = d.predictionType === 'v_prediction' ? 'v_prediction' : d.predictionType === 'sample' ? 'x0' : 'eps';
  return {
    name: d.name,
    description: d,
    unet: loaded.unet,
    modelSampling: createModelSampling((d.schedulerConfig ?? {}) as DiscreteScheduleConfig, { prediction }),
    latentScale: d.scalingFactor,
    latentRgb: d.kind === 'sdxl' ? SDXL_LATENT_RGB : SD15_LATENT_RGB,
    inChannels: d.unetInChannels ?? 4,
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

export function loaderNodes(services: ModelServices): NodeDefinition[] {
  const roots = () => services.getConfig().modelsRoots;
  return [
    {
      schema: schemaOf('CheckpointLoaderSimple'),
      async run(inputs) {
        const dir = resolveCheckpoint(roots(), String(inputs.ckpt_name));
        // Only the U-Net is opened now: a missing or corrupt U-Net fails here, naming the file;
        // the encoders open on first use so an unused VAE encoder never costs memory.
        const loaded = await loadModelFolder(dir, services.cache, { open: ['unet'] });
        if (loaded.unet.ep) services.onEp({ model: `${loaded.description.name}/unet`, provider: loaded.unet.ep });
        const model = modelOf(loaded);
        const tok = loaded.description.tokenizer;
        let clip: ClipModel | undefined;
        if (loaded.textEncoder) {
          const tokenizer = await services.tokenizerFor(tok?.dir);
          clip = {
            name: loaded.description.name,
            encoder: loaded.textEncoder,
            tokenizer,
            padId: padIdOf(readJson(tok?.specialTokensMap), tokenizer.eosId),
            layerIdx: -1,
          };
        }
        const vae: VaeModel | undefined =
          loaded.vaeDecoder || loaded.vaeEncoder ? { name: loaded.description.name, decoder: loaded.vaeDecoder, encoder: loaded.vaeEncoder } : undefined;
        return { outputs: [model, clip, vae] };
      },
    },
    {
      schema: schemaOf('VAELoader'),
      async run(inputs) {
        const name = String(inputs.vae_name);
        const found = resolveVae(roots(), name);
        const decoder = new ComponentSession('vae_decoder', found.decoder, `VAE decoder ${found.decoder}`, services.cache);
        const encoder = found.encoder ? new ComponentSession('vae_encoder', found.encoder, `VAE encoder ${found.encoder}`, services.cache) : undefined;
        await decoder.open();
        const vae: VaeModel = { name, decoder, encoder };
        return { outputs: [vae] };
      },
    },
  ];
}
