// Model names as ComfyUI lists them in folder-backed combos (`ckpt_name`, `vae_name`,
// `lora_name`): paths relative to a models sub-folder. Marble also accepts ONNX model folders
// (`checkpoints/<name>/`), and matches a workflow's `name.safetensors` to a folder or file with
// the same base name, so workflows shared from ComfyUI validate against converted models.
// Pure: the caller supplies the directory listing (node:fs in the CLI, IPC elsewhere).

export interface DirEntry {
  name: string;
  isDirectory: boolean;
}

/** Lists one directory given its path relative to the models root ('' = root); [] when missing. */
export type ListDir = (relativePath: string) => DirEntry[];

/** ComfyUI's `supported_pt_extensions` plus ONNX. */
export const MODEL_EXTENSIONS: readonly string[] = ['.ckpt', '.pt', '.pt2', '.bin', '.pth', '.safetensors', '.pkl', '.sft', '.onnx'];

const MAX_DEPTH = 6;

function hasModelExtension(name: string): boolean {
  const lower = name.toLowerCase();
  return MODEL_EXTENSIONS.some((e) => lower.endsWith(e));
}

const PIPELINE_MARKERS = new Set(['model_index.json', 'amuse_template.json']);

function hasOnnxFile(entries: DirEntry[]): boolean {
  return entries.some((e) => !e.isDirectory && e.name.toLowerCase().endsWith('.onnx'));
}

/**
 * A folder holding an exported pipeline is one model: it has a pipeline index
 * (optimum/diffusers `model_index.json`, Amuse `amuse_template.json`), ONNX files, or component
 * sub-folders with ONNX files (`unet/model.onnx`, OnnxStack folders have no index).
 */
function isModelFolder(entries: DirEntry[], listChild: (name: string) => DirEntry[]): boolean {
  if (entries.some((e) => !e.isDirectory && PIPELINE_MARKERS.has(e.name))) return true;
  if (hasOnnxFile(entries)) return true;
  return entries.some((e) => e.isDirectory && hasOnnxFile(listChild(e.name)));
}

/**
 * ComfyUI's folder_paths: `clip` and `unet` are legacy names of `text_encoders` and
 * `diffusion_models`, and each of these lists both sub-folders of a models root.
 */
const FOLDER_ALIASES: Readonly<Record<string, readonly string[]>> = {
  text_encoders: ['text_encoders', 'clip'],
  clip: ['text_encoders', 'clip'],
  diffusion_models: ['unet', 'diffusion_models'],
  unet: ['unet', 'diffusion_models'],
};

/** The canonical ComfyUI folder name (folder_paths.map_legacy: `clip` → `text_encoders`, `unet` → `diffusion_models`). */
export function canonicalFolder(folder: string): string {
  return folder === 'clip' ? 'text_encoders' : folder === 'unet' ? 'diffusion_models' : folder;
}

/** The sub-folders of a models root that `folder` lists, in ComfyUI's order. */
export function modelSubfolders(folder: string): readonly string[] {
  return Object.hasOwn(FOLDER_ALIASES, folder) ? FOLDER_ALIASES[folder] : [folder];
}

const joinRel = (a: string, b: string) => (a && b ? `${a}/${b}` : a || b);

/** Model names inside `base` ('' = the listed directory itself), '/'-separated. */
function scanTree(list: ListDir, base: string, names: string[]): void {
  const walk = (rel: string, depth: number) => {
    if (depth > MAX_DEPTH) return;
    for (const entry of list(joinRel(base, rel))) {
      if (entry.name.startsWith('.')) continue;
      const path = joinRel(rel, entry.name);
      if (entry.isDirectory) {
        const inner = list(joinRel(base, path));
        if (isModelFolder(inner, (child) => list(joinRel(base, `${path}/${child}`)))) names.push(path);
        else walk(path, depth + 1);
      } else if (hasModelExtension(entry.name)) {
        names.push(path);
      }
    }
  };
  walk('', 0);
}

/**
 * Names under `folder` (e.g. "checkpoints"; `clip`/`text_encoders` and `unet`/`diffusion_models`
 * list both sub-folders), '/'-separated, each once, sorted like ComfyUI's lists. `folder` ''
 * lists the directory `list` reads.
 */
export function scanModelFolder(list: ListDir, folder: string): string[] {
  const names: string[] = [];
  for (const sub of folder === '' ? [''] : modelSubfolders(folder)) scanTree(list, sub, names);
  return [...new Set(names)].sort((a, b) => a.localeCompare(b));
}

export function stripModelExtension(name: string): string {
  const lower = name.toLowerCase();
  const ext = MODEL_EXTENSIONS.find((e) => lower.endsWith(e));
  return ext ? name.slice(0, name.length - ext.length) : name;
}

function normaliseSeparators(name: string): string {
  return name.replace(/\\/g, '/');
}

/**
 * The installed name a workflow's value refers to: exact, then with Windows separators
 * normalised, then by base name without extension. Undefined when nothing matches.
 */
export function matchModelName(value: string, installed: readonly string[]): string | undefined {
  if (installed.includes(value)) return value;
  const v = normaliseSeparators(value);
  const bySep = installed.find((n) => normaliseSeparators(n) === v);
  if (bySep !== undefined) return bySep;
  const base = stripModelExtension(v).toLowerCase();
  return installed.find((n) => stripModelExtension(normaliseSeparators(n)).toLowerCase() === base);
}

/** The models sub-folder a combo input is filled from, from the catalogue's `x_folder` hint. */
export function folderOfHint(hint: unknown): string | undefined {
  if (typeof hint !== 'string') return undefined;
  const m = /^[A-Za-z0-9_]+/.exec(hint.trim());
  return m ? m[0] : undefined;
}
