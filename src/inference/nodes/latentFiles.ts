// SaveLatent / LoadLatent: ComfyUI's `.latent` files, which are safetensors files holding
// `latent_tensor` (the LATENT's samples, float32) and an empty `latent_format_version_0` marker.
// Files without the marker come from before ComfyUI stored latents unscaled; LoadLatent divides
// them by SD1's 0.18215 as ComfyUI does.
import * as path from 'node:path';
import type { NodeDefinition } from '../../workflow/nodeDefinition';
import { comfyJsonDumps } from '../../workflow/comfyJson';
import { fileExists, resolveAnnotatedPath, sha256File } from '../image/inputFiles';
import { getSaveImagePath, resolveSavePrefix } from '../image/savePath';
import { SafetensorsFile } from '../safetensors/read';
import { bytesOf, writeSafetensors } from '../safetensors/write';
import { tensor, type Latent } from '../tensor';
import type { GetConfig } from './runtimeConfig';
import { schemaOf } from './schema';

export const LATENT_EXTENSION = '.latent';
const LEGACY_SCALE = 1 / 0.18215;

export interface SaveLatentOptions {
  samples: Latent;
  filenamePrefix: string;
  outputDir: string;
  /** Hidden PROMPT: stored as metadata `prompt` (json.dumps), '' when absent, as ComfyUI does. */
  prompt?: unknown;
  extraPngInfo?: Record<string, unknown>;
  metadata?: boolean;
}

/** Writes one `.latent` file (atomically) and returns ComfyUI's `ui.latents` entry for it. */
export async function saveLatentFile(opts: SaveLatentOptions): Promise<{ filename: string; subfolder: string; type: 'output' }> {
  const s = opts.samples.samples;
  const target = await getSaveImagePath(opts.filenamePrefix, opts.outputDir);
  let metadata: Record<string, string> | undefined;
  if (opts.metadata !== false) {
    metadata = { prompt: opts.prompt === undefined || opts.prompt === null ? '' : comfyJsonDumps(opts.prompt) };
    for (const [k, v] of Object.entries(opts.extraPngInfo ?? {})) metadata[k] = comfyJsonDumps(v);
  }
  const filename = `${target.filename}_${String(target.counter).padStart(5, '0')}_${LATENT_EXTENSION}`;
  await writeSafetensors(
    path.join(target.fullOutputFolder, filename),
    [
      { name: 'latent_tensor', dtype: 'F32', shape: [...s.shape], data: bytesOf(s.data) },
      { name: 'latent_format_version_0', dtype: 'F32', shape: [0], data: new Uint8Array(0) },
    ],
    { metadata },
  );
  return { filename, subfolder: target.subfolder, type: 'output' };
}

/** Reads a `.latent` file into a LATENT; `file` is an absolute path. */
export async function loadLatentFile(file: string): Promise<Latent> {
  const st = await SafetensorsFile.open(file);
  try {
    const entry = st.tensors.get('latent_tensor');
    if (!entry) throw new Error(`${file}: not a latent file (it has no 'latent_tensor'; found ${[...st.tensors.keys()].slice(0, 5).map((k) => `'${k}'`).join(', ') || 'no tensors'})`);
    if (entry.shape.length !== 4) {
      throw new Error(`${file}: latent_tensor has shape [${entry.shape.join(', ')}]; expected [batch, channels, height, width]`);
    }
    const data = await st.readFloat32('latent_tensor');
    // ComfyUI multiplies by a Python float: the scalar is used in float32, the product rounded to float32.
    if (!st.tensors.has('latent_format_version_0')) {
      const k = Math.fround(LEGACY_SCALE);
      for (let i = 0; i < data.length; i++) data[i] = data[i] * k;
    }
    return { samples: tensor(entry.shape, data) };
  } finally {
    await st.close();
  }
}

function saveLatentNode(getConfig: GetConfig): NodeDefinition {
  return {
    schema: schemaOf('SaveLatent'),
    validatesInputs: ['filename_prefix'],
    validateInputs(inputs) {
      try {
        resolveSavePrefix(String(inputs.filename_prefix ?? 'latents/ComfyUI'), getConfig().outputDir);
        return true;
      } catch (e) {
        return (e as Error).message;
      }
    },
    async run(inputs, ctx) {
      const samples = inputs.samples as Latent | undefined;
      if (!samples?.samples || !(samples.samples.data instanceof Float32Array)) {
        throw new Error("SaveLatent input 'samples': expected a LATENT");
      }
      const saved = await saveLatentFile({
        samples,
        filenamePrefix: String(inputs.filename_prefix ?? 'latents/ComfyUI'),
        outputDir: getConfig().outputDir,
        prompt: ctx.hidden.prompt,
        extraPngInfo: ctx.hidden.extraPngInfo,
      });
      return { outputs: [], ui: { latents: [saved] } };
    },
  };
}

function loadLatentNode(getConfig: GetConfig): NodeDefinition {
  const fileOf = (inputs: Record<string, unknown>) => resolveAnnotatedPath(inputs.latent, getConfig(), 'latent');
  return {
    schema: schemaOf('LoadLatent'),
    validatesInputs: ['latent'],
    async validateInputs(inputs) {
      try {
        return (await fileExists(fileOf(inputs))) ? true : `Invalid latent file: ${String(inputs.latent)}`;
      } catch (e) {
        return (e as Error).message;
      }
    },
    isChanged: (inputs) => sha256File(fileOf(inputs)),
    async run(inputs) {
      return { outputs: [await loadLatentFile(fileOf(inputs))] };
    },
  };
}

export function latentFileNodes(getConfig: GetConfig): NodeDefinition[] {
  return [saveLatentNode(getConfig), loadLatentNode(getConfig)];
}
