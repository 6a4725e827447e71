// The node types ComfyUI's frontend defines itself (they are not in /object_info): Note,
// MarkdownNote, PrimitiveNode and the legacy Reroute node. All are "virtual": the UI → API
// conversion skips them (a Primitive's value reaches its targets' widgets, a Reroute passes its
// link through). Drawn and serialised the way ComfyUI's frontend does, so files round-trip.

import { LGraphCanvas, LGraphNode, LiteGraph, TitleMode, type IWidget } from '@comfyorg/litegraph';
import { CONTROL_WIDGET, SEED_CONTROL_VALUES, comboValues, type NodeTypeHooks } from './nodeTypes';
import { createMultilineWidget } from './multilineWidget';
import type { InputSpec } from '../../workflow/objectInfo';

const noop = () => {};

/** ComfyUI's sticky-note colours (LGraphCanvas.node_colors.yellow). */
function noteColours(node: LGraphNode): void {
  const yellow = LGraphCanvas.node_colors.yellow;
  node.color = yellow.color;
  node.bgcolor = yellow.bgcolor;
}

function makeNoteClass(title: string, hooks: NodeTypeHooks): typeof LGraphNode {
  class NoteNode extends LGraphNode {
    static override title = title;
    static override category = 'utils';
    override isVirtualNode = true;
    constructor(t?: string) {
      super(t ?? title);
      noteColours(this);
      this.properties = { text: '' };
      this.serialize_widgets = true;
      // ComfyUI's note widget has an empty name; the value is widgets_values[0].
      this.addCustomWidget(createMultilineWidget('text', '', { ...hooks, footer: undefined }) as unknown as IWidget);
      this.size = [400, 200];
    }
  }
  return NoteNode;
}

/** The number options ComfyUI's number widgets take from an INT/FLOAT spec. */
function numberOptions(type: string, o: Record<string, unknown>): Record<string, unknown> {
  const step = typeof o.step === 'number' && o.step > 0 ? o.step : type === 'INT' ? 1 : 0.5;
  const precision = type === 'INT' ? 0 : Math.max(0, Math.min(10, Math.round(-Math.log10(typeof o.round === 'number' && o.round > 0 ? o.round : step) + 0.4999)));
  return {
    min: typeof o.min === 'number' ? o.min : -Number.MAX_SAFE_INTEGER, max: typeof o.max === 'number' ? o.max : Number.MAX_SAFE_INTEGER,
    step: step * 10, step2: step, precision, round: type === 'INT' ? 1 : o.round,
  };
}

interface WidgetTarget { node: LGraphNode; name: string }

/**
 * A Primitive shows the widget of the input it feeds (the config stored on its output, as
 * ComfyUI writes it) and copies its value into every target's widget, so the graph shows,
 * saves and runs the same value.
 */
