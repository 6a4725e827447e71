// Shared tokenizer instances for the text tests (loading the 49k vocab takes ~0.1 s).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ClipTokenizer } from '../../../src/inference/text/clipTokenizer';
import type { ClipNormalization } from '../../../src/inference/text/clipTextNormalize';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
export const SHIPPED_DIR = path.join(REPO_ROOT, 'resources', 'clip-tokenizer');

const cache = new Map<ClipNormalization, ClipTokenizer>();

export function clipTokenizer(normalization: ClipNormalization = 'comfyui'): ClipTokenizer {
  let t = cache.get(normalization);
  if (!t) {
    t = new ClipTokenizer(
      fs.readFileSync(path.join(SHIPPED_DIR, 'vocab.json'), 'utf8'),
      fs.readFileSync(path.join(SHIPPED_DIR, 'merges.txt'), 'utf8'),
      { normalization },
    );
    cache.set(normalization, t);
  }
  return t;
}

export const BOS = 49406;
export const EOS = 49407;
