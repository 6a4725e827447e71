// `/object_info` for the registry, with folder-backed combos (checkpoints, input images, …)
// filled from the configured folders at request time, as ComfyUI lists them on every call.
import { folderOfHint } from '../../workflow/modelNames';
import { listModelNames } from '../models/modelsRoot';
import type { NodeRegistry } from '../../workflow/nodeDefinition';
import type { InputSpec, ObjectInfo } from '../../workflow/objectInfo';
import { IMAGE_EXTENSIONS, listFiles } from '../image/inputFiles';
import type { RuntimeConfig } from '../nodes/runtimeConfig';

export type ModelLister = (folder: string, roots: readonly string[]) => Promise<string[]>;

/**
 * Model names under `<root>/<folder>` of every models root (and the folders of an
 * extra_model_paths.yaml beside them), by the workflow core's rules (model extensions, an ONNX
 * pipeline folder is one model, '/'-separated), sorted, duplicates once.
 */
export const listModelFiles: ModelLister = async (folder, roots) => listModelNames(roots, folder);

async function comboValues(hint: string, config: RuntimeConfig, listModels: ModelLister): Promise<string[]> {
  if (hint.startsWith('input (image')) return listFiles(config.inputDir, IMAGE_EXTENSIONS);
  // LoadLatent lists only `.latent` files, as ComfyUI does.
  if (hint.startsWith('input (.latent')) return listFiles(config.inputDir, new Set(['.latent']));
  if (hint.startsWith('input')) return listFiles(config.inputDir);
  // Hints read like "vae (+ 'taesd', …)": the folder is the first word.
  const folder = folderOfHint(hint);
  return folder ? listModels(folder, config.modelsRoots) : [];
}

export async function buildObjectInfo(registry: NodeRegistry, config: RuntimeConfig, listModels: ModelLister = listModelFiles): Promise<ObjectInfo> {
  const out: ObjectInfo = {};
  const listings = new Map<string, Promise<string[]>>();
  for (const [name, def] of registry) {
    const schema = structuredClone(def.schema);
    for (const group of [schema.input.required, schema.input.optional]) {
      for (const spec of Object.values(group ?? {}) as InputSpec[]) {
        const hint = spec[1]?.x_folder;
        if (!Array.isArray(spec[0]) || typeof hint !== 'string') continue;
        if (!listings.has(hint)) listings.set(hint, comboValues(hint, config, listModels));
        spec[0] = await listings.get(hint)!;
      }
    }
    out[name] = schema;
  }
  return out;
}
