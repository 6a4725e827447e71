// ComfyUI-style models roots: `<root>/checkpoints/<name>/` is an ONNX model folder listed as
// `<name>`, `<root>/vae/`, `<root>/loras/`. Workflows written for ComfyUI name checkpoints as
// files (`v1-5-pruned-emaonly-fp16.safetensors`, `SD15\\model.ckpt`), so names resolve to
// folders by base name, with either path separator.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelFolderError } from './modelFolder';
import { discoverExtraModelPaths, ExtraModelPathsError, type ExtraModelPaths } from './extraModelPaths';
import { fsListDir } from './listDir';
import { canonicalFolder, matchModelName, modelSubfolders, scanModelFolder } from '../../workflow/modelNames';
import { isPickleFileName, PICKLE_MESSAGE } from '../safetensors/read';

/** Extensions ComfyUI lists in model folders (folder_paths.py), plus .onnx. */
export const MODEL_FILE_EXTENSIONS = ['.ckpt', '.pt', '.pt2', '.bin', '.pth', '.safetensors', '.pkl', '.sft', '.onnx'];

const MAX_DEPTH = 3;

function isModelFolder(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'unet', 'model.onnx')) || fs.existsSync(path.join(dir, 'model_index.json'));
}

function stripModelExt(name: string): string {
  const ext = path.extname(name).toLowerCase();
  return MODEL_FILE_EXTENSIONS.includes(ext) ? name.slice(0, -ext.length) : name;
}

/** Relative names always use the OS separator, as ComfyUI does; '/' and '\\' both match. */
function normalise(name: string): string {
  return name.replace(/[\\/]+/g, '/').replace(/^\/+|\/+$/g, '');
}

/**
 * Walks `base` up to MAX_DEPTH levels; `visit` sees each non-hidden entry with its relative path
 * and returns true to descend into a directory.
 */
function walk(base: string, visit: (e: fs.Dirent, full: string, rel: string) => boolean): void {
  const go = (dir: string, rel: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const full = path.join(dir, e.name);
      const r = rel ? path.join(rel, e.name) : e.name;
      if (visit(e, full, r) && e.isDirectory() && depth < MAX_DEPTH) go(full, r, depth + 1);
    }
  };
  go(base, '', 1);
}

/** Model folders under `<root>/<kind>`: names relative to it (sub-folders allowed). */
function listFolders(base: string, accept: (dir: string) => boolean): string[] {
  const found: string[] = [];
  walk(base, (e, full, rel) => {
    // Leftovers of an interrupted atomic write (the generator's temp folders) are not models.
    if (!e.isDirectory() || /\.(tmp|old)-\d+-\d+$/.test(e.name)) return false;
    if (!accept(full)) return true;
    found.push(rel);
    return false;
  });
  return found.sort();
}

function listFiles(base: string, exts: readonly string[]): string[] {
  const found: string[] = [];
  walk(base, (e, _full, rel) => {
    if (e.isFile() && exts.includes(path.extname(e.name).toLowerCase())) found.push(rel);
    return e.isDirectory();
  });
  return found.sort();
}

const unique = (xs: string[]) => [...new Set(xs)].sort();

export function listCheckpoints(roots: readonly string[]): string[] {
  return unique(roots.flatMap((r) => listFolders(path.join(r, 'checkpoints'), isModelFolder)));
}

/** VAE entries: folders holding vae_decoder/model.onnx or model.onnx, and bare .onnx files. */
export function listVaes(roots: readonly string[]): string[] {
  const isVae = (d: string) => fs.existsSync(path.join(d, 'vae_decoder', 'model.onnx')) || fs.existsSync(path.join(d, 'model.onnx'));
  return unique(
    roots.flatMap((r) => {
      const folders = listFolders(path.join(r, 'vae'), isVae);
      // model.onnx files inside a VAE folder belong to that folder's entry.
      const files = listFiles(path.join(r, 'vae'), ['.onnx']).filter((f) => !folders.some((d) => f.startsWith(d + path.sep)));
      return [...folders, ...files];
    }),
  );
}

