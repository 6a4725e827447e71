// Which inputs of a schema are widgets, in the order the frontend creates them. This is the map
// between a UI node's positional `widgets_values` and input names, shared by the converter, the
// webview and apiToUi, so all three agree on what slot k means.
import type { InputOptions, InputSpec, ObjectInfoEntry } from '../objectInfo';

export const WIDGET_TYPES: ReadonlySet<string> = new Set(['INT', 'FLOAT', 'STRING', 'BOOLEAN', 'COMBO']);

export type WidgetKind = 'input' | 'control_after_generate' | 'upload';

export interface WidgetSlot {
  /** Widget name; for kind 'input' it is the input name that reaches the API prompt. */
  name: string;
  kind: WidgetKind;
  /** The input this widget belongs to (for control/upload widgets: the input they serve). */
  input: string;
  /** For kind 'input': the input's spec. */
  spec?: InputSpec;
  /** UI-only widgets have `serialize: false` in the frontend: they never reach the API. */
  serialize: boolean;
}

/** Name the legacy (pre-2024) frontend gave the upload button; it was serialized into prompts. */
export const LEGACY_UPLOAD_WIDGET_NAME = 'choose file to upload';
export const UPLOAD_WIDGET_NAME = 'upload';

export function specOptions(spec: InputSpec | string | undefined): InputOptions {
  if (!Array.isArray(spec)) return {};
  const o = spec[1];
  return o && typeof o === 'object' ? o : {};
}

/** Combo values of a spec (`[[...values]]` or `["COMBO", {options}]`), undefined when not a combo. */
export function comboOptions(spec: InputSpec | undefined): unknown[] | undefined {
  if (!spec) return undefined;
  if (Array.isArray(spec[0])) return spec[0];
  if (spec[0] === 'COMBO') {
    const opts = specOptions(spec).options;
    return Array.isArray(opts) ? opts : [];
  }
  return undefined;
}

/** The type name used for links and type checks; combos are "COMBO". */
export function inputTypeName(spec: InputSpec | string | undefined): string {
  if (typeof spec === 'string') return spec;
  if (!spec) return '*';
  return Array.isArray(spec[0]) ? 'COMBO' : spec[0];
}

/** A widget, as opposed to a socket: primitive types and combos, unless `forceInput`. */
export function isWidgetInput(spec: InputSpec | undefined): boolean {
  if (!spec) return false;
  if (specOptions(spec).forceInput === true) return false;
  return Array.isArray(spec[0]) || WIDGET_TYPES.has(spec[0]);
}

/** Inputs in declaration order: `input_order` when present, else key order; required then optional. */
export function orderedInputs(schema: ObjectInfoEntry): Array<{ name: string; spec: InputSpec; required: boolean }> {
  const out: Array<{ name: string; spec: InputSpec; required: boolean }> = [];
  for (const section of ['required', 'optional'] as const) {
    const specs = schema.input[section] ?? {};
    const order = schema.input_order?.[section] ?? Object.keys(specs);
    const seen = new Set<string>();
    for (const name of [...order, ...Object.keys(specs)]) {
      if (seen.has(name) || !(name in specs)) continue;
      seen.add(name);
      out.push({ name, spec: specs[name], required: section === 'required' });
    }
  }
  return out;
}

export interface WidgetOptions {
  /** Name the upload button as the legacy frontend did ("choose file to upload"). */
  legacyUploadName?: boolean;
}

/**
 * Widget slots in creation order: each widget input, a `control_after_generate` combo right after
 * INT inputs flagged with it, and (as the frontend's upload extension appends an `upload` input to
 * `required`) one upload button after the required widgets when an input has `image_upload`.
 */
export function widgetSlotsFor(schema: ObjectInfoEntry, options: WidgetOptions = {}): WidgetSlot[] {
  const slots: WidgetSlot[] = [];
  const inputs = orderedInputs(schema);
  let uploadFor: string | undefined;
  const pushUpload = () => {
    if (uploadFor === undefined) return;
    const name = options.legacyUploadName ? LEGACY_UPLOAD_WIDGET_NAME : UPLOAD_WIDGET_NAME;
    slots.push({ name, kind: 'upload', input: uploadFor, serialize: false });
    uploadFor = undefined;
  };
  let inOptional = false;
  for (const { name, spec, required } of inputs) {
    if (!required && !inOptional) {
      inOptional = true;
      pushUpload();
    }
    if (!isWidgetInput(spec)) continue;
    const opts = specOptions(spec);
    slots.push({ name, kind: 'input', input: name, spec, serialize: true });
    const control = opts.control_after_generate;
    if (spec[0] === 'INT' && control) {
      const controlName = typeof control === 'string' ? control : 'control_after_generate';
      slots.push({ name: controlName, kind: 'control_after_generate', input: name, serialize: false });
    }
    if (opts.image_upload === true && required && uploadFor === undefined) uploadFor = name;
  }
  pushUpload();
  return slots;
}

/** Ordered widget names, e.g. KSampler → seed, control_after_generate, steps, cfg, … */
export function widgetNamesFor(schema: ObjectInfoEntry, options: WidgetOptions = {}): string[] {
  return widgetSlotsFor(schema, options).map((s) => s.name);
}
