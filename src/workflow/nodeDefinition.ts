// The contract between the executor and node implementations. Implementations are injected
// (the inference process registers ComfyUI's nodes; tests register small pure ones), so this
// file is all the executor knows about what a node does.
import type { ObjectInfoEntry } from './objectInfo';

/** Values ComfyUI passes as hidden inputs (PROMPT, EXTRA_PNGINFO, UNIQUE_ID). */
export interface HiddenInputs {
  prompt: unknown;
  extraPngInfo: Record<string, unknown> | undefined;
  uniqueId: string;
}

export interface NodeContext {
  readonly promptId: string;
  readonly nodeId: string;
  readonly hidden: HiddenInputs;
  /** Aborted on interrupt; long-running nodes check it between steps (`throwIfAborted`). */
  readonly signal: AbortSignal;
  /** Sampler-style progress: value is 1-based, max is the number of steps. */
  progress(value: number, max: number, preview?: PreviewImage): void;
  /** Free-form log line, routed to the host's log. */
  log(message: string): void;
}

/** A small encoded image sent with a progress event (ComfyUI's binary preview frames). */
export interface PreviewImage {
  format: 'jpeg' | 'png';
  data: Uint8Array;
}

export interface NodeResult {
  /** One value per declared output, in `output` order. */
  outputs: unknown[];
  /** What ComfyUI returns as `ui` (e.g. `{images: [{filename, subfolder, type}]}`), sent in `executed`. */
  ui?: Record<string, unknown>;
}

export interface NodeDefinition {
  /** The node's `/object_info` entry; `schema.name` is the class_type. */
  schema: ObjectInfoEntry;
  run(inputs: Record<string, unknown>, ctx: NodeContext): Promise<NodeResult> | NodeResult;
  /**
   * ComfyUI's IS_CHANGED: called with the node's constant inputs only; the result joins the cache
   * key. Return NaN to force a re-run every time (NaN never equals itself).
   */
  isChanged?(constantInputs: Record<string, unknown>): unknown | Promise<unknown>;
  /**
   * ComfyUI's VALIDATE_INPUTS: return true, or a message naming what is wrong. Inputs it names
   * in `validatesInputs` skip the generic range/list checks (as in ComfyUI).
   */
  validateInputs?(constantInputs: Record<string, unknown>): true | string | Promise<true | string>;
  validatesInputs?: string[];
}

export type NodeRegistry = ReadonlyMap<string, NodeDefinition>;
