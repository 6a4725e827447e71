// Turns ComfyUI `/object_info` schemas into litegraph node classes, so the editor draws whatever
// catalogue the host sends (core nodes, custom nodes) without a line of node-specific code.
// Widget order must equal ComfyUI's, because `widgets_values` is positional: widget-typed inputs
// in `input_order` (required, then optional), with `control_after_generate` right after its seed
// and the upload button right after LoadImage's image combo.

import { LiteGraph, LGraphNode, type LGraphCanvas, type IWidget } from '@comfyorg/litegraph';
import type { InputOptions, InputSpec, ObjectInfo, ObjectInfoEntry } from '../../workflow/objectInfo';
import { createMultilineWidget } from './multilineWidget';
import type { PromptTextareas } from './promptTextareas';

export const SEED_CONTROL_VALUES = ['fixed', 'increment', 'decrement', 'randomize'] as const;
export const CONTROL_WIDGET = 'control_after_generate';

export interface NodeTypeHooks {
  /** Called after any widget value change (UI gesture or setValue). */
  widgetChanged(node: LGraphNode, name: string): void;
  /** The canvas, for the multiline prompt editor. */
  canvas(): LGraphCanvas | undefined;
  /** Per-node overlay drawing (execution state), called from onDrawForeground. */
  drawOverlay?(node: LGraphNode, ctx: CanvasRenderingContext2D): void;
  /** An upload button was clicked; `input` is the combo it fills (LoadImage's `image`). */
  upload?(node: LGraphNode, input: string): void;
  /** A note drawn under a multiline widget's text, e.g. a prompt's token count. */
  footer?(node: LGraphNode, widget: string): string | undefined;
  /** In-place editors of multiline STRING widgets. */
  textareas?(): PromptTextareas | undefined;
}

const noop = () => {};

function inputNames(entry: ObjectInfoEntry, group: 'required' | 'optional'): string[] {
  const listed = entry.input_order?.[group];
  return listed ?? Object.keys(entry.input?.[group] ?? {});
}

function decimals(x: number): number {
  if (!Number.isFinite(x) || x <= 0 || x >= 1) return 0;
  return Math.max(0, Math.min(10, Math.round(-Math.log10(x) + 0.4999)));
}

function numberOptions(kind: 'INT' | 'FLOAT', o: InputOptions): Record<string, unknown> {
  const step = typeof o.step === 'number' && o.step > 0 ? o.step : kind === 'INT' ? 1 : 0.5;
  const precision = kind === 'INT' ? 0 : typeof o.round === 'number' && o.round > 0 ? decimals(o.round) : decimals(step);
  // litegraph scales the legacy `step` by 0.1; `step2` is the step it really applies.
  return { min: o.min ?? (kind === 'INT' ? -Number.MAX_SAFE_INTEGER : -Infinity), max: o.max ?? Number.MAX_SAFE_INTEGER, step: step * 10, step2: step, precision, round: kind === 'INT' ? 1 : o.round };
}

/** The combo list of an input spec, or null when the input is not a combo. */
export function comboValues(spec: InputSpec): unknown[] | null {
  const [type, opts] = spec;
  if (Array.isArray(type)) return type;
  if (type === 'COMBO') return Array.isArray(opts?.options) ? (opts!.options as unknown[]) : [];
  return null;
}