export function listLoras(roots: readonly string[]): string[] {
  return unique(roots.flatMap((r) => listFiles(path.join(r, 'loras'), MODEL_FILE_EXTENSIONS)));
}

export interface ModelsInventory {
  checkpoints: string[];
  vae: string[];
  loras: string[];
}

export function scanModelsRoots(roots: readonly string[]): ModelsInventory {
  return { checkpoints: listCheckpoints(roots), vae: listVaes(roots), loras: listLoras(roots) };
}

function notFound(kind: string, name: string, roots: readonly string[], available: string[], hint = ''): ModelFolderError {
  const where = roots.map((r) => path.join(r, kind)).join(', ');
  const list = available.length ? `available: ${available.join(', ')}` : 'none are installed';
  return new ModelFolderError('not-found', `${kind === 'checkpoints' ? 'checkpoint' : kind} '${name}' not found in ${where}; ${list}${hint}`);
}

/**
 * Resolves a ckpt_name to an ONNX model folder only: exact folder name, or a file-style name whose
 * base name (extension stripped) matches a folder. The ONNX-only path of the loaders; names that
 * may also be `.safetensors` files go through resolveModel below.
 */
export function resolveCheckpoint(roots: readonly string[], name: string): string {
  if (!name || !name.trim()) throw new ModelFolderError('not-found', 'no checkpoint name given');
  const wanted = normalise(stripModelExt(name));
  for (const root of roots) {
    const dir = path.join(root, 'checkpoints', ...wanted.split('/'));
    if (isModelFolder(dir)) return dir;
  }
  const available = listCheckpoints(roots);
  // Case-insensitive match last, for workflows saved on case-insensitive file systems.
  const ci = available.find((a) => normalise(a).toLowerCase() === wanted.toLowerCase());
  if (ci) for (const root of roots) {
    const dir = path.join(root, 'checkpoints', ci);
    if (isModelFolder(dir)) return dir;
  }
  const file = roots.map((r) => path.join(r, 'checkpoints', ...normalise(name).split('/'))).find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
  const hint = file ? `. ${file} exists but is not an ONNX model folder: Marble needs a folder named '${path.basename(wanted)}' with unet/model.onnx (an optimum/diffusers ONNX export)` : '';
  throw notFound('checkpoints', name, roots, available, hint);
}

export interface ResolvedVae {
  decoder: string;
  encoder?: string;
  /** config.json next to the decoder, if any (carries scaling_factor). */
  config?: string;
}

export function resolveVae(roots: readonly string[], name: string): ResolvedVae {
  const rel = normalise(name);
  for (const root of roots) {
    const p = path.join(root, 'vae', ...rel.split('/'));
    if (p.toLowerCase().endsWith('.onnx') && fs.existsSync(p)) return { decoder: p };
    const dir = path.join(root, 'vae', ...normalise(stripModelExt(name)).split('/'));
    const dec = path.join(dir, 'vae_decoder', 'model.onnx');
    if (fs.existsSync(dec)) {
      const enc = path.join(dir, 'vae_encoder', 'model.onnx');
      const cfg = path.join(dir, 'vae_decoder', 'config.json');
      return { decoder: dec, encoder: fs.existsSync(enc) ? enc : undefined, config: fs.existsSync(cfg) ? cfg : undefined };
    }
    if (fs.existsSync(path.join(dir, 'model.onnx'))) {
      const cfg = path.join(dir, 'config.json');
      return { decoder: path.join(dir, 'model.onnx'), config: fs.existsSync(cfg) ? cfg : undefined };
    }
  }
  throw notFound('vae', name, roots, listVaes(roots));
}

// ---------------------------------------------------------------------------------------------
// ComfyUI's models folders as a whole (folder_paths.py): `.safetensors` files and ONNX folders
// side by side, the `clip`/`text_encoders` and `unet`/`diffusion_models` pairs, and the extra
// search paths of extra_model_paths.yaml.

