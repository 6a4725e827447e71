// Prompt validation with ComfyUI's result shape (execution.py validate_prompt/validate_inputs):
// output nodes are roots, each is validated through its linked inputs, only the node where a
// problem is gets reasons, and outputs that validate still run. Values are coerced on a copy.
import { comboOptions, inputTypeName, specOptions } from './catalog/widgets';
import { coerceForType } from './coerce';
import { folderOfHint, matchModelName } from './modelNames';
import type { NodeRegistry } from './nodeDefinition';
import type { InputSpec } from './objectInfo';
import { isRegistry, toLookup, type SchemaLookup, type SchemaSource } from './schemaSource';
import { isWrappedValue, type ApiPrompt } from './types';

export interface ValidationReason {
  type: string;
  message: string;
  details: string;
  extra_info: { input_name?: string; input_config?: unknown; received_value?: unknown; [key: string]: unknown };
}

export interface NodeValidationErrors {
  errors: ValidationReason[];
  dependent_outputs: string[];
  class_type: string;
}

export interface ValidationResult {
  ok: boolean;
  error?: ValidationReason;
  node_errors: Record<string, NodeValidationErrors>;
  /** Output node ids that validated (they run even when others failed). */
  outputs: string[];
  /** A copy of the prompt with `{__value__}` unwrapped and INT/FLOAT/STRING/BOOLEAN coerced. */
  prompt: ApiPrompt;
}

export interface ValidateOptions {
  /** Options of folder-backed combos (empty in the schema): checked only when this returns a list. */
  comboValues?: (classType: string, inputName: string) => readonly string[] | undefined;
  /** Restrict the roots to these output nodes (ComfyUI's partial_execution_targets). */
  outputs?: string[];
}

/** Results of NodeDefinition.validateInputs, gathered before the synchronous pass. */
type CustomResults = Map<string, { reasons: ValidationReason[]; skip: ReadonlySet<string> }>;

const COMBO_LIST_LIMIT = 20;

function reason(type: string, message: string, details: string, extra: ValidationReason['extra_info'] = {}): ValidationReason {
  return { type, message, details, extra_info: extra };
}

/** ComfyUI's validate_node_input: equal, either is "*", or the comma-separated unions intersect. */
export function typesCompatible(received: string, expected: string): boolean {
  if (received === expected || received === '*' || expected === '*') return true;
  const r = new Set(received.split(',').map((t) => t.trim()));
  return expected.split(',').some((t) => r.has(t.trim()));
}

function label(id: string, classType: string): string {
  return `node ${id} (${classType})`;
}

