// The node:fs side of the workflow core's model-name scan (src/workflow/modelNames.ts is pure and
// takes a directory lister), shared by the CLI's --models and the child's /object_info.
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import type { DirEntry, ListDir } from '../../workflow/modelNames';

export function fsListDir(root: string): ListDir {
  return (rel: string): DirEntry[] => {
    try {
      return readdirSync(path.join(root, rel), { withFileTypes: true }).map((d) => ({
        name: d.name,
        isDirectory: d.isDirectory() || (d.isSymbolicLink() && isDirSafe(path.join(root, rel, d.name))),
      }));
    } catch {
      return [];
    }
  };
}

function isDirSafe(p: string): boolean {
  try {
    return readdirSync(p) !== undefined;
  } catch {
    return false;
  }
}
