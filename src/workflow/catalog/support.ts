// Which catalogue nodes Marble cannot run yet, and why, in words a user understands. The graph
// editor marks them in its node search, and validation names the reason before anything runs.
// The catalogue lists ComfyUI's core nodes so workflows load and round-trip; this is the part of
// it the inference process has no implementation for (a unit test checks the list against the
// inference registry, so it cannot drift when a node lands). Pure: no vscode, no DOM.

/** class_type → why Marble cannot run it. */
export const UNSUPPORTED_NODES: Readonly<Record<string, string>> = {
  CheckpointLoader: 'the config-file checkpoint loader is not supported: use Load Checkpoint',
  CLIPLoader: 'separate text-encoder files: not yet',
  CLIPTextEncodeSDXL: 'SDXL: not yet',
  CLIPTextEncodeSDXLRefiner: 'SDXL: not yet',
  ConditioningAverage: 'not yet',
  ConditioningConcat: 'not yet',
  ControlNetApply: 'ControlNet: not yet',
  ControlNetApplyAdvanced: 'ControlNet: not yet',
  ControlNetLoader: 'ControlNet: not yet',
  ImageUpscaleWithModel: 'upscale models: not yet',
  LoraLoader: 'LoRA: not yet',
  LoraLoaderModelOnly: 'LoRA: not yet',
  UpscaleModelLoader: 'upscale models: not yet',
};

/** Why a node cannot run: a known-unsupported class, or one the catalogue does not have (a custom node). */
export function unsupportedReason(classType: string, known: (classType: string) => boolean): string | undefined {
  if (Object.prototype.hasOwnProperty.call(UNSUPPORTED_NODES, classType)) return UNSUPPORTED_NODES[classType];
  return known(classType) ? undefined : 'custom node: not installed in Marble';
}