function validateSync(prompt: ApiPrompt, lookup: SchemaLookup, options: ValidateOptions, custom: CustomResults): ValidationResult {
  const copy: ApiPrompt = structuredClone(prompt);
  for (const [id, node] of Object.entries(copy)) {
    const details = `Node ID '#${id}'`;
    if (typeof node?.class_type !== 'string') {
      const error = reason('invalid_prompt', 'Cannot execute because a node is missing the class_type property.', details);
      return { ok: false, error, node_errors: {}, outputs: [], prompt: copy };
    }
    if (!lookup(node.class_type)) {
      const error = reason('invalid_prompt', `Cannot execute because node ${node.class_type} does not exist.`, details, { node_id: id });
      return { ok: false, error, node_errors: {}, outputs: [], prompt: copy };
    }
    if (typeof node.inputs !== 'object' || node.inputs === null || Array.isArray(node.inputs)) node.inputs = {};
  }

  let roots = Object.keys(copy).filter((id) => lookup(copy[id].class_type)!.output_node === true);
  if (options.outputs) roots = roots.filter((id) => options.outputs!.includes(id));
  if (roots.length === 0) {
    return { ok: false, error: reason('prompt_no_outputs', 'Prompt has no outputs', ''), node_errors: {}, outputs: [], prompt: copy };
  }

  const validated = new Map<string, { valid: boolean; reasons: ValidationReason[] }>();
  const onStack: string[] = [];

  const validateNode = (id: string): boolean => {
    const done = validated.get(id);
    if (done) return done.valid;
    onStack.push(id);
    const node = copy[id];
    const schema = lookup(node.class_type)!;
    const reasons: ValidationReason[] = [];
    let valid = true;
    const skip = custom.get(id)?.skip ?? new Set<string>();
    const required = schema.input.required ?? {};
    const all: Array<[string, InputSpec, boolean]> = [
      ...Object.entries(required).map(([k, s]) => [k, s, true] as [string, InputSpec, boolean]),
      ...Object.entries(schema.input.optional ?? {}).map(([k, s]) => [k, s, false] as [string, InputSpec, boolean]),
    ];
    for (const [name, spec, isRequired] of all) {
      const where = `${label(id, node.class_type)} input "${name}"`;
      if (!(name in node.inputs)) {
        if (isRequired) {
          reasons.push(reason('required_input_missing', 'Required input is missing', `${name} (${where}: expected ${describeSpec(spec)})`, { input_name: name }));
        }
        continue;
      }
      const val: unknown = node.inputs[name];
      const expectedType = inputTypeName(spec);
      if (Array.isArray(val)) {
        const extra = { input_name: name, input_config: spec, received_value: val };
        if (val.length !== 2) {
          reasons.push(reason('bad_linked_input', 'Bad linked input, must be a length-2 list of [node_id, slot_index]', `${name} (${where})`, extra));
          continue;
        }
        const srcId = String(val[0]);
        const src = copy[srcId];
        const srcSchema = src ? lookup(src.class_type) : undefined;
        if (!src || !srcSchema) {
          reasons.push(reason('bad_linked_input', 'Bad linked input, the linked node does not exist', `${name}: ${where} links to node '${srcId}', which is not in the prompt`, extra));
          continue;
        }
        const slot = val[1];
        if (typeof slot !== 'number' || !Number.isInteger(slot) || slot < 0 || slot >= srcSchema.output.length) {
          reasons.push(reason('bad_linked_input', 'Bad linked input, the output slot does not exist', `${name}: ${where} links to output ${JSON.stringify(slot)} of ${label(srcId, src.class_type)}, which has ${srcSchema.output.length} output(s)`, extra));
          continue;
        }
        const out = srcSchema.output[slot] as unknown;
        const received = Array.isArray(out) ? 'COMBO' : String(out);
        if (!typesCompatible(received, expectedType)) {
          reasons.push(reason('return_type_mismatch', 'Return type mismatch between linked nodes', `${name}, received_type(${received}) mismatch input_type(${expectedType}) (${where} is linked to output ${slot} of ${label(srcId, src.class_type)})`, { input_name: name, input_config: spec, received_type: received, linked_node: val }));
          continue;
        }
        if (onStack.includes(srcId)) {
          const cycle = [...onStack.slice(onStack.indexOf(srcId)), srcId].join(' → ');
          reasons.push(reason('dependency_cycle', 'Dependency cycle detected', `${name}: ${where} depends on its own output through ${cycle}`, { input_name: name, cycle: [...onStack.slice(onStack.indexOf(srcId))] }));
          continue;
        }
        if (!validateNode(srcId)) valid = false;
        continue;
      }

      let value = isWrappedValue(val) ? val.__value__ : val;
      const converted = coerceForType(expectedType, value);
      if (!converted.ok) {
        reasons.push(reason('invalid_input_type', `Failed to convert an input value to a ${expectedType} value`, `${name}, ${JSON.stringify(value)}, ${converted.message} (${where})`, { input_name: name, input_config: spec, received_value: value, exception_message: converted.message }));
        continue;
      }
      value = converted.value;
      node.inputs[name] = value as ApiPrompt[string]['inputs'][string];
      if (skip.has(name)) continue;
      // Python's float('nan') slips past ComfyUI's min/max comparisons and poisons every step
      // after it; Marble refuses it here, before any model runs.
      if (typeof value === 'number' && Number.isNaN(value)) {
        reasons.push(reason('value_not_a_number', 'Value is not a number (NaN)', `${name} (${where}: expected ${describeSpec(spec)})`, { input_name: name, input_config: spec, received_value: value }));
        continue;
      }
      const opts = specOptions(spec);
      if (typeof value === 'number' && typeof opts.min === 'number' && value < opts.min) {
        reasons.push(reason('value_smaller_than_min', `Value ${value} smaller than min of ${opts.min}`, `${name} (${where})`, { input_name: name, input_config: spec, received_value: value }));
      }
      if (typeof value === 'number' && typeof opts.max === 'number' && value > opts.max) {
        reasons.push(reason('value_bigger_than_max', `Value ${value} bigger than max of ${opts.max}`, `${name} (${where})`, { input_name: name, input_config: spec, received_value: value }));
      }
      const combo = comboOptions(spec);
      if (combo) {
        const folderBacked = combo.length === 0;
        const list = folderBacked ? options.comboValues?.(node.class_type, name) : combo;
        if (list) {
          const ok = folderBacked ? typeof value === 'string' && matchModelName(value, list as string[]) !== undefined : list.some((o) => o === value);
          if (!ok) {
            const big = list.length > COMBO_LIST_LIMIT;
            // ComfyUI prints "(list of length N)" past 20 options; naming them is what lets a user
            // act (which samplers exist, which models are installed), so Marble lists up to 60.
            const names = list.slice(0, 60).map((o) => `'${String(o)}'`).join(', ');
            const shown = `[${names}${list.length > 60 ? `, … ${list.length - 60} more` : ''}]`;
            const folder = folderOfHint(opts.x_folder);
            const hint = folderBacked ? ` (no such model in ${folder ?? 'the models folder'})` : '';
            reasons.push(reason('value_not_in_list', 'Value not in list', `${name}: '${String(value)}' not in ${shown}${hint} (${where})`, { input_name: name, input_config: big ? null : spec, received_value: value }));
          }
        }
      }
    }
    reasons.push(...(custom.get(id)?.reasons ?? []));
    if (reasons.length > 0) valid = false;
    onStack.pop();
    validated.set(id, { valid, reasons });
    return valid;
  };

  const good: string[] = [];
  const nodeErrors: Record<string, NodeValidationErrors> = {};
  for (const root of roots) {
    if (validateNode(root)) {
      good.push(root);
      continue;
    }
    for (const [id, r] of validated) {
      if (r.valid || r.reasons.length === 0 || !dependsOn(copy, root, id)) continue;
      nodeErrors[id] ??= { errors: r.reasons, dependent_outputs: [], class_type: copy[id].class_type };
      if (!nodeErrors[id].dependent_outputs.includes(root)) nodeErrors[id].dependent_outputs.push(root);
    }
  }
  if (good.length === 0) {
    const lines = Object.entries(nodeErrors).flatMap(([, e]) => e.errors.map((r) => `${r.message}: ${r.details}`));
    const error = reason('prompt_outputs_failed_validation', 'Prompt outputs failed validation', lines.join('\n'));
    return { ok: false, error, node_errors: nodeErrors, outputs: [], prompt: copy };
  }
  return { ok: true, node_errors: nodeErrors, outputs: good, prompt: copy };
}

