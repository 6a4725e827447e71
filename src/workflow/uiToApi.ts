// UI workflow → API prompt, following the frontend's graphToPrompt (executionUtil.ts): widget
// values by name through the schema, links written after widgets (so a linked widget input wins),
// muted/bypassed/virtual nodes skipped with bypass passthrough, and links into dropped nodes
// removed at the end. Everything that cannot be converted becomes a warning, never a throw.
import { VIRTUAL_NODE_TYPES } from './catalog/catalog';
import { isWidgetInput, orderedInputs, widgetSlotsFor } from './catalog/widgets';
import { resolveDynamicPrompt } from './dynamicPrompts';
import type { ObjectInfoEntry } from './objectInfo';
import { toLookup, type SchemaSource } from './schemaSource';
import { NODE_MODE, type ApiInputValue, type ApiPrompt, type UiLink, type UiNode, type UiWorkflow } from './types';

export interface UiToApiOptions {
  /**
   * Also emit the upload button's value as input "choose file to upload", as the legacy frontend
   * did (the ComfyUI_examples PNGs carry it). The backend ignores it. Default false (current FE).
   */
  legacyUploadInput?: boolean;
  /** Resolve `{a|b}` choices and strip comments in dynamicPrompts widgets, like the FE. Default true. */
  dynamicPrompts?: boolean;
  /** Random source for dynamic prompts (tests pass a fixed one). */
  random?: () => number;
}

export interface UiToApiResult {
  prompt: ApiPrompt;
  warnings: string[];
}

function label(node: UiNode): string {
  return `node ${node.id} (${node.type})`;
}

/** The frontend's array-widget rule: arrays are wrapped so the backend can't read them as links. */
function toApiValue(value: unknown): ApiInputValue {
  if (Array.isArray(value)) return { __value__: value };
  if (value === undefined) return null;
  return value as ApiInputValue;
}

function widgetInputs(node: UiNode, schema: ObjectInfoEntry, opts: UiToApiOptions, warnings: string[]) {
  const inputs: Record<string, ApiInputValue> = {};
  const slots = widgetSlotsFor(schema, { legacyUploadName: opts.legacyUploadInput });
  const values = node.widgets_values;
  if (Array.isArray(values) && values.length > slots.length) {
    warnings.push(
      `${label(node)} has ${values.length} widget values but its schema defines ${slots.length} widgets ` +
        `(${slots.map((s) => s.name).join(', ') || 'none'}); the extra values were ignored`,
    );
  }
  slots.forEach((slot, i) => {
    const emit = slot.serialize || (slot.kind === 'upload' && opts.legacyUploadInput);
    if (!emit) return;
    let value: unknown;
    if (Array.isArray(values)) value = i < values.length ? values[i] : undefined;
    else if (values && typeof values === 'object') value = values[slot.name];
    if (value === undefined) {
      // The frontend creates the widget with its default when the saved array is short.
      value = slot.kind === 'upload' ? 'image' : (slot.spec?.[1] as { default?: unknown } | undefined)?.default;
      if (value === undefined) {
        warnings.push(`${label(node)}: no value for widget "${slot.name}" and its schema has no default`);
        return;
      }
    }
    if (slot.spec?.[1]?.dynamicPrompts === true && typeof value === 'string' && opts.dynamicPrompts !== false) {
      value = resolveDynamicPrompt(value, opts.random);
    }
    inputs[slot.name] = toApiValue(value);
  });
  return inputs;
}

