// ComfyUI's `folder_paths.get_save_image_path` (naming of saved images) and an atomic writer.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { nextSaveCounter } from '../../workflow/saveCounter';

export interface SaveImagePath {
  /** Absolute folder the files go into (created when missing). */
  fullOutputFolder: string;
  /** Base name (may still contain %batch_num%). */
  filename: string;
  /** First counter to use: 1 + the largest existing `<filename>_<N>_…`, else 1. */
  counter: number;
  /** Folder relative to the output folder, '/'-separated ('' for none), as sent in `ui.images`. */
  subfolder: string;
  filenamePrefix: string;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

function substitute(prefix: string, width: number, height: number, now: Date): string {
  return prefix
    .replaceAll('%width%', String(width))
    .replaceAll('%height%', String(height))
    .replaceAll('%year%', String(now.getFullYear()))
    .replaceAll('%month%', pad2(now.getMonth() + 1))
    .replaceAll('%day%', pad2(now.getDate()))
    .replaceAll('%hour%', pad2(now.getHours()))
    .replaceAll('%minute%', pad2(now.getMinutes()))
    .replaceAll('%second%', pad2(now.getSeconds()));
}

/**
 * Where `filenamePrefix` (after %…% substitution) points inside `outputDir`, without touching the
 * disk; throws, naming `inputName`, when it would leave the folder (`../x`, `/etc/x`).
 */
export function resolveSavePrefix(prefix: string, outputDir: string, inputName = 'filename_prefix', original = prefix): { full: string; filename: string; subfolderNative: string } {
  if (typeof prefix !== 'string' || prefix.trim() === '') throw new Error(`${inputName}: expected a non-empty file name prefix`);
  if (prefix.includes('\0')) throw new Error(`${inputName}: the prefix contains a NUL character`);
  const root = path.resolve(outputDir);
  // Both separators count on every OS so a workflow written on Windows saves into the same folder.
  const normalized = path.normalize(prefix.replaceAll('\\', '/'));
  const filename = path.basename(normalized);
  const subfolderNative = path.dirname(normalized) === '.' ? '' : path.dirname(normalized);
  const full = path.resolve(root, subfolderNative);
  const rel = path.relative(root, path.resolve(full, filename));
  if (path.isAbsolute(normalized) || rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || filename === '..' || filename === '.') {
    throw new Error(`${inputName}: '${original}' would save outside the output folder ${root}; use a name or a subfolder inside it`);
  }
  return { full, filename, subfolderNative };
}

/**
 * Resolves `filenamePrefix` (which may name subfolders) inside `outputDir` and finds the next
 * counter. A prefix that resolves outside `outputDir` is refused; `inputName` names the node
 * input in that error.
 */
export async function getSaveImagePath(
  filenamePrefix: string,
  outputDir: string,
  width = 0,
  height = 0,
  opts: { now?: Date; inputName?: string } = {},
): Promise<SaveImagePath> {
  const inputName = opts.inputName ?? 'filename_prefix';
  if (typeof filenamePrefix !== 'string' || filenamePrefix.trim() === '') {
    throw new Error(`${inputName}: expected a non-empty file name prefix`);
  }
  const prefix = filenamePrefix.includes('%') ? substitute(filenamePrefix, width, height, opts.now ?? new Date()) : filenamePrefix;
  const { full, filename, subfolderNative } = resolveSavePrefix(prefix, outputDir, inputName, filenamePrefix);
  let entries: string[];
  try {
    entries = await fsp.readdir(full);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    await fsp.mkdir(full, { recursive: true });
    entries = [];
  }
  // The lexical check above cannot see symlinks: a subfolder that is a link leading out is refused too.
  const [realRoot, realFull] = await Promise.all([fsp.realpath(path.resolve(outputDir)), fsp.realpath(full)]);
  const realRel = path.relative(realRoot, realFull);
  if (realRel.startsWith('..') || path.isAbsolute(realRel)) {
    throw new Error(`${inputName}: '${filenamePrefix}' leads outside the output folder ${path.resolve(outputDir)} through a symbolic link`);
  }
  const counter = nextSaveCounter(entries, filename, process.platform === 'win32');
  const subfolder = subfolderNative.split(path.sep).join('/');
  return { fullOutputFolder: full, filename, counter, subfolder, filenamePrefix: prefix };
}

/** Writes through a temp file in the same folder and renames it, so readers never see half a file. */
export async function writeFileAtomic(file: string, data: Uint8Array): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await fsp.writeFile(tmp, data, { flag: 'wx' });
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}
