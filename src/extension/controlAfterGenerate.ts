// After a workflow is queued, ComfyUI's frontend advances every `control_after_generate` widget
// (default setting "after": the run used the value shown, the next run gets the new one). Marble
// does the same to the document, so the seed you see is the next one, as in ComfyUI. Pure.
import { widgetSlotsFor } from '../workflow/catalog/widgets';
import type { ObjectInfoEntry } from '../workflow/objectInfo';
import { applyControl, normaliseControlMode, type IntRange } from './seedControl';

interface NodeLike {
  id: number | string;
  type: string;
  mode?: number;
  widgets_values?: unknown[] | Record<string, unknown>;
}

export interface ControlChange {
  nodeId: string;
  widget: string;
  from: number;
  to: number;
}

/**
 * Returns a copy of `workflow` with every active node's INT control widgets applied, and the
 * list of changes (empty → nothing to write). Nodes without a schema are left alone.
 */
export function applyControlsAfterQueue<W extends { nodes: NodeLike[] }>(
  workflow: W,
  schemaOf: (classType: string) => ObjectInfoEntry | undefined,
  random: () => number = Math.random,
): { workflow: W; changes: ControlChange[] } {
  const out = structuredClone(workflow);
  const changes: ControlChange[] = [];
  for (const { node, values, index, target, mode } of advancingControls(out.nodes, schemaOf)) {
    const spec = target.spec;
    const value = values[index];
    if (!spec || spec[0] !== 'INT' || typeof value !== 'number') continue;
    const o = spec[1] ?? {};
    const range: IntRange = {
      min: typeof o.min === 'number' ? o.min : Number.MIN_SAFE_INTEGER,
      max: typeof o.max === 'number' ? o.max : Number.MAX_SAFE_INTEGER,
      step: 1,
    };
    const next = applyControl(mode, value, range, random);
    if (next !== value) {
      values[index] = next;
      changes.push({ nodeId: String(node.id), widget: target.name, from: value, to: next });
    }
  }
  return { workflow: out, changes };
}

/**
 * Every widget of an active node followed by a `control_after_generate` whose mode is not `fixed`:
 * the widgets a run advances. Muted (2) and bypassed (4) nodes do not run, and ComfyUI does not
 * advance their controls; an unknown mode is the user's text, left for the validator to report.
 */
function* advancingControls(nodes: NodeLike[], schemaOf: (classType: string) => ObjectInfoEntry | undefined) {
  for (const node of nodes) {
    if ((node.mode ?? 0) !== 0 || !Array.isArray(node.widgets_values)) continue;
    const schema = schemaOf(node.type);
    if (!schema) continue;
    const slots = widgetSlotsFor(schema);
    const values = node.widgets_values;
    for (let i = 1; i < Math.min(slots.length, values.length); i++) {
      if (slots[i]!.kind !== 'control_after_generate') continue;
      let mode;
      try {
        mode = normaliseControlMode(values[i]);
      } catch {
        continue;
      }
      if (mode !== 'fixed') yield { node, values, index: i - 1, target: slots[i - 1]!, mode };
    }
  }
}

/** One value a run used for a widget that has a (non-fixed) control after generate. */
export interface ControlledValue {
  nodeId: string;
  widget: string;
  value: number;
}

/**
 * The values a run of `workflow` uses for widgets whose control is not `fixed` (the seeds a user
 * may want to keep): what the editor shows on the node after the run.
 */
export function controlledValues(
  workflow: { nodes: NodeLike[] },
  schemaOf: (classType: string) => ObjectInfoEntry | undefined,
): ControlledValue[] {
  const out: ControlledValue[] = [];
  for (const { node, values, index, target } of advancingControls(workflow.nodes, schemaOf)) {
    const value = values[index];
    if (typeof value === 'number') out.push({ nodeId: String(node.id), widget: target.name, value });
  }
  return out;
}

/** The value a controlled widget goes to on the next run, and the document value it came from. */
export interface PendingControl {
  /** The widget's value in the document when the run that advanced it was queued. */
  docValue: number;
  /** The control widget's value in the document then ("Keep seed" sets it to fixed). */
  docControl: unknown;
  next: number;
}

const controlKey = (nodeId: string, widget: string) => `${nodeId}\u0000${widget}`;

/**
 * The workflow the next run uses when the file is left alone: the document, with each controlled
 * widget at its advanced value, unless the user changed that widget in the document since (then
 * the document's value wins, as typed). Other edits (a new prompt) keep the seeds moving.
 */
export function applyPendingControls<W extends { nodes: NodeLike[] }>(
  workflow: W,
  schemaOf: (classType: string) => ObjectInfoEntry | undefined,
  pending: ReadonlyMap<string, PendingControl>,
): W {
  if (pending.size === 0) return workflow;
  const out = structuredClone(workflow);
  for (const node of out.nodes) {
    if (!Array.isArray(node.widgets_values)) continue;
    const schema = schemaOf(node.type);
    if (!schema) continue;
    const values = node.widgets_values;
    widgetSlotsFor(schema).forEach((slot, i) => {
      const p = pending.get(controlKey(String(node.id), slot.name));
      if (p && values[i] === p.docValue && values[i + 1] === p.docControl) values[i] = p.next;
    });
  }
  return out;
}

/** Records what applyControlsAfterQueue advanced, against the document values they started from. */
export function pendingFromChanges(
  document: { nodes: NodeLike[] },
  schemaOf: (classType: string) => ObjectInfoEntry | undefined,
  changes: readonly ControlChange[],
): Map<string, PendingControl> {
  const out = new Map<string, PendingControl>();
  for (const c of changes) {
    const node = document.nodes.find((n) => String(n.id) === c.nodeId);
    const schema = node ? schemaOf(node.type) : undefined;
    if (!node || !schema || !Array.isArray(node.widgets_values)) continue;
    const i = widgetSlotsFor(schema).findIndex((s) => s.name === c.widget);
    const docValue = node.widgets_values[i];
    if (typeof docValue === 'number') out.set(controlKey(c.nodeId, c.widget), { docValue, docControl: node.widgets_values[i + 1], next: c.to });
  }
  return out;
}
