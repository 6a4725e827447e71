// --models DIR: lists a ComfyUI-style models root with node:fs and answers the validator's
// "which names exist for this folder-backed combo" question.
import { readdirSync } from 'node:fs';
import { getCoreSchema } from '../workflow/catalog/catalog';
import { specOptions } from '../workflow/catalog/widgets';
import { fsListDir } from '../inference/models/listDir';
import { folderOfHint, scanModelFolder, type ListDir } from '../workflow/modelNames';
import type { SchemaLookup } from '../workflow/schemaSource';
import { CliError } from './io';

/** comboValues for validatePrompt: names under `<root>/<x_folder>` for folder-backed combos. */
export function modelsComboValues(root: string, lookup: SchemaLookup = getCoreSchema) {
  try {
    readdirSync(root);
  } catch {
    throw new CliError(`--models ${root}: not a readable directory`);
  }
  const list = fsListDir(root);
  const byFolder = new Map<string, string[]>();
  return (classType: string, inputName: string): readonly string[] | undefined => {
    const schema = lookup(classType);
    const spec = schema?.input.required?.[inputName] ?? schema?.input.optional?.[inputName];
    const folder = folderOfHint(specOptions(spec).x_folder);
    // Images for LoadImage live in ComfyUI's input/ folder, not under models/.
    // configs/ holds .yaml files, which the model scan does not list.
    if (!folder || folder === 'input' || folder === 'configs') return undefined;
    let names = byFolder.get(folder);
    if (!names) {
      names = scanModelFolder(list, folder);
      // VAELoader always offers pixel_space (and TAESD names when both halves exist).
      if (folder === 'vae') names = [...names, ...taesdNames(list), 'pixel_space'];
      byFolder.set(folder, names);
    }
    return names;
  };
}

function taesdNames(list: ListDir): string[] {
  const files = list('vae_approx').map((e) => e.name);
  return ['taesd', 'taesdxl', 'taesd3', 'taef1'].filter(
    (n) => files.some((f) => f.startsWith(`${n}_encoder.`)) && files.some((f) => f.startsWith(`${n}_decoder.`)),
  );
}
