// A downloaded file is untrusted: before it is renamed into the models folder it must at least
// look like the format its name claims. For .safetensors: an 8-byte little-endian header length
// that fits the file, a JSON object header, and tensors whose data lies inside the file. For
// PyTorch .ckpt/.pt/.pth: a zip archive (torch ≥ 1.6) or a pickle stream. Nothing is allocated
// from a size in the file before that size is checked against the file's real size.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Undefined when plausible, else why not. */
export async function checkModelFile(file: string, displayName = path.basename(file)): Promise<string | undefined> {
  const ext = path.extname(displayName).toLowerCase();
  const fh = await fsp.open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(Math.min(8, size));
    await fh.read(head, 0, head.length, 0);
    if (/^\s*<(!doctype|html)/i.test(head.toString('latin1'))) return `${displayName} is an HTML page, not a model (a login or licence page?)`;
    if (ext === '.safetensors' || ext === '.sft') {
      if (size < 8) return `${displayName} is too short for a safetensors file (${size} bytes)`;
      const n = head.readBigUInt64LE(0);
      if (n < 2n || n > BigInt(Math.min(MAX_HEADER_BYTES, size - 8))) {
        return `${displayName} is not a safetensors file: its header length ${n} does not fit a ${size}-byte file`;
      }
      const headerBytes = Buffer.alloc(Number(n));
      await fh.read(headerBytes, 0, headerBytes.length, 8);
      let header: unknown;
      try {
        header = JSON.parse(headerBytes.toString('utf8'));
      } catch {
        return `${displayName} is not a safetensors file: its header is not JSON`;
      }
      if (!header || typeof header !== 'object' || Array.isArray(header)) return `${displayName} is not a safetensors file: its header is not a JSON object`;
      const dataBytes = size - 8 - Number(n);
      for (const [name, t] of Object.entries(header as Record<string, unknown>)) {
        if (name === '__metadata__') continue;
        const info = t as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
        const off = info?.data_offsets;
        if (typeof info?.dtype !== 'string' || !Array.isArray(info.shape) || !Array.isArray(off) || off.length !== 2
          || !off.every((x) => Number.isSafeInteger(x) && x >= 0) || off[0] > off[1] || off[1] > dataBytes) {
          return `${displayName} is not a valid safetensors file: tensor '${name}' has a bad entry (or lies outside the file)`;
        }
      }
      return undefined;
    }
    if (ext === '.ckpt' || ext === '.pt' || ext === '.pth') {
      const zip = head.length >= 4 && head.readUInt32LE(0) === 0x04034b50;
      const pickle = head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5;
      return zip || pickle ? undefined : `${displayName} is neither a PyTorch zip archive nor a pickle stream`;
    }
    return undefined;
  } finally {
    await fh.close();
  }
}