function makePrimitiveClass(hooks: NodeTypeHooks): typeof LGraphNode {
  class PrimitiveNode extends LGraphNode {
    static override title = 'Primitive';
    static override category = 'utils';
    override isVirtualNode = true;
    constructor(t?: string) {
      super(t ?? 'Primitive');
      this.serialize_widgets = true;
      this.addOutput('connect to widget input', '*');
    }
    /** litegraph calls this after the slots are configured and before widgets_values are applied. */
    override _internalConfigureAfterSlots(): void {
      if (this.widgets?.length) return;
      const out = this.outputs?.[0] as { type?: unknown; widget?: { name?: string; config?: InputSpec } } | undefined;
      const spec = out?.widget?.config ?? this.targetSpec();
      const name = out?.widget?.name ?? 'value';
      if (spec) this.buildWidgets(name, spec);
    }
    /** The spec of the first target input, when the output has no stored config. */
    private targetSpec(): InputSpec | undefined {
      const t = this.targets()[0];
      if (!t) return undefined;
      const input = t.node.inputs?.find((i) => (i as { widget?: { name?: string } }).widget?.name === t.name) as { widget?: { config?: InputSpec } } | undefined;
      return input?.widget?.config;
    }
    targets(): WidgetTarget[] {
      const out: WidgetTarget[] = [];
      for (const id of this.outputs?.[0]?.links ?? []) {
        const link = this.graph?.links?.get?.(id as never) ?? (this.graph?.links as unknown as Record<number, { target_id: number; target_slot: number }> | undefined)?.[id];
        if (!link) continue;
        const node = this.graph?.getNodeById(link.target_id);
        const input = node?.inputs?.[link.target_slot] as { name: string; widget?: { name?: string } } | undefined;
        if (node && input) out.push({ node, name: input.widget?.name ?? input.name });
      }
      return out;
    }
    private buildWidgets(name: string, spec: InputSpec): void {
      const [type, rawOpts] = spec;
      const o = (rawOpts ?? {}) as Record<string, unknown>;
      const values = comboValues(spec);
      const onChange = () => this.applyToTargets();
      if (values) {
        this.addWidget('combo', name, (o.default ?? values[0] ?? '') as string, onChange, { values });
        this.addWidget('combo', CONTROL_WIDGET, 'fixed', noop, { values: [...SEED_CONTROL_VALUES] });
        this.addWidget('text', 'control_filter_list', '', noop, {});
      } else if (type === 'INT' || type === 'FLOAT') {
        this.addWidget('number', name, typeof o.default === 'number' ? o.default : 0, onChange, numberOptions(type, o));
        this.addWidget('combo', CONTROL_WIDGET, 'fixed', noop, { values: [...SEED_CONTROL_VALUES] });
      } else if (type === 'STRING' && o.multiline) {
        this.addCustomWidget(createMultilineWidget(name, typeof o.default === 'string' ? o.default : '', {
          ...hooks,
          footer: undefined,
          widgetChanged: (node, w) => { this.applyToTargets(); hooks.widgetChanged(node, w); },
        }) as unknown as IWidget);
      } else if (type === 'STRING') {
        this.addWidget('text', name, typeof o.default === 'string' ? o.default : '', onChange, {});
      } else if (type === 'BOOLEAN') {
        this.addWidget('toggle', name, o.default === true, onChange, {});
      }
    }
    /** Copies the value into the targets' widgets (ComfyUI's applyToGraph). */
    applyToTargets(): void {
      const value = this.widgets?.[0]?.value;
      for (const t of this.targets()) {
        const w = t.node.widgets?.find((x) => x.name === t.name);
        if (w) w.value = value as never;
      }
    }
    override onWidgetChanged(name: string): void {
      this.applyToTargets();
      hooks.widgetChanged(this, name);
    }
    override onDrawForeground(ctx: CanvasRenderingContext2D): void {
      hooks.drawOverlay?.(this, ctx);
    }
  }
  return PrimitiveNode;
}

/** The legacy Reroute node: a small box that passes its input's type through. */
function makeRerouteClass(): typeof LGraphNode {
  class RerouteNode extends LGraphNode {
    static override title = 'Reroute';
    static override category = 'utils';
    static title_mode = TitleMode.NO_TITLE;
    override isVirtualNode = true;
    collapsable = false;
    constructor(t?: string) {
      super(t ?? 'Reroute');
      this.properties = { showOutputText: false, horizontal: false };
      this.addInput('', '*');
      this.addOutput('', '*');
      this.size = [75, 26];
    }
    override computeSize(): [number, number] {
      return [75, 26];
    }
    /** The output takes the type of what is connected upstream, so links keep their colour. */
    override onConnectionsChange(): void {
      const link = this.inputs?.[0]?.link != null ? this.graph?.links?.get?.(this.inputs[0].link as never) : undefined;
      const type = link?.type ?? '*';
      if (this.outputs?.[0]) this.outputs[0].type = type as string;
    }
  }
  return RerouteNode;
}

/** Registers ComfyUI's frontend-only node types. */
export function registerFrontendNodes(hooks: NodeTypeHooks): void {
  LiteGraph.registerNodeType('Note', makeNoteClass('Note', hooks));
  LiteGraph.registerNodeType('MarkdownNote', makeNoteClass('Markdown Note', hooks));
  LiteGraph.registerNodeType('PrimitiveNode', makePrimitiveClass(hooks));
  LiteGraph.registerNodeType('Reroute', makeRerouteClass());
  for (const t of ['Note', 'MarkdownNote', 'PrimitiveNode', 'Reroute']) {
    (LiteGraph.registered_node_types[t] as unknown as { category: string }).category = 'utils';
  }
}
