// Who a source file is, for the conversion cache: its absolute path, size, mtime and a hash of its
// header bytes. Path + size + mtime catch a replaced download without reading the file; the header
// hash catches a file rewritten in place with the same size inside the mtime's resolution (a
// different checkpoint has different tensor names, shapes or offsets, so a different header).
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

export interface FileIdentity {
  path: string;
  size: number;
  mtimeMs: number;
  /** sha256 (hex) of the first 8 + header-length bytes (capped), or of the whole file when shorter. */
  headerSha256: string;
}

/** A checkpoint header is well under 1 MB; the cap bounds what a lying length costs to hash. */
const MAX_HASHED_BYTES = 16 * 1024 * 1024;

export class SourceFileError extends Error {
  constructor(
    readonly file: string,
    readonly defect: string,
  ) {
    super(`${file}: ${defect}`);
    this.name = 'SourceFileError';
  }
}

export async function fileIdentity(file: string): Promise<FileIdentity> {
  const abs = path.resolve(file);
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(abs, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SourceFileError(abs, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a .safetensors file' : `cannot be opened (${(e as Error).message})`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new SourceFileError(abs, 'is not a regular file');
    let hashed = Math.min(st.size, 8);
    if (st.size >= 8) {
      const head = Buffer.alloc(8);
      await handle.read(head, 0, 8, 0);
      const claimed = head.readBigUInt64LE(0);
      // A lying length is the reader's business to report; here it only bounds the hash.
      hashed = Number(BigInt(Math.min(st.size, MAX_HASHED_BYTES)) < claimed + 8n ? BigInt(Math.min(st.size, MAX_HASHED_BYTES)) : claimed + 8n);
    }
    const bytes = Buffer.alloc(hashed);
    let done = 0;
    while (done < hashed) {
      const { bytesRead } = await handle.read(bytes, done, hashed - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return { path: abs, size: st.size, mtimeMs: Math.floor(st.mtimeMs), headerSha256: createHash('sha256').update(bytes.subarray(0, done)).digest('hex') };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.path === b.path && a.size === b.size && a.mtimeMs === b.mtimeMs && a.headerSha256 === b.headerSha256;
}
