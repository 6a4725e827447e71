// Finding and reading tokenizer files. Kept apart from clipTokenizer.ts so the tokenizer itself
// stays free of file-system access (tests and webviews can build one from strings).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ClipTokenizer, type ClipTokenizerOptions } from './clipTokenizer';

const VOCAB = 'vocab.json';
const MERGES = 'merges.txt';
const SHIPPED_SUBDIR = path.join('resources', 'clip-tokenizer');

function hasTokenizerFiles(dir: string): boolean {
  return fs.existsSync(path.join(dir, VOCAB)) && fs.existsSync(path.join(dir, MERGES));
}

/**
 * The extension's own copy of the CLIP vocabulary. Works from source (src/…/x.ts run by tsx) and
 * from any bundle in dist/ by walking up to the folder that holds package.json.
 */
export function findShippedTokenizerDir(startDir: string = __dirname): string {
  let dir = path.resolve(startDir);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) {
      const candidate = path.join(dir, SHIPPED_SUBDIR);
      if (hasTokenizerFiles(candidate)) return candidate;
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(
    `CLIP tokenizer: no ${SHIPPED_SUBDIR}/${VOCAB} + ${MERGES} found above ${startDir}; the extension install looks incomplete`,
  );
}

/**
 * Folder to load for a model: its own `<subfolder>/` (e.g. tokenizer, tokenizer_2) when it holds
 * vocab.json + merges.txt, otherwise the shipped copy.
 */
export function resolveTokenizerDir(modelDir?: string, subfolder = 'tokenizer'): string {
  if (modelDir) {
    const own = path.join(modelDir, subfolder);
    if (hasTokenizerFiles(own)) return own;
  }
  return findShippedTokenizerDir();
}

export async function loadClipTokenizer(dir: string, options?: ClipTokenizerOptions): Promise<ClipTokenizer> {
  const read = async (name: string) => {
    const file = path.join(dir, name);
    try {
      return await fs.promises.readFile(file, 'utf8');
    } catch (e) {
      throw new Error(`CLIP tokenizer: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  };
  // Read in order so the error for an empty folder always names vocab.json first.
  const vocab = await read(VOCAB);
  const merges = await read(MERGES);
  return new ClipTokenizer(vocab, merges, options);
}
