// Paths from requests (/view, uploads) stay inside their folder: no `..`, no absolute or drive
// paths, `\` counts as a separator on every OS, no NUL, and — checked on disk — no symlink that
// leads out. Query strings arrive URL-decoded, so `%2e%2e%2f` is seen here as `../`.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

export class PathRefused extends Error {
  constructor(readonly status: 400 | 403 | 404, message: string) {
    super(message);
    this.name = 'PathRefused';
  }
}

function hasTraversal(p: string): boolean {
  return p.split(/[\\/]/).some((part) => part === '..');
}

function isAbsoluteAnywhere(p: string): boolean {
  return p.startsWith('/') || p.startsWith('\\') || /^[a-zA-Z]:/.test(p) || path.isAbsolute(p);
}

/** A plain file name: no separators, no traversal, not absolute, no NUL (400 otherwise). */
export function checkFileName(name: string, what = 'filename'): string {
  if (!name || name.includes('\0') || /[\\/]/.test(name) || name === '.' || name === '..' || isAbsoluteAnywhere(name) || name.length > 255) {
    throw new PathRefused(400, `${what} '${name.replaceAll('\0', '\\0')}' is not a plain file name`);
  }
  return name;
}

/** `root/subfolder` with `subfolder` checked lexically (403 when it leaves `root`). */
export function resolveSubfolder(root: string, subfolder: string, what = 'subfolder'): string {
  const base = path.resolve(root);
  if (!subfolder) return base;
  if (subfolder.includes('\0') || isAbsoluteAnywhere(subfolder) || hasTraversal(subfolder)) {
    throw new PathRefused(403, `${what} '${subfolder.replaceAll('\0', '\\0')}' is outside the folder`);
  }
  const full = path.resolve(base, subfolder.replaceAll('\\', '/'));
  const rel = path.relative(base, full);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new PathRefused(403, `${what} '${subfolder}' is outside the folder`);
  return full;
}

/** True when `target` (which must exist) is inside `root` after resolving symlinks. */
export async function realpathInside(root: string, target: string): Promise<boolean> {
  let realRoot: string, realTarget: string;
  try {
    realRoot = await fsp.realpath(root);
    realTarget = await fsp.realpath(target);
  } catch {
    return false;
  }
  const rel = path.relative(realRoot, realTarget);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
