// A loader input's name to what is on disk: an ONNX folder (today's layout) or a single-file
// model (`.safetensors`, or a pickle the reader will refuse with its own message). ComfyUI's
// folder names per loader: checkpoints/, vae/, diffusion_models/ + unet/, text_encoders/ + clip/.
// An exact file name wins over a folder of the same base name, so a list that shows
// `model.safetensors` and the folder `model` side by side loads what was picked.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelFolderError, MODEL_FILE_EXTENSIONS } from '../models';

export type SourceKind = 'checkpoints' | 'vae' | 'unet' | 'clip';

export const SOURCE_FOLDERS: Readonly<Record<SourceKind, readonly string[]>> = {
  checkpoints: ['checkpoints'],
  vae: ['vae'],
  unet: ['diffusion_models', 'unet'],
  clip: ['text_encoders', 'clip'],
};

export type ModelSource = { kind: 'file'; file: string } | { kind: 'folder'; dir: string };

function normalise(name: string): string[] {
  return name.replace(/[\\/]+/g, '/').replace(/^\/+|\/+$/g, '').split('/');
}

/** `base/…parts` when it stays inside `base`, else undefined (no `..` escapes). */
function inside(base: string, parts: string[]): string | undefined {
  if (parts.some((p) => p === '..' || p === '.' || p === '')) return undefined;
  const full = path.resolve(base, ...parts);
  return full.startsWith(path.resolve(base) + path.sep) ? full : undefined;
}

const isFile = (p: string) => fs.statSync(p, { throwIfNoEntry: false })?.isFile() === true;
const isDir = (p: string) => fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() === true;

function stripExt(name: string): string {
  const ext = path.extname(name).toLowerCase();
  return MODEL_FILE_EXTENSIONS.includes(ext) && ext !== '.onnx' ? name.slice(0, -ext.length) : name;
}

/**
 * Finds `name` under the loader's folders of every models root: the file itself when it is a
 * single-file model, else a folder with that name or base name that `isFolder` accepts.
 */
export function resolveModelSource(roots: readonly string[], kind: SourceKind, name: string, isFolder: (dir: string) => boolean): ModelSource | undefined {
  if (!name || !name.trim()) return undefined;
  const parts = normalise(name);
  const baseParts = normalise(stripExt(name));
  for (const root of roots) {
    for (const folder of SOURCE_FOLDERS[kind]) {
      const base = path.join(root, folder);
      const file = inside(base, parts);
      if (file && isFile(file) && path.extname(file).toLowerCase() !== '.onnx') return { kind: 'file', file };
    }
  }
  for (const root of roots) {
    for (const folder of SOURCE_FOLDERS[kind]) {
      const base = path.join(root, folder);
      for (const p of [parts, baseParts]) {
        const dir = inside(base, p);
        if (dir && isDir(dir) && isFolder(dir)) return { kind: 'folder', dir };
      }
    }
  }
  return undefined;
}

/** The ModelFolderError for a name that resolves to nothing, listing what is installed. */
export function notInstalled(kind: SourceKind, input: string, name: string, roots: readonly string[], available: readonly string[]): ModelFolderError {
  const where = roots.flatMap((r) => SOURCE_FOLDERS[kind].map((f) => path.join(r, f))).join(', ');
  const list = available.length ? `available: ${available.join(', ')}` : 'none are installed';
  return new ModelFolderError('not-found', `input '${input}': '${name}' not found in ${where}; ${list}`);
}
