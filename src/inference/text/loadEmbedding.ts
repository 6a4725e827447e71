// Textual-inversion embeddings from `models/embeddings/` (ComfyUI's sd1_clip.load_embed), read
// for one text encoder. Kept apart from the tokenizer so tokenizeWithWeights stays free of file
// access: the tokenizer asks a lookup callback, this module answers it.
//
// What ComfyUI does, and what Marble does the same way:
// * `embedding:name` looks for the file in every embeddings folder and all their sub-folders:
//   `<dir>/<name>` when that is a file, else `<dir>/<name>.safetensors`, `.pt`, `.bin`. A name
//   that would leave its folder is not found.
// * Which tensor of the file: the encoder's key (`clip_l` 768 wide, `clip_h` 1024, `clip_g`
//   1280; SDXL files hold clip_l and clip_g), else a LoRA-bundled embedding
//   (`bundle_emb.<n>.string_to_param.*`, then `bundle_emb.<n>.<key>`, concatenated), else the
//   file's first tensor (A1111/kohya files: `emb_params`, `string_to_param.*`).
// * A [D] tensor is one token; [n, D] is n tokens.
// Where Marble differs on purpose: `.pt`/`.bin` pickles are refused (Marble never unpickles);
// and a tensor whose width is not the encoder's is an error naming the file, where ComfyUI logs
// a warning and drops the vectors.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bytesToFloat32, type SafetensorsDtype } from '../safetensors/dtypes';
import { hasPickleMagic, isPickleFileName, MAX_HEADER_BYTES, parseHeader, PICKLE_MESSAGE, type TensorEntry } from '../safetensors/read';

/** Extensions tried after the bare name, in ComfyUI's order. */
const EMBEDDING_EXTENSIONS = ['.safetensors', '.pt', '.bin'];

/** Real embeddings are kilobytes (75 vectors of 1280 floats is 384 KB); this bounds a bad file. */
export const MAX_EMBEDDING_BYTES = 64 * 1024 * 1024;

/** Sub-folder depth searched below each embeddings folder (ComfyUI walks them all). */
const MAX_DEPTH = 8;

const FLOAT_DTYPES: readonly SafetensorsDtype[] = ['F32', 'F16', 'BF16', 'F64'];

/** A defect of one embedding file: one line naming the file. */
export class EmbeddingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmbeddingError';
  }
}

/** ComfyUI's embedding_key per encoder width: SD1/SDXL CLIP-L, SD2 OpenCLIP-H, SDXL OpenCLIP-G. */
export function embeddingKeyForWidth(width: number): string | undefined {
  return width === 768 ? 'clip_l' : width === 1024 ? 'clip_h' : width === 1280 ? 'clip_g' : undefined;
}

/**
 * The tensors of an embedding file that make its vectors, in order (concatenated along the
 * first axis). `names` must be in the file's order (the order safetensors loads them in).
 */
export function chooseEmbeddingTensors(names: readonly string[], key: string | undefined): string[] {
  if (names.length === 0) return [];
  if (key !== undefined && names.includes(key)) return [key];
  const bundled = (suffix: (n: string) => boolean) => names.filter((n) => n.startsWith('bundle_emb.') && suffix(n));
  const params = bundled((n) => n.endsWith('.string_to_param.*'));
  if (params.length > 0) return params;
  if (key !== undefined) {
    const keyed = bundled((n) => n.endsWith(`.${key}`));
    if (keyed.length > 0) return keyed;
  }
  return [names[0]!];
}

/** Every folder searched, each embeddings folder before its sub-folders (sorted, breadth first). */
export function embeddingSearchDirs(roots: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const root of roots) {
    let level = [path.resolve(root)];
    for (let depth = 0; depth <= MAX_DEPTH && level.length > 0; depth++) {
      const next: string[] = [];
      for (const dir of level) {
        let real: string;
        try {
          real = fs.realpathSync(dir);
        } catch {
          continue;
        }
        if (seen.has(real)) continue; // symlink loops
        seen.add(real);
        out.push(dir);
        let entries: fs.Dirent[];
        try {
          entries = fs.readdirSync(dir, { withFileTypes: true });
        } catch {
          continue;
        }
        const subs = entries.filter((e) => e.isDirectory() || (e.isSymbolicLink() && isDir(path.join(dir, e.name))));
        next.push(...subs.map((e) => path.join(dir, e.name)).sort());
      }
      level = next;
    }
  }
  return out;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The file `embedding:<name>` names, or undefined (ComfyUI: "does not exist"). */
