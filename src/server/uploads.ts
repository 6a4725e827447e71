// POST /upload/image and /upload/mask (server.py image_upload): multipart with an `image` file and
// optional `overwrite` ("true"/"1"), `type` (input default, temp, output) and `subfolder`; masks
// add `original_ref` and are saved as the original image with the mask's alpha. Same name and
// same bytes → the existing file is reused; same name, other bytes → `name (1).ext`. The file is
// limited while it streams (413), written through temp + rename, and never leaves its folder.
import Busboy from 'busboy';
import { promises as fsp } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import * as path from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../inference/image/savePath';
import type { UploadResult } from '../protocol/comfyApi';
import { isPng, readPngMetadata, insertTextChunks } from '../workflow/png';
import { HttpError, tooLarge } from './http';
import { parseFolderType, resolveViewFile, type Folders } from './view';
import { checkFileName, PathRefused, realpathInside, resolveSubfolder } from './safePath';

interface Form {
  fields: Record<string, string>;
  file?: { filename: string; data: Buffer };
}

function parseForm(req: IncomingMessage, maxFileBytes: number): Promise<Form> {
  const type = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data/i.test(type)) return Promise.reject(new HttpError(400, 'expected a multipart/form-data body with an `image` file'));
  const declared = Number(req.headers['content-length']);
  // The form's other parts are small: allow 1 MiB of overhead above the file limit.
  if (Number.isFinite(declared) && declared > maxFileBytes + 1024 * 1024) {
    req.resume();
    return Promise.reject(tooLarge(maxFileBytes, 'the upload'));
  }
  return new Promise((resolve, reject) => {
    let bb: Busboy.Busboy;
    try {
      bb = Busboy({ headers: req.headers, limits: { fileSize: maxFileBytes, files: 1, fields: 20, fieldSize: 64 * 1024, parts: 32 } });
    } catch (e) {
      reject(new HttpError(400, `unreadable multipart body: ${(e as Error).message}`));
      return;
    }
    const form: Form = { fields: {} };
    let failed: Error | undefined;
    const fail = (e: Error) => {
      if (failed) return;
      failed = e;
      req.unpipe(bb);
      req.resume();
      reject(e);
    };
    bb.on('field', (name, value) => { form.fields[name] = value; });
    bb.on('file', (name, stream, info) => {
      if (name !== 'image') {
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () => fail(tooLarge(maxFileBytes, 'the uploaded file')));
      stream.on('close', () => {
        if (!failed) form.file = { filename: info.filename ?? '', data: Buffer.concat(chunks) };
      });
    });
    bb.on('filesLimit', () => fail(new HttpError(400, 'only one file per upload')));
    bb.on('error', (e) => fail(new HttpError(400, `unreadable multipart body: ${(e as Error).message}`)));
    bb.on('close', () => { if (!failed) resolve(form); });
    req.on('aborted', () => fail(new HttpError(400, 'the client aborted the upload')));
    req.pipe(bb);
  });
}

async function sameBytes(file: string, data: Buffer): Promise<boolean> {
  const st = await fsp.lstat(file);
  if (!st.isFile() || st.size !== data.length) return false;
  return (await fsp.readFile(file)).equals(data);
}

async function exists(file: string): Promise<boolean> {
  return fsp.lstat(file).then(() => true, () => false);
}

/** The original image with the mask's alpha channel, keeping the original's PNG text (workflow). */
async function applyMask(original: string, mask: Buffer): Promise<Buffer> {
  const orig = await sharp(original).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  let m;
  try {
    m = await sharp(mask).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new HttpError(400, `the mask is not a readable image: ${(e as Error).message}`);
  }
  if (m.info.width !== orig.info.width || m.info.height !== orig.info.height) {
    throw new HttpError(400, `the mask is ${m.info.width}×${m.info.height} but the image is ${orig.info.width}×${orig.info.height}`);
  }
  const px = orig.data;
  for (let i = 0, j = 0; i < px.length; i += 4, j += m.info.channels) px[i + 3] = m.data[j + m.info.channels - 1];
  let png: Uint8Array = await sharp(px, { raw: { width: orig.info.width, height: orig.info.height, channels: 4 } }).png({ compressionLevel: 4 }).toBuffer();
  const bytes = await fsp.readFile(original);
  if (isPng(bytes)) {
    const texts = readPngMetadata(bytes).texts;
    if (Object.keys(texts).length) png = insertTextChunks(png, texts);
  }
  return Buffer.from(png);
}

export async function handleUpload(req: IncomingMessage, kind: 'image' | 'mask', folders: Folders, maxFileBytes: number): Promise<UploadResult> {
  const form = await parseForm(req, maxFileBytes);
  if (!form.file) throw new HttpError(400, 'the form has no `image` file');
  const type = parseFolderType(form.fields.type ?? null, 'input');
  const subfolder = form.fields.subfolder ?? '';
  const overwrite = form.fields.overwrite === 'true' || form.fields.overwrite === '1';
  let dir: string, filename: string;
  try {
    filename = checkFileName(form.file.filename, 'the uploaded file name');
    dir = resolveSubfolder(folders[type], subfolder);
  } catch (e) {
    // ComfyUI answers 400 for any upload path that leaves its folder.
    if (e instanceof PathRefused) throw new HttpError(400, e.message);
    throw e;
  }
  await fsp.mkdir(folders[type], { recursive: true });
  await fsp.mkdir(dir, { recursive: true });
  if (!(await realpathInside(folders[type], dir))) throw new HttpError(400, `subfolder '${subfolder}' leads outside the ${type} folder`);

  let data = form.file.data;
  if (kind === 'mask') {
    let ref: { filename?: unknown; type?: unknown; subfolder?: unknown };
    try {
      ref = JSON.parse(form.fields.original_ref ?? '');
    } catch {
      throw new HttpError(400, 'a mask upload needs original_ref: JSON {filename, type?, subfolder?}');
    }
    const q = new URLSearchParams();
    q.set('filename', String(ref?.filename ?? ''));
    q.set('type', typeof ref?.type === 'string' ? ref.type : 'output');
    if (typeof ref?.subfolder === 'string') q.set('subfolder', ref.subfolder);
    const { file } = await resolveViewFile(q, folders);
    data = await applyMask(file, data);
  }

  let target = path.join(dir, filename);
  if (!overwrite) {
    const ext = path.extname(filename);
    const stem = filename.slice(0, filename.length - ext.length);
    for (let i = 1; await exists(target); i++) {
      if (await sameBytes(target, data)) return { name: filename, subfolder, type };
      if (i > 10000) throw new HttpError(409, `too many files named like '${filename}'`);
      filename = `${stem} (${i})${ext}`;
      target = path.join(dir, filename);
    }
  }
  await writeFileAtomic(target, data);
  return { name: filename, subfolder, type };
}
