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
  for (const node of out.nodes) {
    // Muted (2) and bypassed (4) nodes do not run, and ComfyUI does not advance their controls.
    if ((node.mode ?? 0) !== 0 || !Array.isArray(node.widgets_values)) continue;
    const schema = schemaOf(node.type);
    if (!schema) continue;
    const slots = widgetSlotsFor(schema);
    const values = node.widgets_values;
    slots.forEach((slot, i) => {
      if (slot.kind !== 'control_after_generate' || i === 0 || i >= values.length) return;
      const target = slots[i - 1]!;
      const spec = target.spec;
      if (!spec || spec[0] !== 'INT') return;
      const value = values[i - 1];
      if (typeof value !== 'number') return;
      let mode;
      try {
        mode = normaliseControlMode(values[i]);
      } catch {
        return; // An unknown mode is the user's text; leave it for the validator to report.
      }
      if (mode === 'fixed') return;
      const o = spec[1] ?? {};
      const range: IntRange = {
        min: typeof o.min === 'number' ? o.min : Number.MIN_SAFE_INTEGER,
        max: typeof o.max === 'number' ? o.max : Number.MAX_SAFE_INTEGER,
        step: 1,
      };
      const next = applyControl(mode, value, range, random);
      if (next !== value) {
        values[i - 1] = next;
        changes.push({ nodeId: String(node.id), widget: target.name, from: value, to: next });
      }
    });
  }
  return { workflow: out, changes };
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
  for (const node of workflow.nodes) {
    if ((node.mode ?? 0) !== 0 || !Array.isArray(node.widgets_values)) continue;
    const schema = schemaOf(node.type);
    if (!schema) continue;
    const slots = widgetSlotsFor(schema);
    const values = node.widgets_values;
    slots.forEach((slot, i) => {
      if (slot.kind !== 'control_after_generate' || i === 0 || i >= values.length) return;
      const value = values[i - 1];
      let mode;
      try {
        mode = normaliseControlMode(values[i]);
      } catch {
        return;
      }
      if (mode !== 'fixed' && typeof value === 'number') out.push({ nodeId: String(node.id), widget: slots[i - 1]!.name, value });
    });
  }
  return out;
}
