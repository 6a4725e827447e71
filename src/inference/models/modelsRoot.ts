// ComfyUI-style models roots: `<root>/checkpoints/<name>/` is an ONNX model folder listed as
// `<name>`, `<root>/vae/`, `<root>/loras/`. Workflows written for ComfyUI name checkpoints as
// files (`v1-5-pruned-emaonly-fp16.safetensors`, `SD15\\model.ckpt`), so names resolve to
// folders by base name, with either path separator.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelFolderError } from './modelFolder';

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
 * Resolves a ckpt_name to a model folder: exact folder name, or a file-style name whose base name
 * (extension stripped) matches a folder. A matching non-ONNX file gets a specific explanation.
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
