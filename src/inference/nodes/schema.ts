// Node schemas come from the one catalogue (ComfyUI's /object_info shapes), never retyped here,
// so the UI, validation and the implementations cannot drift apart.
import { getCoreSchema } from '../../workflow/catalog/catalog';
import type { ObjectInfoEntry } from '../../workflow/objectInfo';

export function schemaOf(name: string): ObjectInfoEntry {
  const s = getCoreSchema(name);
  if (!s) throw new Error(`node catalogue has no entry for '${name}'`);
  return s;
}

/** The schema with one combo input's option list replaced (e.g. only the samplers Marble implements). */
export function withComboOptions(schema: ObjectInfoEntry, input: string, values: readonly string[]): ObjectInfoEntry {
  const copy = structuredClone(schema);
  for (const group of [copy.input.required, copy.input.optional]) {
    const spec = group?.[input];
    if (spec && Array.isArray(spec[0])) spec[0] = [...values];
  }
  return copy;
}
