// Files a workflow may read: names in the input folder, optionally annotated ` [input]`,
// ` [output]` or ` [temp]` (ComfyUI's `folder_paths.annotated_filepath`). A name never resolves
// outside its folder, whatever `..` or absolute path it carries.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';

export interface FolderConfig {
  inputDir: string;
  outputDir: string;
  tempDir: string;
}

const ANNOTATIONS: [string, keyof FolderConfig][] = [
  [' [output]', 'outputDir'],
  [' [input]', 'inputDir'],
  [' [temp]', 'tempDir'],
];

export const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif', '.bmp', '.tif', '.tiff', '.avif']);

/** Absolute path of an (annotated) file name; `what` names the node input in errors. */
export function resolveAnnotatedPath(name: unknown, folders: FolderConfig, what: string): string {
  if (typeof name !== 'string' || name.trim() === '') throw new Error(`${what}: expected a file name, got ${JSON.stringify(name)}`);
  let base: keyof FolderConfig = 'inputDir';
  let rest = name;
  for (const [suffix, key] of ANNOTATIONS) {
    if (name.endsWith(suffix)) {
      base = key;
      rest = name.slice(0, -suffix.length);
      break;
    }
  }
  const root = path.resolve(folders[base]);
  const full = path.resolve(root, rest.replaceAll('\\', '/'));
  const rel = path.relative(root, full);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || rest.includes('\0')) {
    throw new Error(`${what}: '${name}' is outside the ${base.replace('Dir', '')} folder ${root}`);
  }
  return full;
}

export async function fileExists(file: string): Promise<boolean> {
  try {
    return (await fsp.stat(file)).isFile();
  } catch {
    return false;
  }
}

/** Hex SHA-256 of a file (LoadImage's IS_CHANGED: editing the file re-runs the node). */
export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Sorted names of files directly in `dir` ('' filter = all files); a missing folder lists nothing. */
export async function listFiles(dir: string, extensions?: Set<string>): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .filter((n) => !extensions || extensions.has(path.extname(n).toLowerCase()))
    .sort();
}
