// A safetensors reader for untrusted files (checkpoints downloaded from the internet).
// The header is parsed and validated completely before any tensor byte is read; tensors are then
// read on demand by offset through one file descriptor, so a 2 GB checkpoint is never one buffer
// and a header that lies cannot make us allocate more than the file holds.
import { promises as fsp, readSync } from 'node:fs';
import * as path from 'node:path';
import { bytesToFloat32, DTYPE_SIZE, isSafetensorsDtype, type SafetensorsDtype } from './dtypes';

export { DTYPE_SIZE, bytesToFloat32, isSafetensorsDtype, type SafetensorsDtype } from './dtypes';

export interface TensorEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** absolute byte offsets in the file */
  start: number;
  end: number;
}

/** A defect of one file: the message is one line, "<file>: <defect>". */
export class SafetensorsError extends Error {
  readonly file: string;
  readonly defect: string;
  constructor(file: string, defect: string) {
    super(`${file}: ${defect}`);
    this.name = 'SafetensorsError';
    this.file = file;
    this.defect = defect;
  }
}

export const PICKLE_MESSAGE = 'Marble does not execute pickle files; download the .safetensors version';

/** File extensions of PyTorch pickle checkpoints (and zip archives of pickles). */
export const PICKLE_EXTENSIONS: readonly string[] = ['.ckpt', '.pt', '.pth', '.bin', '.pkl', '.pickle'];

export function isPickleFileName(file: string): boolean {
  return PICKLE_EXTENSIONS.includes(path.extname(file).toLowerCase());
}

/**
 * True when the first bytes are a zip local-file header (torch.save's format since 1.6) or a
 * pickle protocol 2–5 opcode: such a file is a pickle whatever its name says.
 */
export function hasPickleMagic(head: Uint8Array): boolean {
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return true;
  return head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5;
}

/** Headers of real checkpoints are well under 1 MB; 100 MB bounds what a lying length costs. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const describeBytes = (n: number) => (n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GB` : n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MB` : `${n} bytes`);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface ParsedHeader {
  metadata: Record<string, string> | undefined;
  tensors: Map<string, TensorEntry>;
  /** absolute offset of the first tensor byte (8 + header length) */
  dataStart: number;
}

/**
 * Validates a header against the file size. Pure (no I/O), so the defects are testable one by
 * one; `fail` is called with the defect text and must throw.
 */
export function parseHeader(headerBytes: Uint8Array, fileSize: number, fail: (defect: string) => never): ParsedHeader {
  const dataStart = 8 + headerBytes.length;
  const dataSize = fileSize - dataStart;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    return fail('the header is not valid UTF-8');
  }
  if (!text.startsWith('{')) return fail(`the header is not a JSON object (it starts with ${JSON.stringify(text.slice(0, 16))})`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail(`the header is not well-formed JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (!isPlainObject(json)) return fail('the header is not a JSON object');

  let metadata: Record<string, string> | undefined;
  const tensors = new Map<string, TensorEntry>();
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isPlainObject(raw)) return fail('__metadata__ is not an object of strings');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') return fail(`__metadata__ entry '${k}' is not a string`);
      }
      metadata = { ...(raw as Record<string, string>) };
      continue;
    }
    const what = `tensor '${name}'`;
    if (!isPlainObject(raw)) return fail(`${what} is not described by an object`);
    const { dtype, shape, data_offsets: offsets } = raw;
    if (!isSafetensorsDtype(dtype)) return fail(`${what} has unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_SIZE).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      return fail(`${what} has shape ${JSON.stringify(shape)}; expected a list of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      return fail(`${what} has data_offsets ${JSON.stringify(offsets)}; expected [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataSize) {
      return fail(`${what} claims bytes ${begin}..${end} of the data section, but the file holds only ${describeBytes(Math.max(0, dataSize))} of tensor data (truncated download or lying header)`);
    }
    // Multiply in a way that cannot overflow past what the file could hold.
    let elements = 1;
    for (const d of shape as number[]) {
      elements *= d;
      if (elements * DTYPE_SIZE[dtype] > fileSize) break;
    }
    if (shape.includes(0)) elements = 0;
    const expected = elements * DTYPE_SIZE[dtype];
    if (expected > fileSize) {
      return fail(`${what} of shape [${(shape as number[]).join(', ')}] ${dtype} needs more than the whole file (${describeBytes(fileSize)})`);
    }
    if (end - begin !== expected) {
      return fail(`${what} of shape [${(shape as number[]).join(', ')}] ${dtype} needs ${expected} bytes but its data_offsets span ${end - begin}`);
    }
    tensors.set(name, { name, dtype, shape: [...(shape as number[])], start: dataStart + begin, end: dataStart + end });
  }

  // Overlapping tensors would let one write alias another; zero-size tensors occupy nothing.
  const occupied = [...tensors.values()].filter((t) => t.end > t.start).sort((a, b) => a.start - b.start || a.end - b.end);
  for (let i = 1; i < occupied.length; i++) {
    const prev = occupied[i - 1];
    const cur = occupied[i];
    if (cur.start < prev.end) {
      return fail(`tensors '${prev.name}' and '${cur.name}' overlap (data_offsets ${prev.start - dataStart}..${prev.end - dataStart} and ${cur.start - dataStart}..${cur.end - dataStart})`);
    }
  }
  return { metadata, tensors, dataStart };
}