function addInputWidgetOrSocket(node: LGraphNode, name: string, spec: InputSpec, hooks: NodeTypeHooks): void {
  const [type, rawOpts] = spec;
  const opts: InputOptions = rawOpts ?? {};
  const values = comboValues(spec);
  if (values) {
    node.addWidget('combo', name, (opts.default ?? values[0] ?? '') as string, noop, { values });
    if (opts.image_upload) {
      // ComfyUI's upload button stores the literal "image" in widgets_values; keep the slot.
      node.addWidget('button', 'upload', 'image' as never, ((_w: unknown, _c: unknown, target: LGraphNode) => hooks.upload?.(target ?? node, name)) as never, {});
    }
    return;
  }
  if (opts.forceInput || typeof type !== 'string') {
    node.addInput(name, typeof type === 'string' ? type : '*');
    return;
  }
  switch (type) {
    case 'INT':
    case 'FLOAT': {
      const def = typeof opts.default === 'number' ? opts.default : (opts.min ?? 0);
      node.addWidget('number', name, def, noop, numberOptions(type, opts));
      if (opts.control_after_generate) {
        node.addWidget('combo', CONTROL_WIDGET, 'randomize', noop, { values: [...SEED_CONTROL_VALUES] });
      }
      return;
    }
    case 'STRING': {
      const def = typeof opts.default === 'string' ? opts.default : '';
      if (opts.multiline) node.addCustomWidget(createMultilineWidget(name, def, hooks) as unknown as IWidget);
      else node.addWidget('text', name, def, noop, {});
      return;
    }
    case 'BOOLEAN':
      node.addWidget('toggle', name, opts.default === true, noop, { on: opts.label_on as string | undefined, off: opts.label_off as string | undefined });
      return;
    default:
      node.addInput(name, type);
  }
}

function makeNodeClass(comfyClass: string, entry: ObjectInfoEntry, hooks: NodeTypeHooks): typeof LGraphNode {
  const title = entry.display_name || comfyClass;
  class ComfyNode extends LGraphNode {
    static override title = title;
    static comfyClass = comfyClass;
    constructor(t?: string) {
      super(t ?? title);
      this.serialize_widgets = true;
      for (const group of ['required', 'optional'] as const) {
        for (const name of inputNames(entry, group)) {
          const spec = entry.input?.[group]?.[name];
          if (spec) addInputWidgetOrSocket(this, name, spec, hooks);
        }
      }
      const outputs = entry.output ?? [];
      outputs.forEach((type, i) => this.addOutput(entry.output_name?.[i] ?? type, type));
      this.size = this.computeSize();
    }
    override onWidgetChanged(name: string): void {
      hooks.widgetChanged(this, name);
    }
    override onDrawForeground(ctx: CanvasRenderingContext2D): void {
      hooks.drawOverlay?.(this, ctx);
    }
  }
  return ComfyNode;
}

/** Registers (or re-registers) one litegraph type per catalogue entry. Returns the count. */
export function registerNodeTypes(objectInfo: ObjectInfo, hooks: NodeTypeHooks): number {
  let n = 0;
  for (const [comfyClass, entry] of Object.entries(objectInfo)) {
    if (!entry || typeof entry !== 'object' || !entry.input) continue;
    const NodeClass = makeNodeClass(comfyClass, entry, hooks);
    LiteGraph.registerNodeType(comfyClass, NodeClass);
    // registerNodeType derives the category from a "path/Name" type; ComfyUI names have no path.
    (NodeClass as unknown as { category: string }).category = entry.category ?? '';
    n++;
  }
  return n;
}

/** The loose view of a widget these patches need (litegraph's union type narrows too eagerly). */
interface AnyWidget { type: string; name: string; value: unknown; options: Record<string, unknown> }

function widgetList(node: LGraphNode): AnyWidget[] {
  return (node.widgets ?? []) as unknown as AnyWidget[];
}

/**
 * The fixes ComfyUI's loader applies after `graph.configure`: legacy boolean seed controls,
 * null combos, and nodes stored smaller than their widgets need.
 */
export function applyPostLoadPatches(nodes: Iterable<LGraphNode>): void {
  for (const node of nodes) {
    for (const w of widgetList(node)) {
      if (w.name === CONTROL_WIDGET && typeof w.value === 'boolean') w.value = w.value ? 'randomize' : 'fixed';
      if (w.type === 'combo' && w.value == null) {
        const values = (w.options as { values?: unknown }).values;
        if (Array.isArray(values) && values.length > 0) w.value = values[0];
      }
    }
    if (!node.widgets?.length && !node.inputs?.length && !node.outputs?.length) continue;
    const min = node.computeSize();
    if (min[0] > node.size[0] || min[1] > node.size[1]) {
      node.setSize([Math.max(node.size[0], min[0]), Math.max(node.size[1], min[1])]);
    }
  }
}
