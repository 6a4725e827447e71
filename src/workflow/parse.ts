// Structural parsing of JSON.parse output into the typed formats. Errors name the JSON path and
// what was expected, because the user fixing a hand-edited or corrupt file needs exactly that.
// Unknown fields pass through untouched (ComfyUI's schemas are passthrough too).
import type {
  ApiNode,
  ApiPrompt,
  NodeId,
  UiLink,
  UiNode,
  UiNodeInput,
  UiNodeOutput,
  UiWorkflow,
  WorkflowFormat,
} from './types';

export class WorkflowFormatError extends Error {
  constructor(
    readonly path: string,
    readonly expected: string,
    received: unknown,
  ) {
    super(`${path || '(root)'}: expected ${expected}, got ${describe(received)}`);
    this.name = 'WorkflowFormatError';
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function obj(v: unknown, path: string, what = 'an object'): Obj {
  if (!isObj(v)) throw new WorkflowFormatError(path, what, v);
  return v;
}

function num(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new WorkflowFormatError(path, 'a number', v);
  return v;
}

function nodeId(v: unknown, path: string): NodeId {
  if ((typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v !== '')) return v;
  throw new WorkflowFormatError(path, 'a node id (number or string)', v);
}

/** litegraph writes vectors as `[x, y]`; old files have `{"0": x, "1": y}`. Both become tuples. */
function vec2(v: unknown, path: string, fallback?: [number, number]): [number, number] {
  if (v === undefined && fallback) return fallback;
  if (Array.isArray(v) && v.length >= 2) return [num(v[0], `${path}[0]`), num(v[1], `${path}[1]`)];
  if (isObj(v) && '0' in v && '1' in v) return [num(v['0'], `${path}.0`), num(v['1'], `${path}.1`)];
  throw new WorkflowFormatError(path, 'a pair [x, y]', v);
}

function linkType(v: unknown, path: string): string | string[] | number {
  if (typeof v === 'string' || typeof v === 'number') return v;
  if (Array.isArray(v) && v.every((t) => typeof t === 'string')) return v as string[];
  if (v === undefined || v === null) return '*';
  throw new WorkflowFormatError(path, 'a type name', v);
}

function parseInput(v: unknown, path: string): UiNodeInput {
  const o = obj(v, path);
  if (typeof o.name !== 'string') throw new WorkflowFormatError(`${path}.name`, 'a string', o.name);
  const link = o.link === undefined || o.link === null ? null : num(o.link, `${path}.link`);
  const out: UiNodeInput = { ...o, name: o.name, type: linkType(o.type, `${path}.type`), link };
  if (o.widget !== undefined) {
    const w = obj(o.widget, `${path}.widget`);
    if (typeof w.name !== 'string') throw new WorkflowFormatError(`${path}.widget.name`, 'a string', w.name);
    out.widget = { ...w, name: w.name };
  }
  return out;
}

function parseOutput(v: unknown, path: string): UiNodeOutput {
  const o = obj(v, path);
  if (typeof o.name !== 'string') throw new WorkflowFormatError(`${path}.name`, 'a string', o.name);
  let links: number[] | null = null;
  if (o.links !== undefined && o.links !== null) {
    if (!Array.isArray(o.links)) throw new WorkflowFormatError(`${path}.links`, 'an array of link ids or null', o.links);
    links = o.links.map((l, i) => num(l, `${path}.links[${i}]`));
  }
  return { ...o, name: o.name, type: linkType(o.type, `${path}.type`), links };
}

function parseNode(v: unknown, path: string): UiNode {
  const o = obj(v, path);
  if (typeof o.type !== 'string' || o.type === '') throw new WorkflowFormatError(`${path}.type`, 'the node class name (a string)', o.type);
  const node: UiNode = {
    ...o,
    id: nodeId(o.id, `${path}.id`),
    type: o.type,
    pos: vec2(o.pos, `${path}.pos`, [0, 0]),
    size: vec2(o.size, `${path}.size`, [200, 100]),
    flags: o.flags === undefined ? {} : obj(o.flags, `${path}.flags`),
    order: o.order === undefined ? 0 : num(o.order, `${path}.order`),
    mode: o.mode === undefined ? 0 : num(o.mode, `${path}.mode`),
    properties: o.properties === undefined ? {} : obj(o.properties, `${path}.properties`),
  };
  if (o.inputs !== undefined) {
    if (!Array.isArray(o.inputs)) throw new WorkflowFormatError(`${path}.inputs`, 'an array', o.inputs);
    node.inputs = o.inputs.map((x, i) => parseInput(x, `${path}.inputs[${i}]`));
  }
  if (o.outputs !== undefined) {
    if (!Array.isArray(o.outputs)) throw new WorkflowFormatError(`${path}.outputs`, 'an array', o.outputs);
    node.outputs = o.outputs.map((x, i) => parseOutput(x, `${path}.outputs[${i}]`));
  }
  if (o.widgets_values !== undefined && o.widgets_values !== null) {
    if (!Array.isArray(o.widgets_values) && !isObj(o.widgets_values)) {
      throw new WorkflowFormatError(`${path}.widgets_values`, 'an array (or an object keyed by widget name)', o.widgets_values);
    }
  } else {
    delete node.widgets_values;
  }
  if (o.title !== undefined && typeof o.title !== 'string') throw new WorkflowFormatError(`${path}.title`, 'a string', o.title);
  return node;
}

function parseLinkTuple(v: unknown, path: string): UiLink {
  if (!Array.isArray(v) || v.length < 6) {
    throw new WorkflowFormatError(path, '[link_id, origin_id, origin_slot, target_id, target_slot, type]', v);
  }
  return [
    num(v[0], `${path}[0]`),
    nodeId(v[1], `${path}[1]`),
    num(v[2], `${path}[2]`),
    nodeId(v[3], `${path}[3]`),
    num(v[4], `${path}[4]`),
    linkType(v[5], `${path}[5]`),
  ];
}

function parseLinkObject(v: unknown, path: string): UiLink {
  const o = obj(v, path, 'a link object {id, origin_id, origin_slot, target_id, target_slot, type}');
  return [
    num(o.id, `${path}.id`),
    nodeId(o.origin_id, `${path}.origin_id`),
    num(o.origin_slot, `${path}.origin_slot`),
    nodeId(o.target_id, `${path}.target_id`),
    num(o.target_slot, `${path}.target_slot`),
    linkType(o.type, `${path}.type`),
  ];
}

/**
 * Parses a UI workflow. Version 1 files (`state`, link objects, top-level `reroutes`) are
 * normalised to v0.4 so the rest of Marble deals with one shape; v1 reroutes move to
 * `extra.reroutes`, where v0.4 keeps native reroutes.
 */
export function parseUiWorkflow(value: unknown): UiWorkflow {
  const o = obj(value, '', 'a workflow object');
  if (!Array.isArray(o.nodes)) throw new WorkflowFormatError('nodes', 'an array of nodes', o.nodes);
  const nodes = o.nodes.map((n, i) => parseNode(n, `nodes[${i}]`));
  const rawLinks = o.links === undefined ? [] : o.links;
  if (!Array.isArray(rawLinks)) throw new WorkflowFormatError('links', 'an array of links', rawLinks);
  const isV1 = o.version === 1 || (o.state !== undefined && o.last_node_id === undefined);
  const links = rawLinks.map((l, i) =>
    Array.isArray(l) ? parseLinkTuple(l, `links[${i}]`) : parseLinkObject(l, `links[${i}]`),
  );
  if (o.groups !== undefined && !Array.isArray(o.groups)) throw new WorkflowFormatError('groups', 'an array', o.groups);
  if (o.extra !== undefined && o.extra !== null) obj(o.extra, 'extra');
  if (o.config !== undefined && o.config !== null) obj(o.config, 'config');

  const maxNodeId = nodes.reduce((m, n) => (typeof n.id === 'number' && n.id > m ? n.id : m), 0);
  const maxLinkId = links.reduce((m, l) => (l[0] > m ? l[0] : m), 0);
  const wf: UiWorkflow = { ...o, nodes, links, last_node_id: maxNodeId, last_link_id: maxLinkId, version: 0.4 };
  if (isV1) {
    const state = o.state === undefined ? {} : obj(o.state, 'state');
    wf.last_node_id = state.lastNodeId === undefined ? maxNodeId : nodeId(state.lastNodeId, 'state.lastNodeId');
    wf.last_link_id = state.lastLinkId === undefined ? maxLinkId : num(state.lastLinkId, 'state.lastLinkId');
    delete wf.state;
    if (o.reroutes !== undefined) {
      wf.extra = { ...(isObj(o.extra) ? o.extra : {}), reroutes: o.reroutes };
      delete wf.reroutes;
    }
  } else {
    if (o.last_node_id !== undefined) wf.last_node_id = nodeId(o.last_node_id, 'last_node_id');
    if (o.last_link_id !== undefined) wf.last_link_id = num(o.last_link_id, 'last_link_id');
    if (o.version !== undefined) wf.version = num(o.version, 'version');
  }
  return wf;
}

/** Parses an API prompt `{id: {class_type, inputs, _meta?}}`. Values are checked later by validation. */
export function parseApiPrompt(value: unknown): ApiPrompt {
  const o = obj(value, '', 'an API prompt object {node_id: {class_type, inputs}}');
  const out: ApiPrompt = {};
  for (const [id, raw] of Object.entries(o)) {
    const path = `prompt[${JSON.stringify(id)}]`;
    const n = obj(raw, path, 'a node {class_type, inputs}');
    if (typeof n.class_type !== 'string' || n.class_type === '') {
      throw new WorkflowFormatError(`${path}.class_type`, 'the node class name (a string)', n.class_type);
    }
    const inputs = n.inputs === undefined ? {} : obj(n.inputs, `${path}.inputs`);
    const node: ApiNode = { ...n, class_type: n.class_type, inputs: { ...inputs } as ApiNode['inputs'] };
    if (n._meta !== undefined) node._meta = { ...obj(n._meta, `${path}._meta`) };
    out[id] = node;
  }
  return out;
}

/** UI when there is a `nodes` array; API when every value is an object with `class_type` (the frontend's test). */
export function detectFormat(value: unknown): WorkflowFormat | undefined {
  if (!isObj(value)) return undefined;
  if (Array.isArray(value.nodes)) return 'ui';
  const vals = Object.values(value);
  if (vals.length > 0 && vals.every((v) => isObj(v) && 'class_type' in v)) return 'api';
  return undefined;
}

export type ParsedWorkflow = { format: 'ui'; workflow: UiWorkflow } | { format: 'api'; prompt: ApiPrompt };

/** Detects and parses either format; throws a WorkflowFormatError saying what was expected. */
export function parseWorkflowJson(value: unknown): ParsedWorkflow {
  const format = detectFormat(value);
  if (format === 'ui') return { format, workflow: parseUiWorkflow(value) };
  if (format === 'api') return { format, prompt: parseApiPrompt(value) };
  throw new WorkflowFormatError(
    '',
    'a ComfyUI workflow (an object with a "nodes" array) or an API prompt (an object whose every value has "class_type")',
    value,
  );
}
