// After a model was added (a download), every open graph editor gets the new lists of its
// folder-backed combos (ckpt_name, vae_name, lora_name, …) through `comboValues`, so the file can
// be chosen at once, without reopening the editor or restarting the backend.
import type { GraphComboValues } from '../protocol/webview';
import { folderOfHint } from '../workflow/modelNames';
import type { InputSpec, ObjectInfo } from '../workflow/objectInfo';

/** The model combos whose values differ between `current` and `fresh` (input-folder lists are left alone). */
export function modelComboChanges(current: ObjectInfo, fresh: ObjectInfo): GraphComboValues[] {
  const changes: GraphComboValues[] = [];
  for (const [classType, entry] of Object.entries(fresh)) {
    const groups = [entry.input.required ?? {}, entry.input.optional ?? {}];
    for (const group of groups) {
      for (const [input, spec] of Object.entries(group) as [string, InputSpec][]) {
        const folder = folderOfHint(spec?.[1]?.x_folder);
        if (!folder || folder === 'input' || !Array.isArray(spec[0])) continue;
        const old = current[classType]?.input.required?.[input] ?? current[classType]?.input.optional?.[input];
        const before = Array.isArray(old?.[0]) ? (old[0] as unknown[]) : [];
        const after = spec[0] as string[];
        if (before.length !== after.length || before.some((v, i) => v !== after[i])) {
          changes.push({ type: 'comboValues', classType, input, values: [...after] });
        }
      }
    }
  }
  return changes;
}

/** `current` with the changed combos' values replaced (other entries shared, not copied). */
export function applyComboChanges(current: ObjectInfo, changes: GraphComboValues[]): ObjectInfo {
  const out: ObjectInfo = { ...current };
  for (const c of changes) {
    const entry = out[c.classType];
    if (!entry) continue;
    const where = entry.input.required?.[c.input] ? 'required' : entry.input.optional?.[c.input] ? 'optional' : undefined;
    if (!where) continue;
    const spec = entry.input[where]![c.input]!;
    out[c.classType] = { ...entry, input: { ...entry.input, [where]: { ...entry.input[where], [c.input]: [c.values, ...spec.slice(1)] as InputSpec } } };
  }
  return out;
}