export function findEmbeddingFile(name: string, dirs: readonly string[]): string | undefined {
  if (name === '' || name.includes('\0')) return undefined;
  for (const dir of dirs) {
    const base = path.resolve(dir);
    const full = path.resolve(base, name);
    const rel = path.relative(base, full);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) continue;
    if (isFile(full)) return full;
    for (const ext of EMBEDDING_EXTENSIONS) if (isFile(full + ext)) return full + ext;
  }
  return undefined;
}

export interface EmbeddingTarget {
  /** The text encoder's token width (768, 1024, 1280…). */
  width: number;
  /** Which key of a multi-encoder file to read; defaults to embeddingKeyForWidth(width). */
  key?: string;
  /** Shown in the wrong-width error, e.g. "CLIP-L". */
  encoderLabel?: string;
}

export interface LoadedEmbedding {
  file: string;
  /** One Float32Array of `width` values per token. */
  vectors: Float32Array[];
}

function readExactly(fd: number, into: Uint8Array, position: number, fail: (defect: string) => never): void {
  let done = 0;
  while (done < into.length) {
    const got = fs.readSync(fd, into, done, into.length - done, position + done);
    if (got === 0) fail(`ends at byte ${position + done}, before the ${into.length} bytes expected at ${position} (truncated file)`);
    done += got;
  }
}

/**
 * Reads the vectors for one encoder from an embedding file. Synchronous (the tokenizer's lookup
 * is): the header is validated against the file size before any tensor byte is read.
 */
