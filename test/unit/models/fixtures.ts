// Generated tiny model folders shared by the tests of this area; one temp root per process.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateModelFolder } from '../../../tools/modelgen/writeModelFolder';

let root: string | undefined;
const made = new Map<string, string>();

export function tempRoot(): string {
  root ??= fs.mkdtempSync(path.join(os.tmpdir(), 'marble-models-'));
  return root;
}

/** A tiny model folder for `variant` (comma-separated names), generated once per run. */
export function tinyModel(variant = 'fp32', seed = 1): string {
  const key = `${variant}@${seed}`;
  let dir = made.get(key);
  if (!dir) {
    dir = path.join(tempRoot(), 'checkpoints', `tiny-${variant.replace(/,/g, '+')}-s${seed}`);
    generateModelFolder(dir, { size: 'tiny', variant, seed });
    made.set(key, dir);
  }
  return dir;
}

export function cleanupFixtures(): void {
  if (root) fs.rmSync(root, { recursive: true, force: true });
  root = undefined;
  made.clear();
}

/** Fresh empty directory under the temp root. */
export function scratchDir(name: string): string {
  const d = path.join(tempRoot(), 'scratch', `${name}-${Math.random().toString(36).slice(2, 8)}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

// Root-level hook: runs once after every test file of the run.
if (typeof after === 'function') after(() => cleanupFixtures());