export { canonicalFolder };

/** Where models are searched: models roots (ComfyUI layout) plus extra_model_paths.yaml entries. */
export interface ModelSearch {
  roots: readonly string[];
  extra?: readonly ExtraModelPaths[];
}

/**
 * A plain list of roots also searches the extra_model_paths.yaml of each root's ComfyUI folder.
 * `strict` (resolution) reports a file that cannot be parsed; listings go on without it.
 */
function searchOf(s: readonly string[] | ModelSearch, strict: boolean): ModelSearch {
  if (!Array.isArray(s)) return s as ModelSearch;
  const roots = s as readonly string[];
  const extra: ExtraModelPaths[] = [];
  for (const found of discoverExtraModelPaths(roots)) {
    if (found instanceof ExtraModelPathsError) {
      if (strict) throw new ModelFolderError('bad-config', found.message);
    } else extra.push(found);
  }
  return { roots, extra };
}

/**
 * The directories searched for `folder`, in ComfyUI's order: `is_default` extra paths first, then
 * each root's sub-folders (`unet` before `diffusion_models`, `text_encoders` before `clip`), then
 * the other extra paths.
 */
export function folderPaths(search: readonly string[] | ModelSearch, folder: string, strict = false): string[] {
  const { roots, extra = [] } = searchOf(search, strict);
  const name = canonicalFolder(folder);
  const out: string[] = [];
  const add = (p: string) => {
    const abs = path.resolve(p);
    if (!out.includes(abs)) out.push(abs);
  };
  for (const e of extra) for (const p of e.first[name] ?? []) add(p);
  for (const r of roots) for (const sub of modelSubfolders(name)) add(path.join(r, sub));
  for (const e of extra) for (const p of e.last[name] ?? []) add(p);
  return out;
}

/** Names for a folder-backed combo (`ckpt_name`, `vae_name`, `clip_name`, `unet_name`…): files and ONNX folders, '/'-separated, sorted, each once. */
export function listModelNames(search: readonly string[] | ModelSearch, folder: string): string[] {
  const names = new Set<string>();
  for (const dir of folderPaths(search, folder)) for (const n of scanModelFolder(fsListDir(dir), '')) names.add(n);
  // Code-point order, as Python's sorted() in folder_paths.get_filename_list.
  return [...names].sort();
}

/** What a model name resolves to. */
export type ResolvedModel =
  /** an ONNX model folder (optimum/diffusers pipeline, VAE or component folder) */
  | { kind: 'onnx'; dir: string }
  /** a single-file checkpoint, VAE, U-Net or text encoder */
  | { kind: 'safetensors'; file: string }
  /** a bare `.onnx` file (VAELoader accepts these) */
  | { kind: 'onnx-file'; file: string };

const SAFETENSORS_EXTENSIONS = ['.safetensors', '.sft'];

function hasOnnxInside(dir: string): boolean {
  try {
    const entries = fs.readdirSync(dir, { withFileTypes: true });
    if (entries.some((e) => e.isFile() && (e.name === 'model_index.json' || e.name.toLowerCase().endsWith('.onnx')))) return true;
    return entries.some((e) => e.isDirectory() && fs.existsSync(path.join(dir, e.name, 'model.onnx')));
  } catch {
    return false;
  }
}

/** True when `dir` or one of its sub-folders holds an .onnx file. */
function containsOnnx(dir: string): boolean {
  try {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.isFile() && e.name.toLowerCase().endsWith('.onnx')) return true;
      if (e.isDirectory() && fs.readdirSync(path.join(dir, e.name)).some((n) => n.toLowerCase().endsWith('.onnx'))) return true;
    }
  } catch {
    return false;
  }
  return false;
}

