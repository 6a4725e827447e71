// API prompt → UI workflow (v0.4), like the frontend's loadApiJson plus an automatic layout:
// nodes go in columns by dependency depth, stacked without overlaps. Widget values are written in
// schema widget order (so uiToApi reads them back), linked widget inputs become sockets, and
// unknown classes are kept as nodes whose constants go into an object `widgets_values`.
import { comboOptions, orderedInputs, isWidgetInput, inputTypeName, widgetSlotsFor } from './catalog/widgets';
import type { ObjectInfoEntry } from './objectInfo';
import { toLookup, type SchemaSource } from './schemaSource';
import { isApiLink, unwrapValue, type ApiPrompt, type NodeId, type UiLink, type UiNode, type UiNodeInput, type UiWorkflow } from './types';

export interface ApiToUiResult {
  workflow: UiWorkflow;
  warnings: string[];
}

const COLUMN_GAP = 80;
const ROW_GAP = 40;
const ORIGIN: [number, number] = [50, 50];
const NODE_WIDTH = 315;
const TITLE_H = 30;
const SLOT_H = 20;
const WIDGET_H = 24;

function numericId(id: string): NodeId {
  return /^(0|[1-9]\d{0,14})$/.test(id) ? Number(id) : id;
}

/** Depth = longest chain of links from a node without linked inputs; cycles are cut. */
function depths(prompt: ApiPrompt): Map<string, number> {
  const memo = new Map<string, number>();
  const visiting = new Set<string>();
  const depth = (id: string): number => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0;
    visiting.add(id);
    let d = 0;
    for (const v of Object.values(prompt[id].inputs)) {
      if (isApiLink(v) && v[0] in prompt) d = Math.max(d, depth(v[0]) + 1);
    }
    visiting.delete(id);
    memo.set(id, d);
    return d;
  };
  for (const id of Object.keys(prompt)) depth(id);
  return memo;
}

function defaultFor(schema: ObjectInfoEntry, name: string): unknown {
  const spec = schema.input.required?.[name] ?? schema.input.optional?.[name];
  const d = spec?.[1]?.default;
  if (d !== undefined) return d;
  const combo = comboOptions(spec);
  if (combo && combo.length > 0) return combo[0];
  return null;
}

export function apiToUi(prompt: ApiPrompt, catalog: SchemaSource): ApiToUiResult {
  const lookup = toLookup(catalog);
  const warnings: string[] = [];
  const ids = Object.keys(prompt);
  const nodes = new Map<string, UiNode>();
  const links: UiLink[] = [];

  for (const id of ids) {
    const api = prompt[id];
    const schema = lookup(api.class_type);
    const inputs: UiNodeInput[] = [];
    const node: UiNode = {
      id: numericId(id),
      type: api.class_type,
      pos: [0, 0],
      size: [NODE_WIDTH, 0],
      flags: {},
      order: 0,
      mode: 0,
      inputs,
      outputs: [],
      properties: { 'Node name for S&R': api.class_type },
    };
    if (api._meta?.title !== undefined && api._meta.title !== (schema?.display_name ?? api.class_type)) node.title = api._meta.title;
    let widgetCount = 0;
    if (schema) {
      for (const { name, spec } of orderedInputs(schema)) {
        const linked = isApiLink(api.inputs[name]);
        if (!isWidgetInput(spec)) inputs.push({ name, type: inputTypeName(spec), link: null });
        else if (linked) inputs.push({ name, type: inputTypeName(spec), widget: { name }, link: null });
      }
      const values: unknown[] = [];
      for (const slot of widgetSlotsFor(schema)) {
        if (slot.kind === 'control_after_generate') values.push('fixed');
        else if (slot.kind === 'upload') values.push('image');
        else {
          const v = api.inputs[slot.name];
          values.push(v === undefined || isApiLink(v) ? defaultFor(schema, slot.name) : unwrapValue(v));
        }
      }
      widgetCount = values.length;
      if (values.length > 0) node.widgets_values = values;
      node.outputs = schema.output.map((type, i) => ({ name: schema.output_name[i] ?? type, type, links: null, slot_index: i }));
      for (const name of Object.keys(api.inputs)) {
        if (!orderedInputs(schema).some((i) => i.name === name)) {
          warnings.push(`node ${id} (${api.class_type}) input "${name}" is not in the schema and was dropped`);
        }
      }
    } else {
      warnings.push(`node ${id}: node type "${api.class_type}" is not installed; kept with its inputs as sockets`);
      const constants: Record<string, unknown> = {};
      for (const [name, v] of Object.entries(api.inputs)) {
        if (isApiLink(v)) inputs.push({ name, type: '*', link: null });
        else constants[name] = unwrapValue(v);
      }
      if (Object.keys(constants).length > 0) node.widgets_values = constants;
      widgetCount = Object.keys(constants).length;
    }
    const slots = Math.max(inputs.length, node.outputs?.length ?? 0);
    node.size = [NODE_WIDTH, TITLE_H + slots * SLOT_H + widgetCount * WIDGET_H + 10];
    nodes.set(id, node);
  }

  // Links in prompt order; the type comes from the source schema's outputs.
  for (const id of ids) {
    const target = nodes.get(id)!;
    for (const [name, v] of Object.entries(prompt[id].inputs)) {
      if (!isApiLink(v)) continue;
      const source = nodes.get(v[0]);
      if (!source) {
        warnings.push(`node ${id} (${target.type}) input "${name}" links to node ${v[0]}, which is not in the prompt; link dropped`);
        continue;
      }
      const slot = target.inputs!.findIndex((i) => i.name === name);
      if (slot < 0) continue;
      const srcSchema = lookup(source.type);
      const type = srcSchema?.output[v[1]] ?? '*';
      while (source.outputs!.length <= v[1]) {
        const k = source.outputs!.length;
        source.outputs!.push({ name: `output_${k}`, type: '*', links: null, slot_index: k });
      }
      const linkId = links.length + 1;
      links.push([linkId, source.id, v[1], target.id, slot, type]);
      target.inputs![slot].link = linkId;
      if (target.inputs![slot].type === '*') target.inputs![slot].type = type;
      const out = source.outputs![v[1]];
      out.links = [...(out.links ?? []), linkId];
    }
  }

  layout(prompt, nodes);
  const list = [...nodes.values()];
  const maxId = list.reduce((m, n) => (typeof n.id === 'number' && n.id > m ? n.id : m), 0);
  const workflow: UiWorkflow = {
    last_node_id: maxId,
    last_link_id: links.length,
    nodes: list,
    links,
    groups: [],
    config: {},
    extra: { ds: { offset: [0, 0], scale: 1 } },
    version: 0.4,
  };
  return { workflow, warnings };
}

function layout(prompt: ApiPrompt, nodes: Map<string, UiNode>): void {
  const depth = depths(prompt);
  const columns: string[][] = [];
  for (const id of Object.keys(prompt)) (columns[depth.get(id) ?? 0] ??= []).push(id);
  let x = ORIGIN[0];
  let order = 0;
  for (const column of columns) {
    if (!column) continue;
    let y = ORIGIN[1];
    let width = 0;
    for (const id of column) {
      const node = nodes.get(id)!;
      node.pos = [x, y];
      node.order = order++;
      y += node.size[1] + ROW_GAP;
      width = Math.max(width, node.size[0]);
    }
    x += width + COLUMN_GAP;
  }
}
