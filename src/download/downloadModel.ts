// Downloads one model file into a models sub-folder: resumable (`download-<key>.partial` plus a
// `.partial.json` sidecar with the URL and validator, continued with an HTTP Range request),
// checked for free space before the body is read, verified (size, SHA-256 where known, a
// plausible file header) and only then renamed to its final name, so a file with a model's name
// is always complete. Shared by `marble download` and the VS Code command.
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import * as path from 'node:path';
import { MODEL_EXTENSIONS } from '../workflow/modelNames';
import { httpGet, type ProxySettings } from './httpGet';
import { checkModelFile } from './modelFileCheck';

export type DownloadErrorCode =
  | 'http' | 'exists' | 'no-space' | 'truncated' | 'size' | 'hash' | 'bad-file' | 'bad-name' | 'cancelled' | 'network';

export class DownloadError extends Error {
  constructor(readonly code: DownloadErrorCode, message: string) {
    super(message);
    this.name = 'DownloadError';
  }
}

export interface DownloadProgress {
  received: number;
  total?: number;
  /** Bytes per second over this session (resumed bytes excluded). */
  bytesPerSecond: number;
  /** Seconds left at that rate; undefined when the total or rate is unknown. */
  etaSeconds?: number;
}

export interface StatFsLike { bavail: number | bigint; bsize: number | bigint }

export interface DownloadOptions {
  url: string;
  /** The models sub-folder, e.g. <models>/checkpoints (created when missing). */
  folder: string;
  /** Final file name; when omitted, from Content-Disposition or the URL's last segment. */
  fileName?: string;
  expectedBytes?: number;
  sha256?: string;
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** Minimum interval between progress callbacks (the last one always comes). */
  progressIntervalMs?: number;
  proxy?: ProxySettings;
  /** fs.promises.statfs by default (tests inject one). */
  statfs?: (dir: string) => Promise<StatFsLike>;
  /** Replace an existing file of the same name. */
  overwrite?: boolean;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
  /** Bytes that were already in the .partial file and not downloaded again. */
  resumedFrom: number;
  verifiedSha256: boolean;
  elapsedMs: number;
}

interface Sidecar { url: string; etag?: string; lastModified?: string; total?: number; fileName?: string }

/** Where the unfinished bytes of `url` are kept in `folder` (keyed by URL, so resume finds them). */
export function partialPaths(folder: string, url: string): { partial: string; sidecar: string } {
  const key = createHash('sha256').update(url).digest('hex').slice(0, 16);
  const partial = path.join(folder, `download-${key}.partial`);
  return { partial, sidecar: `${partial}.json` };
}

/** `filename*=UTF-8''…` (preferred) or `filename="…"` from a Content-Disposition header. */
export function fileNameFromContentDisposition(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const star = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[2]!.trim().replace(/^"|"$/g, ''));
    } catch {
      // fall through to the plain parameter
    }
  }
  const plain = /filename\s*=\s*("((?:[^"\\]|\\.)*)"|[^;]+)/i.exec(header);
  if (!plain) return undefined;
  return plain[2] !== undefined ? plain[2].replace(/\\(.)/g, '$1') : plain[1]!.trim();
}

