// The node catalogue of the inference process: every family's definitions in one NodeRegistry.
// Model families (loaders, conditioning, sampling, VAE) are added here as they land.
import type { NodeDefinition, NodeRegistry } from '../../workflow/nodeDefinition';
import { imageNodes } from './image';
import { latentNodes } from './latent';
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

export function createNodeRegistry(getConfig: GetConfig): NodeRegistry {
  return registryOf(imageNodes(getConfig), latentNodes());
}