export class SafetensorsFile {
  readonly file: string;
  readonly metadata: Record<string, string> | undefined;
  readonly tensors: ReadonlyMap<string, TensorEntry>;
  /** file size when opened */
  readonly size: number;
  /** absolute offset of the data section */
  readonly dataStart: number;
  private handle: fsp.FileHandle | undefined;

  private constructor(file: string, handle: fsp.FileHandle, size: number, header: ParsedHeader) {
    this.file = file;
    this.handle = handle;
    this.size = size;
    this.metadata = header.metadata;
    this.tensors = header.tensors;
    this.dataStart = header.dataStart;
  }

  /** Opens and validates `file`; throws SafetensorsError for pickles and every header defect. */
  static async open(file: string): Promise<SafetensorsFile> {
    const fail = (defect: string): never => {
      throw new SafetensorsError(file, defect);
    };
    if (isPickleFileName(file)) fail(PICKLE_MESSAGE);
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(file, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return fail(code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a .safetensors file' : `cannot be opened (${(e as Error).message})`);
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) fail('is not a regular file');
      const size = stat.size;
      const head = new Uint8Array(Math.min(9, size));
      await readFully(handle, head, 0, fail);
      // A header length such as 0x580 also starts with the bytes 80 05 of a pickle, so the magic
      // is only believed when the bytes do not read as a plausible safetensors header.
      const plausible = size >= 10 && head[8] === 0x7b && new DataView(head.buffer).getBigUint64(0, true) <= BigInt(Math.min(MAX_HEADER_BYTES, size - 8));
      if (!plausible && hasPickleMagic(head)) fail(PICKLE_MESSAGE);
      if (size < 8) fail(`is ${size} bytes long; a safetensors file starts with an 8-byte header length (truncated or empty file)`);
      const headerLen = new DataView(head.buffer).getBigUint64(0, true);
      if (headerLen > BigInt(MAX_HEADER_BYTES)) fail(`claims a ${headerLen}-byte header; the limit is ${MAX_HEADER_BYTES} bytes (not a safetensors file, or corrupt)`);
      if (headerLen > BigInt(size - 8)) fail(`claims a ${headerLen}-byte header but only ${size - 8} bytes follow the length (truncated file)`);
      if (headerLen < 2n) fail(`claims a ${headerLen}-byte header; the smallest header is '{}'`);
      const headerBytes = new Uint8Array(Number(headerLen));
      await readFully(handle, headerBytes, 8, fail);
      const header = parseHeader(headerBytes, size, fail);
      return new SafetensorsFile(file, handle, size, header);
    } catch (e) {
      await handle.close().catch(() => undefined);
      throw e;
    }
  }

