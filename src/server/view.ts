// GET /view: a file from output/, input/ or temp/ (server.py view_image), with `preview=webp|jpeg[;q]`
// re-encoding and `channel=rgb|a|rgba`. The name may carry ComfyUI's ` [output]` annotation.
// 400 for a name that is not a plain file name, 403 for a subfolder or symlink leading out, 404
// for a missing file; the JSON body says which.
import { createReadStream, promises as fsp } from 'node:fs';
import type { ServerResponse } from 'node:http';
import * as path from 'node:path';
import sharp from 'sharp';
import type { FolderType } from '../protocol/comfyApi';
import { HttpError } from './http';
import { checkFileName, PathRefused, realpathInside, resolveSubfolder } from './safePath';

export type Folders = Record<FolderType, string>;

const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.gif': 'image/gif',
  '.bmp': 'image/bmp', '.tif': 'image/tiff', '.tiff': 'image/tiff', '.avif': 'image/avif', '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8', '.mp4': 'video/mp4', '.webm': 'video/webm', '.flac': 'audio/flac', '.wav': 'audio/wav',
  '.latent': 'application/octet-stream', '.svg': 'application/octet-stream', '.html': 'application/octet-stream',
};

const ANNOTATION = /^(.*) \[(output|input|temp)\]$/;

export function parseFolderType(value: string | null, fallback: FolderType): FolderType {
  if (value === null || value === '') return fallback;
  if (value === 'output' || value === 'input' || value === 'temp') return value;
  throw new HttpError(400, `type must be output, input or temp, got '${value}'`);
}

/** Resolves and checks the file a /view query names. */
export async function resolveViewFile(query: URLSearchParams, folders: Folders): Promise<{ file: string; filename: string }> {
  let filename = query.get('filename');
  if (filename === null) throw new HttpError(404, 'missing the filename query parameter');
  let type = parseFolderType(query.get('type'), 'output');
  const annotated = ANNOTATION.exec(filename);
  if (annotated) {
    filename = annotated[1];
    type = annotated[2] as FolderType;
  }
  try {
    checkFileName(filename);
    const dir = resolveSubfolder(folders[type], query.get('subfolder') ?? '');
    const file = path.join(dir, filename);
    const stat = await fsp.stat(file).catch(() => undefined);
    if (!stat?.isFile()) throw new PathRefused(404, `no file '${filename}' in ${type}${query.get('subfolder') ? `/${query.get('subfolder')}` : ''}`);
    if (!(await realpathInside(folders[type], file))) throw new PathRefused(403, `'${filename}' leads outside the ${type} folder`);
    return { file, filename };
  } catch (e) {
    if (e instanceof PathRefused) throw new HttpError(e.status, e.message);
    throw e;
  }
}

function disposition(name: string): string {
  // Quotes and control characters cannot appear in a header's quoted string.
  return `filename="${name.replace(/["\\\r\n]/g, '_')}"`;
}

export async function serveView(query: URLSearchParams, folders: Folders, res: ServerResponse): Promise<void> {
  const { file, filename } = await resolveViewFile(query, folders);
  const channel = query.get('channel') ?? 'rgba';
  const preview = query.get('preview');
  if (preview !== null) {
    const parts = preview.split(';');
    let format = parts[0] === 'jpeg' || parts[0] === 'webp' ? parts[0] : 'webp';
    if (channel.includes('a') && channel !== 'rgba') format = 'webp';
    const last = parts[parts.length - 1];
    const quality = /^\d+$/.test(last) ? Math.min(100, Math.max(1, Number(last))) : 90;
    let img = sharp(file);
    if (format === 'jpeg' || channel === 'rgb') img = img.removeAlpha();
    const body = format === 'jpeg' ? await img.jpeg({ quality }).toBuffer() : await img.webp({ quality }).toBuffer();
    res.writeHead(200, { 'Content-Type': `image/${format}`, 'Content-Length': body.length, 'Content-Disposition': disposition(filename.replace('png', format)) });
    res.end(body);
    return;
  }
  if (channel === 'rgb' || channel === 'a') {
    const body = channel === 'rgb'
      ? await sharp(file).removeAlpha().png().toBuffer()
      : await alphaOnly(file);
    res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': body.length, 'Content-Disposition': disposition(filename) });
    res.end(body);
    return;
  }
  const stat = await fsp.stat(file);
  res.writeHead(200, {
    'Content-Type': CONTENT_TYPES[path.extname(filename).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': stat.size,
    'Content-Disposition': disposition(filename),
    'X-Content-Type-Options': 'nosniff',
  });
  await new Promise<void>((resolve) => {
    const stream = createReadStream(file);
    stream.on('error', () => { res.destroy(); resolve(); });
    stream.on('end', () => resolve());
    stream.pipe(res);
  });
}

/** channel=a: an RGBA PNG whose alpha is the file's alpha (opaque when it has none), colour zero. */
async function alphaOnly(file: string): Promise<Buffer> {
  const { data, info } = await sharp(file).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const out = Buffer.alloc(info.width * info.height * 4);
  for (let i = 0, j = 0; i < data.length; i += info.channels, j += 4) out[j + 3] = data[i + info.channels - 1];
  return sharp(out, { raw: { width: info.width, height: info.height, channels: 4 } }).png().toBuffer();
}
