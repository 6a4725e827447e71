// The rules of the input folder (ComfyUI's `input/`), without vscode so they are unit-tested:
// which combos list it, and which name an uploaded file gets.
import { IMAGE_EXTENSIONS } from '../inference/image/inputFiles';
import type { InputSpec, ObjectInfo } from '../workflow/objectInfo';

/** The folder hints object_info gives inputs that list the input folder. */
const IMAGES_ONLY_HINT = 'input (image';
const LATENTS_ONLY_HINT = 'input (.latent';
const INPUT_HINT = 'input';

/** Which files of the input folder a combo lists: LoadImage images, LoadLatent `.latent` files. */
export type InputFilter = 'images' | 'latents' | 'all';

function filterOf(hint: string): InputFilter {
  if (hint.startsWith(IMAGES_ONLY_HINT)) return 'images';
  if (hint.startsWith(LATENTS_ONLY_HINT)) return 'latents';
  return 'all';
}

/** Names the input folder's combos show: sorted, no dot files, only the kind `filter` names. */
export function inputListing(names: readonly string[], filter: InputFilter): string[] {
  return names
    .filter((n) => !n.startsWith('.'))
    .filter((n) => filter === 'all' || (filter === 'images' ? IMAGE_EXTENSIONS.has(extensionOf(n)) : extensionOf(n) === '.latent'))
    .sort();
}

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot).toLowerCase() : '';
}

/**
 * A copy of `info` whose input-folder combos (LoadImage's `image`, …) list `files`, as the
 * backend's object_info does: the static catalogue has empty lists there.
 */
export function withInputFiles(info: ObjectInfo, files: readonly string[]): ObjectInfo {
  const out: ObjectInfo = {};
  for (const [name, entry] of Object.entries(info)) {
    let copy = entry;
    for (const group of ['required', 'optional'] as const) {
      for (const [input, spec] of Object.entries(entry?.input?.[group] ?? {})) {
        const hint = (spec as InputSpec)[1]?.x_folder;
        if (!Array.isArray(spec[0]) || typeof hint !== 'string' || !hint.startsWith(INPUT_HINT)) continue;
        if (copy === entry) copy = structuredClone(entry);
        copy.input[group]![input] = [inputListing(files, filterOf(hint)), spec[1]] as InputSpec;
      }
    }
    out[name] = copy;
  }
  return out;
}

/** `[className, inputName]` of the input-folder combos in `info`, e.g. LoadImage · image. */
export function inputCombos(info: ObjectInfo): Array<{ classType: string; input: string; filter: InputFilter }> {
  const out: Array<{ classType: string; input: string; filter: InputFilter }> = [];
  for (const [classType, entry] of Object.entries(info)) {
    for (const group of ['required', 'optional'] as const) {
      for (const [input, spec] of Object.entries(entry?.input?.[group] ?? {})) {
        const hint = (spec as InputSpec)[1]?.x_folder;
        if (Array.isArray(spec[0]) && typeof hint === 'string' && hint.startsWith(INPUT_HINT)) {
          out.push({ classType, input, filter: filterOf(hint) });
        }
      }
    }
  }
  return out;
}

/** Reads a file of the input folder by name; undefined when there is none. */
export type ReadExisting = (name: string) => Promise<Uint8Array | undefined>;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The name an upload of `bytes` called `name` gets, as ComfyUI's /upload/image chooses it: the
 * name itself when free, the existing file when it holds the same bytes (`reuse`), else the
 * first free or identical "name (1).png", "name (2).png", ….
 */
export async function chooseUploadName(name: string, bytes: Uint8Array, readExisting: ReadExisting): Promise<{ name: string; reuse: boolean }> {
  const base = name.replace(/[\\/]/g, '_').trim();
  if (base === '' || base === '.' || base === '..') throw new Error(`Upload: "${name}" is not a usable file name`);
  const dot = base.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [base.slice(0, dot), base.slice(dot)] : [base, ''];
  for (let i = 0; i < 10_000; i++) {
    const candidate = i === 0 ? base : `${stem} (${i})${ext}`;
    const existing = await readExisting(candidate);
    if (!existing) return { name: candidate, reuse: false };
    if (sameBytes(existing, bytes)) return { name: candidate, reuse: true };
  }
  throw new Error(`Upload: no free name for ${base} in the input folder (10000 variants exist)`);
}
