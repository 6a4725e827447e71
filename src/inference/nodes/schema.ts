// Node schemas come from the one catalogue (ComfyUI's /object_info shapes), never retyped here,
// so the UI, validation and the implementations cannot drift apart.
import { getCoreSchema } from '../../workflow/catalog/catalog';
import type { ObjectInfoEntry } from '../../workflow/objectInfo';

export function schemaOf(name: string): ObjectInfoEntry {
  const s = getCoreSchema(name);
  if (!s) throw new Error(`node catalogue has no entry for '${name}'`);
  return s;
}