/** True when `id` is `root` or upstream of it. */
function dependsOn(prompt: ApiPrompt, root: string, id: string): boolean {
  const seen = new Set<string>();
  const stack = [root];
  while (stack.length) {
    const cur = stack.pop()!;
    if (cur === id) return true;
    if (seen.has(cur) || !prompt[cur]) continue;
    seen.add(cur);
    for (const v of Object.values(prompt[cur].inputs)) if (Array.isArray(v) && v.length === 2) stack.push(String(v[0]));
  }
  return false;
}

function describeSpec(spec: InputSpec): string {
  const type = inputTypeName(spec);
  return type === 'COMBO' ? 'a value from a list' : `a ${type}`;
}

/** Validation against schemas only (no node-specific VALIDATE_INPUTS); usable in the webview. */
export function validatePromptSync(prompt: ApiPrompt, source: SchemaSource, options: ValidateOptions = {}): ValidationResult {
  return validateSync(prompt, toLookup(source), options, new Map());
}

/**
 * Full validation. With a NodeRegistry, each node's `validateInputs` is called with its coerced
 * constant inputs (nodes upstream of outputs only); inputs it lists in `validatesInputs` skip the
 * generic min/max/list checks, as in ComfyUI.
 */
export async function validatePrompt(prompt: ApiPrompt, source: SchemaSource, options: ValidateOptions = {}): Promise<ValidationResult> {
  const lookup = toLookup(source);
  const custom: CustomResults = new Map();
  if (isRegistry(source)) await runCustomValidators(prompt, source, lookup, custom);
  return validateSync(prompt, lookup, options, custom);
}

async function runCustomValidators(prompt: ApiPrompt, registry: NodeRegistry, lookup: SchemaLookup, out: CustomResults): Promise<void> {
  const roots = Object.keys(prompt).filter((id) => lookup(prompt[id]?.class_type)?.output_node === true);
  const reachable = new Set<string>();
  const stack = [...roots];
  while (stack.length) {
    const id = stack.pop()!;
    if (reachable.has(id) || !prompt[id]) continue;
    reachable.add(id);
    for (const v of Object.values(prompt[id].inputs ?? {})) if (Array.isArray(v) && v.length === 2) stack.push(String(v[0]));
  }
  for (const id of reachable) {
    const node = prompt[id];
    const def = registry.get(node.class_type);
    if (!def?.validateInputs) continue;
    const constants: Record<string, unknown> = {};
    let convertible = true;
    for (const [name, val] of Object.entries(node.inputs ?? {})) {
      if (Array.isArray(val)) continue;
      const spec = def.schema.input.required?.[name] ?? def.schema.input.optional?.[name];
      const c = coerceForType(inputTypeName(spec), isWrappedValue(val) ? val.__value__ : val);
      if (!c.ok) convertible = false;
      else constants[name] = c.value;
    }
    if (!convertible) continue; // the conversion error is reported by the generic pass
    let result: true | string;
    try {
      result = await def.validateInputs(constants);
    } catch (e) {
      result = e instanceof Error ? e.message : String(e);
    }
    const reasons =
      result === true
        ? []
        : [reason('custom_validation_failed', 'Custom validation failed for node', `${label(id, node.class_type)}: ${result}`, { input_name: def.validatesInputs?.[0] ?? '' })];
    out.set(id, { reasons, skip: new Set(def.validatesInputs ?? []) });
  }
}

