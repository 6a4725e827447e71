// A streaming, atomic safetensors writer in the reference layout of
// test/fixtures/comfyui-reference/REFERENCE.md: 8-byte little-endian header length, the JSON header
// with tensors in sorted name order and no spaces (`__metadata__` first and only when given),
// padded with spaces to a multiple of 8, then each tensor's bytes in that same order.
// Data producers are called one at a time and written as they come, so a 2 GB file is never in
// memory; the file appears under its name only when complete (temp file + rename).
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { DTYPE_SIZE, isSafetensorsDtype, type SafetensorsDtype } from './dtypes';

export type { SafetensorsDtype } from './dtypes';

export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  data: Uint8Array | (() => Uint8Array | Promise<Uint8Array>);
}

/** Code-point order, as Python's `sorted` (and the reference files) use; equals UTF-16 order for ASCII. */
function compareNames(a: string, b: string): number {
  const ca = [...a];
  const cb = [...b];
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const d = ca[i].codePointAt(0)! - cb[i].codePointAt(0)!;
    if (d !== 0) return d;
  }
  return ca.length - cb.length;
}

interface Planned {
  t: TensorToWrite;
  bytes: number;
  begin: number;
}

/** The header bytes (padded) and the byte plan for `tensors`; validates names, dtypes and shapes. */
export function planSafetensors(file: string, tensors: TensorToWrite[], metadata?: Record<string, string>): { header: Uint8Array; plan: Planned[] } {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (typeof t.name !== 'string' || t.name === '' || t.name === '__metadata__') throw new Error(`${file}: invalid tensor name ${JSON.stringify(t.name)}`);
    if (seen.has(t.name)) throw new Error(`${file}: tensor '${t.name}' is given twice`);
    seen.add(t.name);
    if (!isSafetensorsDtype(t.dtype)) throw new Error(`${file}: tensor '${t.name}' has unknown dtype ${JSON.stringify(t.dtype)}`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${file}: tensor '${t.name}' has shape ${JSON.stringify(t.shape)}; expected non-negative integers`);
    }
  }
  const sorted = [...tensors].sort((a, b) => compareNames(a.name, b.name));
  const plan: Planned[] = [];
  let offset = 0;
  const parts: string[] = [];
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`${file}: metadata '${k}' is not a string`);
    }
    // Written key by key: JSON.stringify of an object would move integer-like keys first.
    const keys = Object.keys(metadata).sort(compareNames);
    parts.push(`"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  for (const t of sorted) {
    const bytes = t.shape.reduce((a, d) => a * d, 1) * DTYPE_SIZE[t.dtype];
    plan.push({ t, bytes, begin: offset });
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + bytes}]}`);
    offset += bytes;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  const header = Buffer.alloc(8 + padded, 0x20);
  header.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(header, 8);
  return { header: new Uint8Array(header.buffer, header.byteOffset, header.length), plan };
}

export async function writeSafetensors(file: string, tensors: TensorToWrite[], opts: { metadata?: Record<string, string> } = {}): Promise<void> {
  const { header, plan } = planSafetensors(file, tensors, opts.metadata);
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await fsp.open(tmp, 'wx');
  try {
    await writeAll(fh, header);
    for (const { t, bytes } of plan) {
      const data = typeof t.data === 'function' ? await t.data() : t.data;
      if (!(data instanceof Uint8Array)) throw new Error(`${file}: tensor '${t.name}' data is not a Uint8Array`);
      if (data.byteLength !== bytes) {
        throw new Error(`${file}: tensor '${t.name}' of shape [${t.shape.join(', ')}] ${t.dtype} needs ${bytes} bytes, got ${data.byteLength}`);
      }
      await writeAll(fh, data);
    }
    await fh.sync();
    await fh.close();
    await fsp.rename(tmp, file);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}

async function writeAll(fh: fsp.FileHandle, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.byteLength) {
    const { bytesWritten } = await fh.write(data, done, Math.min(data.byteLength - done, 1 << 30));
    done += bytesWritten;
  }
}

/** Views a typed array's bytes without copying (for `TensorToWrite.data`). */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