/** A name that stays inside the folder and is a model file, or a DownloadError. */
export function safeModelFileName(raw: string): string {
  // Only the last path segment counts, whatever separators the server used.
  const base = raw.split(/[\\/]/).pop()!.trim();
  if (!base || base === '.' || base === '..' || base.startsWith('.') || /[\x00-\x1f<>:"|?*]/.test(base)) {
    throw new DownloadError('bad-name', `the server named the file '${raw}', which is not a usable file name`);
  }
  const lower = base.toLowerCase();
  if (!MODEL_EXTENSIONS.some((e) => lower.endsWith(e))) {
    throw new DownloadError('bad-name', `'${base}' is not a model file (expected one of ${MODEL_EXTENSIONS.join(', ')})`);
  }
  return base;
}

function headerOf(res: IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

const MB = 1024 * 1024;
const fmtMB = (n: number) => `${(n / MB).toFixed(1)} MB`;

async function readSidecar(file: string): Promise<Sidecar | undefined> {
  try {
    const s = JSON.parse(await fsp.readFile(file, 'utf8')) as Sidecar;
    return typeof s?.url === 'string' ? s : undefined;
  } catch {
    return undefined;
  }
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify(value));
  await fsp.rename(tmp, file);
}

async function removeQuietly(...files: string[]): Promise<void> {
  await Promise.all(files.map((f) => fsp.rm(f, { force: true })));
}

async function hashFile(file: string, hash: ReturnType<typeof createHash>): Promise<void> {
  const fh = await fsp.open(file, 'r');
  try {
    for await (const chunk of fh.createReadStream()) hash.update(chunk as Buffer);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

function httpError(status: number, url: string): DownloadError {
  const hint = status === 401 || status === 403
    ? ' (this file may need a login or accepting a licence on the website: download it in a browser and put it in the models folder)'
    : status === 404 ? ' (check the URL)' : '';
  return new DownloadError('http', `HTTP ${status} for ${url}${hint}`);
}

/** Downloads `opts.url` into `opts.folder`; see the module comment. */
export async function downloadModel(opts: DownloadOptions): Promise<DownloadResult> {
  const started = Date.now();
  const folder = path.resolve(opts.folder);
  await fsp.mkdir(folder, { recursive: true });
  const { partial, sidecar } = partialPaths(folder, opts.url);
  const fixedName = opts.fileName !== undefined ? safeModelFileName(opts.fileName) : undefined;
  if (fixedName && !opts.overwrite && existsSync(path.join(folder, fixedName))) {
    throw new DownloadError('exists', `${path.join(folder, fixedName)} already exists`);
  }
  const statfs = opts.statfs ?? ((dir: string) => fsp.statfs(dir));
  const expectedSha = opts.sha256?.toLowerCase();
  const cancelled = () => new DownloadError('cancelled', `download cancelled; run it again to resume from the ${path.basename(partial)} file`);

  // What a previous attempt left, if it was for this URL and can be validated by the server.
  let have = 0;
  let side = existsSync(partial) ? await readSidecar(sidecar) : undefined;
  if (side && side.url === opts.url && (side.etag || side.lastModified)) {
    have = (await fsp.stat(partial)).size;
  } else {
    side = undefined;
    await removeQuietly(partial, sidecar);
  }

  for (let attempt = 0; ; attempt++) {
    if (opts.signal?.aborted) throw cancelled();
    const headers: Record<string, string> = {};
    if (have > 0) {
      headers.range = `bytes=${have}-`;
      // The server sends the whole file (200) instead if it changed since the partial was written.
      headers['if-range'] = side!.etag ?? side!.lastModified!;
    }
    let got;
    try {
      got = await httpGet(opts.url, { headers, signal: opts.signal, proxy: opts.proxy });
    } catch (e) {
      if (opts.signal?.aborted) throw cancelled();
      if (e instanceof DownloadError) throw e;
      throw new DownloadError('network', `could not download ${opts.url}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const { response: res, finalUrl } = got;
    const status = res.statusCode ?? 0;
    let total: number | undefined;
    let append = false;
    if (status === 416) {
      res.resume();
      const m = /bytes\s+\*\/(\d+)/i.exec(headerOf(res, 'content-range') ?? '');
      if (m && Number(m[1]) === have && have > 0) {
        // Every byte is already here: only verification is left.
        total = have;
        return finish(undefined);
      }
      // The partial does not fit what the server has now: start again, once.
      await removeQuietly(partial, sidecar);
      if (attempt > 0 || have === 0) throw httpError(status, opts.url);
      have = 0;
      side = undefined;
      continue;
    }
    if (status === 206) {
      const m = /bytes\s+(\d+)-(\d+)\/(\d+|\*)/i.exec(headerOf(res, 'content-range') ?? '');
      if (!m || Number(m[1]) !== have) {
        res.destroy();
        throw new DownloadError('http', `the server answered the resume request for ${opts.url} with the wrong range (${headerOf(res, 'content-range') ?? 'none'}, wanted bytes ${have}-)`);
      }
      total = m[3] === '*' ? undefined : Number(m[3]);
      append = true;
    } else if (status === 200) {
      have = 0;
      const len = headerOf(res, 'content-length');
      total = len !== undefined && /^\d+$/.test(len) ? Number(len) : undefined;
    } else {
      res.resume();
      throw httpError(status, opts.url);
    }

    let fileName: string;
    try {
      fileName = fixedName ?? side?.fileName ?? safeModelFileName(
        fileNameFromContentDisposition(headerOf(res, 'content-disposition')) ?? decodeURIComponent(finalUrl.pathname.split('/').pop() ?? ''),
      );
    } catch (e) {
      res.destroy();
      throw e;
    }
    const target = path.join(folder, fileName);
    const fail = (e: DownloadError): never => {
      res.destroy();
      throw e;
    };
    if (!opts.overwrite && existsSync(target)) fail(new DownloadError('exists', `${target} already exists`));
    if (/^text\/html\b/i.test(headerOf(res, 'content-type') ?? '')) {
      fail(new DownloadError('bad-file', `${opts.url} answered with an HTML page, not a model file (a login or licence page?)`));
    }
    if (total !== undefined && opts.expectedBytes !== undefined && total !== opts.expectedBytes) {
      fail(new DownloadError('size', `${fileName}: the server offers ${total} bytes, the catalogue expects ${opts.expectedBytes}`));
    }
    const need = (total ?? opts.expectedBytes ?? 0) - have;
    if (need > 0) {
      const st = await statfs(folder);
      const free = Number(BigInt(st.bavail) * BigInt(st.bsize));
      if (free < need) {
        fail(new DownloadError('no-space', `not enough free space in ${folder} for ${fileName}: it needs ${fmtMB(need)} more, ${fmtMB(free)} are free`));
      }
    }
    await writeJsonAtomic(sidecar, {
      url: opts.url, etag: headerOf(res, 'etag'), lastModified: headerOf(res, 'last-modified'), total, fileName,
    } satisfies Sidecar);
    side = { url: opts.url, fileName };

    const hash = createHash('sha256');
    if (append) await hashFile(partial, hash);
    const fh = await fsp.open(partial, append ? 'a' : 'w');
    let received = have;
    const sessionStart = Date.now();
    let lastReport = 0;
    const interval = opts.progressIntervalMs ?? 250;
    const report = (force: boolean) => {
      const now = Date.now();
      if (!opts.onProgress || (!force && now - lastReport < interval)) return;
      lastReport = now;
      const secs = (now - sessionStart) / 1000;
      const bytesPerSecond = secs > 0 ? (received - have) / secs : 0;
      const etaSeconds = total !== undefined && bytesPerSecond > 0 ? (total - received) / bytesPerSecond : undefined;
      opts.onProgress({ received, total, bytesPerSecond, etaSeconds });
    };
    try {
      for await (const chunk of res) {
        const buf = chunk as Buffer;
        if (total !== undefined && received + buf.length > total) {
          throw new DownloadError('size', `${fileName}: the server sent more than the ${total} bytes it announced`);
        }
        await fh.write(buf);
        hash.update(buf);
        received += buf.length;
        report(false);
      }
    } catch (e) {
      await fh.close().catch(() => undefined);
      res.destroy();
      if (opts.signal?.aborted) throw cancelled();
      if (e instanceof DownloadError) {
        await removeQuietly(partial, sidecar);
        throw e;
      }
      // A dropped connection: the bytes so far stay for the next attempt.
      throw new DownloadError('truncated', `the connection ended after ${fmtMB(received)}${total !== undefined ? ` of ${fmtMB(total)}` : ''} (${e instanceof Error ? e.message : String(e)}); run it again to resume`);
    }
    await fh.sync().catch(() => undefined);
    await fh.close();
    report(true);
    if (total !== undefined && received < total) {
      throw new DownloadError('truncated', `the connection ended after ${fmtMB(received)} of ${fmtMB(total)}; run it again to resume`);
    }
    total = received;
    return finish(hash.digest('hex'));

    async function finish(digest: string | undefined): Promise<DownloadResult> {
      const name = fixedName ?? side?.fileName;
      if (!name) throw new DownloadError('bad-name', `no file name is known for ${opts.url}`);
      const dest = path.join(folder, name);
      const size = (await fsp.stat(partial)).size;
      const sha = digest ?? await (async () => { const h = createHash('sha256'); await hashFile(partial, h); return h.digest('hex'); })();
      const reject = async (code: DownloadErrorCode, message: string): Promise<never> => {
        // These bytes are wrong, not merely incomplete: resuming would not help.
        await removeQuietly(partial, sidecar);
        throw new DownloadError(code, message);
      };
      if (opts.expectedBytes !== undefined && size !== opts.expectedBytes) {
        await reject('size', `${name}: downloaded ${size} bytes, expected ${opts.expectedBytes}`);
      }
      if (expectedSha && sha !== expectedSha) {
        await reject('hash', `${name}: SHA-256 ${sha} does not match the expected ${expectedSha}; the download was deleted`);
      }
      const bad = await checkModelFile(partial, name);
      if (bad) await reject('bad-file', `${bad}; the download was deleted`);
      if (!opts.overwrite && existsSync(dest)) throw new DownloadError('exists', `${dest} already exists`);
      await fsp.rename(partial, dest);
      await removeQuietly(sidecar);
      return { path: dest, bytes: size, sha256: sha, resumedFrom: have, verifiedSha256: !!expectedSha, elapsedMs: Date.now() - started };
    }
  }
}