  private entry(name: string): TensorEntry {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError(this.file, `has no tensor '${name}'`);
    return t;
  }

  /** The tensor's bytes exactly as stored (little-endian), read by offset. */
  async readRaw(name: string): Promise<Uint8Array> {
    const t = this.entry(name);
    if (!this.handle) throw new SafetensorsError(this.file, `read of '${name}' after close()`);
    const out = new Uint8Array(t.end - t.start);
    await readFully(this.handle, out, t.start, (defect) => {
      throw new SafetensorsError(this.file, `${defect} while reading '${name}'`);
    });
    return out;
  }

  /** The tensor converted to float32 (exact for F16, BF16 and F32; rounded for F64 and big ints). */
  async readFloat32(name: string): Promise<Float32Array> {
    const t = this.entry(name);
    const raw = await this.readRaw(name);
    // F32 needs no conversion: view the freshly read buffer instead of copying it.
    if (t.dtype === 'F32') return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    return bytesToFloat32(t.dtype, raw);
  }

  /**
   * Elements [first, first + count) of a tensor in C order, converted to float32: one contiguous
   * byte range (e.g. the q, k or v third of a fused in_proj), read without the rest.
   */
  async readFloat32Range(name: string, first: number, count: number): Promise<Float32Array> {
    const t = this.entry(name);
    const size = DTYPE_SIZE[t.dtype];
    const total = (t.end - t.start) / size;
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(count) || first < 0 || count < 0 || first + count > total) {
      throw new SafetensorsError(this.file, `elements ${first}..${first + count} are outside '${name}' (${total} elements)`);
    }
    if (!this.handle) throw new SafetensorsError(this.file, `read of '${name}' after close()`);
    const out = new Uint8Array(count * size);
    await readFully(this.handle, out, t.start + first * size, (defect) => {
      throw new SafetensorsError(this.file, `${defect} while reading '${name}'`);
    });
    return bytesToFloat32(t.dtype, out);
  }

  /**
   * Synchronous read of a small tensor, for decisions taken while detecting a model (ComfyUI
   * looks at one 1280-value bias to tell SD2 v-prediction from eps). Refuses anything over 16 MB.
   */
  readFloat32Sync(name: string): Float32Array {
    const t = this.entry(name);
    if (!this.handle) throw new SafetensorsError(this.file, `read of '${name}' after close()`);
    const n = t.end - t.start;
    if (n > 16 * 1024 * 1024) throw new SafetensorsError(this.file, `'${name}' is too large (${n} bytes) for a synchronous read`);
    const out = new Uint8Array(n);
    let done = 0;
    while (done < n) {
      const got = readSync(this.handle.fd, out, done, n - done, t.start + done);
      if (got === 0) throw new SafetensorsError(this.file, `ends before the bytes of '${name}' (the file shrank or is truncated)`);
      done += got;
    }
    return bytesToFloat32(t.dtype, out);
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.close();
  }
}

/** Reads exactly `into.length` bytes at `position`; a short file is a defect, not a hang. */
async function readFully(handle: fsp.FileHandle, into: Uint8Array, position: number, fail: (defect: string) => never): Promise<void> {
  let done = 0;
  while (done < into.length) {
    // fs.read caps one call at 2 GB; read in slices so huge tensors still work.
    const want = Math.min(into.length - done, 1 << 30);
    const { bytesRead } = await handle.read(into, done, want, position + done);
    if (bytesRead === 0) fail(`ends at byte ${position + done}, before the ${into.length} bytes expected at ${position} (the file shrank or is truncated)`);
    done += bytesRead;
  }
}
