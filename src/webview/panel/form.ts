// Reading and writing the generation form. Values travel as GenerateParams; the form never
// trusts its own fields: everything is parsed and checked with the protocol's validator, and the
// offending field is marked invalid with the validator's message.

import { SEED_MODES, generateParamsProblem, type GenerateParams } from '../../protocol/webview';
import { h } from '../dom';

type Field = HTMLElement & { value: string; invalid?: boolean };
export type Fields = Record<keyof GenerateParams, Field>;

const NUMBER_KEYS = ['width', 'height', 'steps', 'cfg', 'seed', 'batch'] as const;
const SELECT_KEYS = ['model', 'sampler', 'scheduler', 'seedMode'] as const;

/** Replaces a select's options; the chosen one is marked `selected` so no slotchange race matters. */
export function setOptions(select: HTMLElement, values: string[], selected: string | undefined): void {
  const chosen = selected !== undefined && values.includes(selected) ? selected : values[0];
  select.replaceChildren(...values.map((v) => h('vscode-option', { value: v, selected: v === chosen }, v)));
  if (chosen !== undefined) (select as Field).value = chosen;
}

export interface SelectLists { models: string[]; samplers: string[]; schedulers: string[] }

export function writeParams(fields: Fields, p: GenerateParams, lists: SelectLists): void {
  fields.prompt.value = p.prompt;
  fields.negative.value = p.negative;
  for (const k of NUMBER_KEYS) fields[k].value = String(p[k]);
  setOptions(fields.model, lists.models, p.model);
  setOptions(fields.sampler, lists.samplers, p.sampler);
  setOptions(fields.scheduler, lists.schedulers, p.scheduler);
  setOptions(fields.seedMode, [...SEED_MODES], p.seedMode);
}

export type ReadResult = { ok: true; params: GenerateParams } | { ok: false; field: keyof GenerateParams | undefined; message: string };

export function readParams(fields: Fields): ReadResult {
  const raw: Record<string, unknown> = {
    prompt: fields.prompt.value,
    negative: fields.negative.value,
  };
  for (const k of SELECT_KEYS) raw[k] = fields[k].value;
  // An empty or half-typed number field reads as NaN and is reported by the validator.
  for (const k of NUMBER_KEYS) raw[k] = fields[k].value.trim() === '' ? NaN : Number(fields[k].value);
  for (const k of Object.keys(fields) as (keyof GenerateParams)[]) fields[k].invalid = false;
  const problem = generateParamsProblem(raw);
  if (problem) {
    const key = /'(\w+)'/.exec(problem)?.[1] as keyof GenerateParams | undefined;
    if (key && fields[key]) fields[key].invalid = true;
    return { ok: false, field: key, message: problem.replace(/^generate: /, '') };
  }
  if (!raw.model) {
    fields.model.invalid = true;
    return { ok: false, field: 'model', message: 'no model selected: put a model folder under the configured models folders' };
  }
  return { ok: true, params: raw as unknown as GenerateParams };
}
