// Which catalogue nodes Marble cannot run yet, and why, in words a user understands. The graph
// editor marks them in its node search, and validation names the reason before anything runs.
// The catalogue lists ComfyUI's core nodes so workflows load and round-trip; this is the part of
// it the inference process has no implementation for (a unit test checks the list against the
// inference registry, so it cannot drift when a node lands). Pure: no vscode, no DOM.

/** class_type → why Marble cannot run it. */
export const UNSUPPORTED_NODES: Readonly<Record<string, string>> = {
  CheckpointLoader: 'the config-file checkpoint loader is not supported: use Load Checkpoint',
  ConditioningAverage: 'not yet',
  ConditioningConcat: 'not yet',
  ControlNetApply: 'ControlNet: not yet',
  ControlNetApplyAdvanced: 'ControlNet: not yet',
  ControlNetLoader: 'ControlNet: not yet',
  ImageUpscaleWithModel: 'upscale models: not yet',
  UpscaleModelLoader: 'upscale models: not yet',
};

/** Why a node cannot run: a known-unsupported class, or one the catalogue does not have (a custom node). */
export function unsupportedReason(classType: string, known: (classType: string) => boolean): string | undefined {
  if (Object.prototype.hasOwnProperty.call(UNSUPPORTED_NODES, classType)) return UNSUPPORTED_NODES[classType];
  return known(classType) ? undefined : 'custom node: not installed in Marble';
}

interface NodeLike { id: number | string; type: string; mode?: number }

/** ComfyUI's node_errors entry for each node that would run but that Marble cannot run. */
export type UnsupportedNodeErrors = Record<string, {
  class_type: string;
  errors: { type: string; message: string; details: string; extra_info: Record<string, unknown> }[];
  dependent_outputs: string[];
}>;

/** Muted (2) and bypassed (4) nodes never run; virtual nodes have no backend class. */
const SKIPPED_MODES = new Set([2, 4]);

/**
 * Nodes of a UI workflow that Marble cannot run, as /prompt-style node errors, so the user is
 * told which node and why before anything is queued. Undefined when every node can run.
 */
export function unsupportedNodeErrors(nodes: readonly NodeLike[], known: (classType: string) => boolean, virtual: ReadonlySet<string>): UnsupportedNodeErrors | undefined {
  const out: UnsupportedNodeErrors = {};
  for (const n of nodes) {
    if (virtual.has(n.type) || SKIPPED_MODES.has(n.mode ?? 0)) continue;
    const reason = unsupportedReason(n.type, known);
    if (!reason) continue;
    out[String(n.id)] = {
      class_type: n.type,
      errors: [{ type: 'unsupported_node', message: `Marble cannot run this node (${reason})`, details: '', extra_info: {} }],
      dependent_outputs: [],
    };
  }
  return Object.keys(out).length ? out : undefined;
}