export function readEmbeddingFile(file: string, target: EmbeddingTarget): LoadedEmbedding {
  const fail = (defect: string): never => {
    throw new EmbeddingError(`embedding ${file}: ${defect}`);
  };
  if (isPickleFileName(file)) fail(PICKLE_MESSAGE);
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.safetensors' && ext !== '.sft') fail('is not a .safetensors file; Marble reads embeddings in the .safetensors format');
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    return fail(`cannot be opened (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size > MAX_EMBEDDING_BYTES) fail(`is ${(size / 1024 ** 2).toFixed(1)} MB; an embedding file is at most ${MAX_EMBEDDING_BYTES / 1024 ** 2} MB (is it a checkpoint or LoRA in the wrong folder?)`);
    if (size < 10) fail(`is ${size} bytes long; too short for a safetensors file (truncated or empty)`);
    const head = new Uint8Array(9);
    readExactly(fd, head, 0, fail);
    const headerLen = new DataView(head.buffer).getBigUint64(0, true);
    const plausible = head[8] === 0x7b && headerLen <= BigInt(Math.min(MAX_HEADER_BYTES, size - 8));
    if (!plausible && hasPickleMagic(head)) fail(PICKLE_MESSAGE);
    if (headerLen > BigInt(size - 8)) fail(`claims a ${headerLen}-byte header but only ${size - 8} bytes follow the length (truncated or not a safetensors file)`);
    if (headerLen < 2n) fail(`claims a ${headerLen}-byte header; the smallest header is '{}'`);
    const headerBytes = new Uint8Array(Number(headerLen));
    readExactly(fd, headerBytes, 8, fail);
    const { tensors } = parseHeader(headerBytes, size, fail);
    // The order safetensors loads a file in: by data offset (names break ties).
    const ordered = [...tensors.values()].sort((a, b) => a.start - b.start || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const key = target.key ?? embeddingKeyForWidth(target.width);
    const chosen = chooseEmbeddingTensors(ordered.map((t) => t.name), key);
    if (chosen.length === 0) fail('holds no tensors');
    const vectors: Float32Array[] = [];
    for (const name of chosen) vectors.push(...readVectors(fd, tensors.get(name)!, target, fail));
    return { file, vectors };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * How many tokens an embedding file adds for an encoder keyed `key`, from its header alone (the
 * editor's token counter: no tensor bytes are read, widths are not checked).
 */
export function countEmbeddingTokens(file: string, key = 'clip_l'): number {
  const fail = (defect: string): never => {
    throw new EmbeddingError(`embedding ${file}: ${defect}`);
  };
  if (isPickleFileName(file)) fail(PICKLE_MESSAGE);
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 10 || size > MAX_EMBEDDING_BYTES) fail(`is ${size} bytes; not an embedding file`);
    const head = new Uint8Array(8);
    readExactly(fd, head, 0, fail);
    const headerLen = new DataView(head.buffer).getBigUint64(0, true);
    if (headerLen < 2n || headerLen > BigInt(size - 8)) fail(`claims a ${headerLen}-byte header in a ${size}-byte file`);
    const headerBytes = new Uint8Array(Number(headerLen));
    readExactly(fd, headerBytes, 8, fail);
    const { tensors } = parseHeader(headerBytes, size, fail);
    const ordered = [...tensors.values()].sort((a, b) => a.start - b.start || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return chooseEmbeddingTensors(ordered.map((t) => t.name), key).reduce((n, name) => {
      const shape = tensors.get(name)!.shape;
      return n + (shape.length === 1 ? 1 : shape.length === 2 ? shape[0]! : fail(`tensor '${name}' is not [width] or [tokens, width]`));
    }, 0);
  } finally {
    fs.closeSync(fd);
  }
}

/** A lookup giving placeholder vectors (empty arrays), one per token: for counting tokens only. */
export function embeddingCountLookup(roots: readonly string[]): (name: string) => Float32Array[] | undefined {
  let dirs: string[] | undefined;
  return (name) => {
    dirs ??= embeddingSearchDirs(roots);
    const file = findEmbeddingFile(name, dirs);
    return file === undefined ? undefined : Array.from({ length: countEmbeddingTokens(file) }, () => new Float32Array(0));
  };
}

function readVectors(fd: number, t: TensorEntry, target: EmbeddingTarget, fail: (defect: string) => never): Float32Array[] {
  const shape = `[${t.shape.join(', ')}]`;
  if (!FLOAT_DTYPES.includes(t.dtype)) fail(`tensor '${t.name}' is ${t.dtype}; an embedding holds float vectors (F32, F16, BF16)`);
  if (t.shape.length !== 1 && t.shape.length !== 2) fail(`tensor '${t.name}' has shape ${shape}; an embedding is [width] or [tokens, width]`);
  const width = t.shape[t.shape.length - 1]!;
  const label = target.encoderLabel ? `the ${target.encoderLabel} text encoder` : 'this text encoder';
  if (width !== target.width) {
    fail(`tensor '${t.name}' ${shape} has vectors ${width} wide; ${label} takes ${target.width}-wide vectors (an embedding made for another model family)`);
  }
  const count = t.shape.length === 1 ? 1 : t.shape[0]!;
  const raw = new Uint8Array(t.end - t.start);
  readExactly(fd, raw, t.start, fail);
  const values = bytesToFloat32(t.dtype, raw);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) fail(`tensor '${t.name}' holds a non-finite value (${values[i]}) at element ${i}`);
  }
  return Array.from({ length: count }, (_, i) => values.slice(i * width, (i + 1) * width));
}

/**
 * The tokenizer's lookup for one encoder: name → vectors, or undefined when no file matches.
 * Files are read once per lookup object (one prompt encode).
 */
export function embeddingLookup(roots: readonly string[], target: EmbeddingTarget): (name: string) => Float32Array[] | undefined {
  let dirs: string[] | undefined;
  const loaded = new Map<string, LoadedEmbedding>();
  return (name) => {
    dirs ??= embeddingSearchDirs(roots);
    const file = findEmbeddingFile(name, dirs);
    if (file === undefined) return undefined;
    let hit = loaded.get(file);
    if (!hit) {
      hit = readEmbeddingFile(file, target);
      loaded.set(file, hit);
    }
    return hit.vectors;
  };
}
