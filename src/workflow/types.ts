// The two ComfyUI JSON formats. UI "workflow" (v0.4) is what `.workflow.json` files and the PNG
// `workflow` chunk hold; the API "prompt" is what the executor runs. Every object type is open
// (`[key: string]: unknown`) because ComfyUI's own schemas are passthrough: unknown fields written
// by newer frontends or custom nodes must survive a load/save round trip.

export type NodeId = number | string;

/** litegraph `LGraphEventMode`: 0 always, 2 never ("muted"), 4 bypass. */
export const NODE_MODE = { ALWAYS: 0, ON_EVENT: 1, NEVER: 2, ON_TRIGGER: 3, BYPASS: 4 } as const;

export interface UiNodeInput {
  name: string;
  type: string | string[] | number;
  link: number | null;
  /** Present when the input is a widget converted to (or exposed as) a socket. */
  widget?: { name: string; [key: string]: unknown };
  label?: string;
  localized_name?: string;
  slot_index?: number;
  shape?: number;
  [key: string]: unknown;
}

export interface UiNodeOutput {
  name: string;
  type: string | string[] | number;
  links: number[] | null;
  slot_index?: number;
  [key: string]: unknown;
}

export interface UiNode {
  id: NodeId;
  type: string;
  pos: [number, number];
  size: [number, number];
  flags: Record<string, unknown>;
  order: number;
  mode: number;
  inputs?: UiNodeInput[];
  outputs?: UiNodeOutput[];
  title?: string;
  properties: Record<string, unknown>;
  /** Positional widget values; some custom nodes store an object keyed by widget name. */
  widgets_values?: unknown[] | Record<string, unknown>;
  color?: string;
  bgcolor?: string;
  [key: string]: unknown;
}

/** `[link_id, origin_node_id, origin_slot, target_node_id, target_slot, type]` */
export type UiLink = [number, NodeId, number, NodeId, number, UiLinkType];
export type UiLinkType = string | string[] | number;

export interface UiGroup {
  id?: number;
  title: string;
  bounding: [number, number, number, number];
  color?: string;
  font_size?: number;
  locked?: boolean;
  [key: string]: unknown;
}

export interface UiModelHint {
  name: string;
  url: string;
  directory: string;
  hash?: string;
  hash_type?: string;
  [key: string]: unknown;
}

/** ComfyUI UI workflow, version 0.4. Version 1 files are normalised to this shape on read. */
export interface UiWorkflow {
  id?: string;
  revision?: number;
  last_node_id: NodeId;
  last_link_id: number;
  nodes: UiNode[];
  links: UiLink[];
  groups?: UiGroup[];
  config?: Record<string, unknown>;
  extra?: Record<string, unknown>;
  version: number;
  models?: UiModelHint[];
  [key: string]: unknown;
}

/** A link in the API format: `[source_node_id, output_index]`. */
export type ApiLink = [string, number];

/** Array-valued widget values are wrapped so they cannot be mistaken for links. */
export interface WrappedValue {
  __value__: unknown[];
}

export type ApiInputValue = ApiLink | WrappedValue | string | number | boolean | null | Record<string, unknown>;

export interface ApiNode {
  class_type: string;
  inputs: Record<string, ApiInputValue>;
  /** Ignored by the backend; the frontend puts the node title here. */
  _meta?: { title?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export type ApiPrompt = Record<string, ApiNode>;

export type WorkflowFormat = 'ui' | 'api';

/** ComfyUI's `is_link`: a 2-element list `[string, int]`. */
export function isApiLink(value: unknown): value is ApiLink {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    typeof value[0] === 'string' &&
    typeof value[1] === 'number' &&
    Number.isInteger(value[1])
  );
}

export function isWrappedValue(value: unknown): value is WrappedValue {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Array.isArray((value as { __value__?: unknown }).__value__)
  );
}

/** The value a node receives: `{__value__: [...]}` unwrapped, everything else as is. */
export function unwrapValue(value: unknown): unknown {
  return isWrappedValue(value) ? value.__value__ : value;
}

export { parseUiWorkflow, parseApiPrompt, detectFormat, parseWorkflowJson, WorkflowFormatError } from './parse';
