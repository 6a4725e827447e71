// PNG text metadata, pure (Uint8Array in, Uint8Array out) so the webview, the CLI and the
// inference process share it. Reads what ComfyUI writes and what its frontend reads (tEXt,
// uncompressed iTXt, legacy `comf`); writes tEXt right after IHDR as ComfyUI (Pillow) does.

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

export interface PngChunk {
  type: string;
  /** Offset of the chunk's length field in the file. */
  offset: number;
  data: Uint8Array;
}

export interface PngWorkflowMetadata {
  workflow?: string;
  prompt?: string;
  parameters?: string;
  /** Every text entry found, keyword → text (later chunks win). */
  texts: Record<string, string>;
}

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNATURE.every((b, i) => bytes[i] === b);
}

function u32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

function ascii(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/** Walks all chunks; throws naming the offset when the file is not a PNG or is truncated. */
export function readPngChunks(png: Uint8Array): PngChunk[] {
  if (!isPng(png)) throw new Error('not a PNG file (the 8-byte PNG signature is missing)');
  const chunks: PngChunk[] = [];
  let at = 8;
  while (at < png.length) {
    if (at + 12 > png.length) throw new Error(`truncated PNG: chunk header at byte ${at} is incomplete`);
    const length = u32(png, at);
    const type = ascii(png.subarray(at + 4, at + 8));
    if (!/^[A-Za-z]{4}$/.test(type)) throw new Error(`corrupt PNG: invalid chunk type at byte ${at + 4}`);
    const end = at + 12 + length;
    if (end > png.length) throw new Error(`truncated PNG: chunk ${type} at byte ${at} needs ${length} bytes of data`);
    chunks.push({ type, offset: at, data: png.subarray(at + 8, at + 8 + length) });
    at = end;
    if (type === 'IEND') break;
  }
  return chunks;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** tEXt is latin-1 by the spec, but some writers put UTF-8 there; prefer UTF-8 when it decodes. */
function decodeText(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return ascii(bytes);
  }
}

function parseTextChunk(chunk: PngChunk): [string, string] | undefined {
  const d = chunk.data;
  const nul = d.indexOf(0);
  if (nul <= 0) return undefined;
  const keyword = ascii(d.subarray(0, nul));
  if (chunk.type === 'tEXt' || chunk.type === 'comf') return [keyword, decodeText(d.subarray(nul + 1))];
  // iTXt: keyword\0 compressed(1) method(1) language\0 translated\0 text(UTF-8)
  if (d[nul + 1] !== 0) return undefined; // compressed iTXt: ComfyUI never writes it
  const langEnd = d.indexOf(0, nul + 3);
  if (langEnd < 0) return undefined;
  const transEnd = d.indexOf(0, langEnd + 1);
  if (transEnd < 0) return undefined;
  return [keyword, decodeText(d.subarray(transEnd + 1))];
}

/** Text entries with ComfyUI's keys picked out: `workflow` (UI), `prompt` (API), `parameters` (A1111). */
export function readPngMetadata(png: Uint8Array): PngWorkflowMetadata {
  const texts: Record<string, string> = {};
  for (const chunk of readPngChunks(png)) {
    if (chunk.type !== 'tEXt' && chunk.type !== 'iTXt' && chunk.type !== 'comf') continue;
    const entry = parseTextChunk(chunk);
    if (entry) texts[entry[0]] = entry[1];
  }
  const out: PngWorkflowMetadata = { texts };
  if (texts.workflow !== undefined) out.workflow = texts.workflow;
  if (texts.prompt !== undefined) out.prompt = texts.prompt;
  if (texts.parameters !== undefined) out.parameters = texts.parameters;
  return out;
}

let crcTable: Uint32Array | undefined;

export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of bytes) crc = crcTable[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function latin1(text: string, what: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) {
      throw new Error(`${what} has character U+${c.toString(16).toUpperCase().padStart(4, '0')} at ${i}, which tEXt (latin-1) cannot hold; escape it (comfyJsonDumps does)`);
    }
    out[i] = c;
  }
  return out;
}

/** One PNG chunk: length, type, data, CRC over type and data. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Inserts one tEXt chunk per entry right after IHDR, in the given order (ComfyUI: prompt, then workflow). */
export function insertTextChunks(png: Uint8Array, entries: Array<[string, string]> | Record<string, string>): Uint8Array {
  const list = Array.isArray(entries) ? entries : Object.entries(entries);
  const chunks = readPngChunks(png);
  if (chunks[0]?.type !== 'IHDR') throw new Error('corrupt PNG: the first chunk is not IHDR');
  const insertAt = chunks[0].offset + 12 + chunks[0].data.length;
  const encoded = list.map(([keyword, text]) => {
    if (!/^[\x20-\x7e\xa1-\xff]{1,79}$/.test(keyword) || keyword !== keyword.trim()) {
      throw new Error(`PNG text keyword ${JSON.stringify(keyword)} must be 1-79 printable latin-1 characters without leading/trailing spaces`);
    }
    const k = latin1(keyword, `keyword ${keyword}`);
    const t = latin1(text, `text for "${keyword}"`);
    const data = new Uint8Array(k.length + 1 + t.length);
    data.set(k, 0);
    data.set(t, k.length + 1);
    return pngChunk('tEXt', data);
  });
  const extra = encoded.reduce((s, c) => s + c.length, 0);
  const out = new Uint8Array(png.length + extra);
  out.set(png.subarray(0, insertAt), 0);
  let at = insertAt;
  for (const c of encoded) {
    out.set(c, at);
    at += c.length;
  }
  out.set(png.subarray(insertAt), at);
  return out;
}