/** Which ONNX folders count as a model of `folder` (checkpoints need a U-Net or a pipeline index). */
function onnxFolderFor(folder: string): (dir: string) => boolean {
  if (folder === 'checkpoints') return isModelFolder;
  if (folder === 'vae') return (d) => fs.existsSync(path.join(d, 'vae_decoder', 'model.onnx')) || fs.existsSync(path.join(d, 'model.onnx'));
  return hasOnnxInside;
}

function kindLabel(folder: string): string {
  return folder === 'checkpoints' ? 'checkpoint' : folder === 'text_encoders' ? 'text encoder' : folder === 'diffusion_models' ? 'diffusion model' : folder === 'loras' ? 'LoRA' : folder;
}

/** The name as '/'-separated segments, refusing anything that could leave the folder. */
function safeSegments(name: string, label: string): string[] {
  if (typeof name !== 'string' || name.trim() === '') throw new ModelFolderError('not-found', `no ${label} name given`);
  if (name.includes('\0')) throw new ModelFolderError('not-found', `${label} name '${name}' contains a NUL character`);
  const segments = normalise(name).split('/');
  if (path.isAbsolute(name) || /^[A-Za-z]:/.test(name) || segments.some((s) => s === '..' || s === '.')) {
    throw new ModelFolderError('not-found', `${label} name '${name}' would leave the models folder; give a name relative to it`);
  }
  return segments;
}

/** One candidate path: a model, a refused pickle, or nothing. */
function resolveAt(dir: string, segments: string[], folder: string): ResolvedModel | undefined {
  const full = path.join(dir, ...segments);
  const rel = path.relative(dir, full);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  let stat: fs.Stats;
  try {
    stat = fs.statSync(full);
  } catch {
    return undefined;
  }
  if (stat.isDirectory()) {
    if (!onnxFolderFor(folder)(full)) return undefined;
    if (!containsOnnx(full)) {
      throw new ModelFolderError('not-supported', `${full} is a diffusers folder of PyTorch weights (model_index.json, no .onnx files); Marble reads single-file .safetensors checkpoints and ONNX exports`);
    }
    return { kind: 'onnx', dir: full };
  }
  if (!stat.isFile()) return undefined;
  const ext = path.extname(full).toLowerCase();
  if (SAFETENSORS_EXTENSIONS.includes(ext)) return { kind: 'safetensors', file: full };
  if (ext === '.onnx') return { kind: 'onnx-file', file: full };
  if (isPickleFileName(full) || ext === '.pt2') throw new ModelFolderError('not-supported', `${full}: ${PICKLE_MESSAGE}`);
  return undefined;
}

/**
 * Resolves a model name of `folder` (as a workflow gives it) to an ONNX folder or a
 * `.safetensors` file: the exact path first in every search directory, then the installed name
 * the validator matches it to (other separators, base name without extension: a ComfyUI
 * workflow's `model.safetensors` finds a converted `model/` ONNX folder). Pickle files are refused
 * with the `.safetensors` advice; names never leave their folder.
 */
export function resolveModel(search: readonly string[] | ModelSearch, folder: string, name: string): ResolvedModel {
  const canonical = canonicalFolder(folder);
  const label = kindLabel(canonical);
  const segments = safeSegments(name, label);
  const dirs = folderPaths(search, canonical, true);
  for (const dir of dirs) {
    const hit = resolveAt(dir, segments, canonical);
    if (hit) return hit;
  }
  const available = listModelNames(search, canonical);
  const match = matchModelName(name, available);
  if (match !== undefined) {
    for (const dir of dirs) {
      const hit = resolveAt(dir, match.split('/'), canonical);
      if (hit) return hit;
    }
  }
  const list = available.length ? `available: ${available.slice(0, 40).join(', ')}${available.length > 40 ? `, … ${available.length - 40} more` : ''}` : 'none are installed';
  throw new ModelFolderError('not-found', `${label} '${name}' not found in ${dirs.join(', ') || 'any models folder'}; ${list}`);
}
