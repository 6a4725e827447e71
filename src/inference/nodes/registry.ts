// The node catalogue of the inference process: every family's definitions in one NodeRegistry.
// Model families (loaders, conditioning, sampling, VAE) are added here as they land.
import type { NodeDefinition, NodeRegistry } from '../../workflow/nodeDefinition';
import { imageNodes } from './image';
import { latentNodes } from './latent';
import { latentFileNodes } from './latentFiles';
import { conditioningNodes } from './conditioning';
import { loaderNodes } from './loaders';
import { loraNodes } from './lora';
import type { ModelServices } from './modelServices';
import { samplingNodes } from './sampling';
import { sdxlClipNodes } from './sdxlClip';
import { vaeNodes } from './vae';
import type { GetConfig } from './runtimeConfig';

/** Builds a registry from families; a class registered twice is a programming error. */
export function registryOf(...families: NodeDefinition[][]): NodeRegistry {
  const map = new Map<string, NodeDefinition>();
  for (const def of families.flat()) {
    const name = def.schema.name;
    if (map.has(name)) throw new Error(`node class '${name}' is registered twice`);
    map.set(name, def);
  }
  return map;
}

/** Without `services` only the model-free families are registered (tests of the host use that). */
export function createNodeRegistry(getConfig: GetConfig, services?: ModelServices): NodeRegistry {
  const families = [imageNodes(getConfig), latentNodes(), latentFileNodes(getConfig)];
  if (services) families.push(loaderNodes(services), loraNodes(services), conditioningNodes(services), sdxlClipNodes(services), samplingNodes(services), vaeNodes(services));
  return registryOf(...families);
}