export function uiToApi(workflow: UiWorkflow, catalog: SchemaSource, options: UiToApiOptions = {}): UiToApiResult {
  const lookup = toLookup(catalog);
  const warnings: string[] = [];
  const nodes = new Map<string, UiNode>();
  for (const n of workflow.nodes) {
    const key = String(n.id);
    if (nodes.has(key)) warnings.push(`node id ${key} appears more than once; the later node was ignored`);
    else nodes.set(key, n);
  }
  const links = new Map<number, UiLink>();
  for (const l of workflow.links) links.set(l[0], l);

  const isVirtual = (n: UiNode) => VIRTUAL_NODE_TYPES.has(n.type);
  const skipped = (n: UiNode) => n.mode === NODE_MODE.NEVER || n.mode === NODE_MODE.BYPASS || isVirtual(n);

  /** Follows a link through bypassed nodes and virtual (Reroute) nodes to the real source. */
  const resolve = (start: UiLink, wantedType: unknown): UiLink | undefined => {
    let link: UiLink | undefined = start;
    let parent = nodes.get(String(start[1]));
    for (let hops = 0; link && parent && hops <= nodes.size; hops++) {
      if (isVirtual(parent)) {
        const upstream: number | null | undefined = parent.inputs?.[link[2]]?.link;
        link = upstream == null ? undefined : links.get(upstream);
        parent = link ? nodes.get(String(link[1])) : undefined;
      } else if (parent.mode === NODE_MODE.BYPASS) {
        // Same index as the origin slot first, then the first input of the same type.
        const ins = parent.inputs ?? [];
        const order = [link[2], ...ins.keys()];
        const idx = order.find((k) => ins[k] !== undefined && ins[k].type === wantedType);
        if (idx === undefined) return undefined;
        const upstream: number | null = ins[idx].link;
        link = upstream == null ? undefined : links.get(upstream);
        parent = link ? nodes.get(String(link[1])) : undefined;
      } else {
        return link;
      }
    }
    return undefined;
  };

  const ordered = [...nodes.values()].sort((a, b) => a.order - b.order);
  const prompt: ApiPrompt = {};
  for (const node of ordered) {
    if (skipped(node)) continue;
    const schema = lookup(node.type);
    let inputs: Record<string, ApiInputValue> = {};
    if (schema) {
      inputs = widgetInputs(node, schema, options, warnings);
    } else {
      warnings.push(`${label(node)}: node type "${node.type}" is not installed; only its linked inputs were kept`);
      const wv = node.widgets_values;
      if (wv && !Array.isArray(wv)) for (const [k, v] of Object.entries(wv)) inputs[k] = toApiValue(v);
    }

    const linkInputs: Array<{ name: string; type: unknown; link: number }> = [];
    if (node.inputs) {
      for (const input of node.inputs) if (input.link != null) linkInputs.push({ name: input.name, type: input.type, link: input.link });
    } else if (schema) {
      // Minimal files without `inputs`: target_slot then indexes the schema's socket inputs.
      const sockets = orderedInputs(schema).filter((i) => !isWidgetInput(i.spec));
      for (const l of workflow.links) {
        if (String(l[3]) !== String(node.id)) continue;
        const socket = sockets[l[4]];
        if (socket) linkInputs.push({ name: socket.name, type: l[5], link: l[0] });
        else warnings.push(`link ${l[0]} targets input slot ${l[4]} of ${label(node)}, which has no such input`);
      }
    }
    for (const input of linkInputs) {
      const link = links.get(input.link);
      if (!link) {
        warnings.push(`${label(node)} input "${input.name}" refers to link ${input.link}, which is not in the links list`);
        continue;
      }
      const source = resolve(link, input.type);
      if (source) inputs[input.name] = [String(source[1]), source[2]];
    }
    prompt[String(node.id)] = {
      inputs,
      class_type: node.type,
      _meta: { title: node.title ?? schema?.display_name ?? node.type },
    };
  }

  // Links into nodes that are not in the prompt (muted, unresolvable bypass) are removed.
  for (const [id, apiNode] of Object.entries(prompt)) {
    for (const [name, value] of Object.entries(apiNode.inputs)) {
      if (Array.isArray(value) && !(String(value[0]) in prompt)) {
        delete apiNode.inputs[name];
        const src = nodes.get(String(value[0]));
        warnings.push(
          `node ${id} (${apiNode.class_type}) input "${name}" was linked to node ${value[0]}` +
            `${src ? ` (${src.type})` : ''}, which is not executed; the link was dropped`,
        );
      }
    }
  }
  return { prompt, warnings };
}
