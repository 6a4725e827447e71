// The conversion cache: a `.safetensors` file becomes an ONNX folder once per (file identity,
// converter version, precision, EP family, role), and every later load opens that folder.
//
// Layout of the cache root:
//   <slug>-<hash>/                 a complete entry (an optimum-layout ONNX folder) with
//     marble-conversion.json       its completion marker, written last: source identity,
//                                  variant and the expected size of every file
//   <slug>-<hash>.lock             held while one process converts that entry
//   .tmp-<pid>-<rand>-<slug>-<hash>/  a conversion in progress (private to its process)
//   .trash-<pid>-<rand>/           an entry being deleted
// An entry only ever appears by renaming a finished temp folder, so a conversion killed at any
// point leaves at most a temp folder and a stale lock, which the next conversion sweeps away.
// An entry whose files do not match its marker (a disk that filled up, a user's edit) is
// rebuilt. A bad source file is refused by `prepare` before anything is written.
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConversionLock, isStale, pidAlive, readLock } from './cache/conversionLock';
import { fileIdentity, sameIdentity, type FileIdentity } from './cache/fileIdentity';

/** Bump when the graphs or the folder layout a conversion writes change: old entries then rebuild. */
// 2: text encoders take extra_token_embeddings (textual-inversion embeddings).
// 3: SDXL (text_encoder_2 with text_embeds, U-Nets with text_embeds/time_ids).
export const CONVERTER_VERSION = 3;
export const MARKER_FILE = 'marble-conversion.json';
const OWNER_FILE = '.owner.json';

export type Precision = 'fp32' | 'fp16';
export type EpFamily = 'cpu' | 'gpu';
export type SourceRole = 'checkpoint' | 'vae' | 'unet' | 'clip';

export interface CacheVariant {
  precision: Precision;
  epFamily: EpFamily;
  role: SourceRole;
  /** Set when the graphs were optimized offline for one machine (CPU model, arch, ORT version). */
  optimizedFor?: string;
}

export interface CacheMarker {
  format: 1;
  converterVersion: number;
  source: FileIdentity;
  variant: CacheVariant;
  createdAt: string;
  /** '/'-separated path inside the entry → size in bytes. */
  files: Record<string, number>;
  /** What the producer reports about the model (family, prediction type, components). */
  summary: Record<string, unknown>;
}

/** Writes the converted model into `outDir` (which exists and is empty). */
export type Producer = (outDir: string, onProgress: (fraction: number) => void, signal?: AbortSignal) => Promise<Record<string, unknown> | void>;

export type ConversionState = 'converting' | 'waiting';

export interface EnsureOptions {
  variant: CacheVariant;
  /**
   * Checks the source and returns what converts it. Runs only on a cache miss and before the
   * cache is touched, so a truncated, lying or unsupported file leaves nothing behind.
   */
  prepare(): Promise<Producer>;
  /** 0..1; 'waiting' while another process converts the same entry. */
  onProgress?(fraction: number, state: ConversionState): void;
  signal?: AbortSignal;
  /** How often a waiting process looks at the other's lock (ms). */
  pollMs?: number;
}

export interface EnsureResult {
  dir: string;
  /** True when this call wrote the entry; false for a cache hit (or another process's work). */
  converted: boolean;
  marker: CacheMarker;
}

export interface CacheEntryInfo {
  name: string;
  dir: string;
  bytes: number;
  /** 'complete' entries are used; 'incomplete' ones (bad marker or files) are rebuilt on use. */
  state: 'complete' | 'incomplete' | 'converting' | 'leftover';
  source?: string;
  createdAt?: string;
  variant?: CacheVariant;
}

export interface CacheInfo {
  root: string;
  entries: CacheEntryInfo[];
  totalBytes: number;
}

export interface ClearResult {
  removed: number;
  freedBytes: number;
  /** Entries another process is converting right now: left alone. */
  skipped: string[];
}

/** The default cache folder of the CLI: the platform's per-user cache directory. */
export function defaultCacheRoot(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home = os.homedir()): string {
  if (env.MARBLE_CACHE) return path.resolve(env.MARBLE_CACHE);
  if (platform === 'win32') return path.join(env.LOCALAPPDATA || path.join(home, 'AppData', 'Local'), 'marble', 'cache', 'onnx');
  if (platform === 'darwin') return path.join(home, 'Library', 'Caches', 'marble', 'onnx');
  return path.join(env.XDG_CACHE_HOME || path.join(home, '.cache'), 'marble', 'onnx');
}

function slug(file: string): string {
  const base = path.basename(file).replace(/\.[^.]*$/, '');
  const s = base.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._-]+/, '').slice(0, 60);
  return s || 'model';
}

function sameVariant(a: CacheVariant, b: CacheVariant): boolean {
  return a.precision === b.precision && a.epFamily === b.epFamily && a.role === b.role && (a.optimizedFor ?? '') === (b.optimizedFor ?? '');
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Every regular file under `dir`, '/'-separated relative path → size. */
async function filesWithSizes(dir: string, rel = ''): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const e of await fsp.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) Object.assign(out, await filesWithSizes(dir, r));
    else if (e.isFile()) out[r] = (await fsp.stat(path.join(dir, r))).size;
  }
  return out;
}

/** Bytes under `p` (a file or a folder); 0 when it vanished meanwhile. */
export async function diskBytes(p: string): Promise<number> {
  try {
    const st = await fsp.lstat(p);
    if (!st.isDirectory()) return st.size;
    let n = 0;
    for (const e of await fsp.readdir(p)) n += await diskBytes(path.join(p, e));
    return n;
  } catch {
    return 0;
  }
}

async function readMarker(dir: string): Promise<CacheMarker | undefined> {
  try {
    const m = JSON.parse(await fsp.readFile(path.join(dir, MARKER_FILE), 'utf8')) as CacheMarker;
    if (m?.format !== 1 || typeof m.files !== 'object' || m.files === null || typeof m.source?.path !== 'string' || typeof m.variant?.role !== 'string') return undefined;
    return m;
  } catch {
    return undefined;
  }
}

/** The marker when every file it lists is there with its size, else undefined. */
async function verifyEntry(dir: string): Promise<CacheMarker | undefined> {
  const marker = await readMarker(dir);
  if (!marker || marker.converterVersion !== CONVERTER_VERSION) return undefined;
  for (const [rel, size] of Object.entries(marker.files)) {
    if (rel.split('/').some((part) => part === '..' || part === '') || path.isAbsolute(rel)) return undefined;
    try {
      if ((await fsp.stat(path.join(dir, ...rel.split('/')))).size !== size) return undefined;
    } catch {
      return undefined;
    }
  }
  return marker;
}

export class ConversionCache {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  entryName(id: FileIdentity, variant: CacheVariant): string {
    const key = JSON.stringify({ id, v: CONVERTER_VERSION, p: variant.precision, ep: variant.epFamily, r: variant.role, o: variant.optimizedFor ?? '' });
    return `${slug(id.path)}-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
  }

  /** The complete entry for `file` as it is now, or undefined. Reads only the file's header. */
  async lookup(file: string, variant: CacheVariant): Promise<{ dir: string; marker: CacheMarker } | undefined> {
    const id = await fileIdentity(file);
    const dir = path.join(this.root, this.entryName(id, variant));
    const marker = await this.verified(dir, id, variant);
    return marker ? { dir, marker } : undefined;
  }

  private async verified(dir: string, id: FileIdentity, variant: CacheVariant): Promise<CacheMarker | undefined> {
    const marker = await verifyEntry(dir);
    return marker && sameIdentity(marker.source, id) && sameVariant(marker.variant, variant) ? marker : undefined;
  }

  /** Returns the entry for `file`, converting it first on a miss. */
  async ensure(file: string, opts: EnsureOptions): Promise<EnsureResult> {
    const id = await fileIdentity(file);
    const name = this.entryName(id, opts.variant);
    const dir = path.join(this.root, name);
    const hit = await this.verified(dir, id, opts.variant);
    if (hit) return { dir, converted: false, marker: hit };

    const produce = await opts.prepare();
    await fsp.mkdir(this.root, { recursive: true });
    await this.sweep();
    const lockFile = path.join(this.root, `${name}.lock`);
    for (;;) {
      opts.signal?.throwIfAborted();
      const lock = await ConversionLock.tryAcquire(lockFile);
      if (!lock) {
        // Another process converts this file: show its progress and use its result.
        const other = await readLock(lockFile);
        opts.onProgress?.(other?.info?.progress ?? 0, 'waiting');
        await sleep(opts.pollMs ?? 250, opts.signal);
        const done = await this.verified(dir, id, opts.variant);
        if (done) return { dir, converted: false, marker: done };
        continue;
      }
      try {
        const done = await this.verified(dir, id, opts.variant);
        if (done) return { dir, converted: false, marker: done };
        return await this.build(dir, id, produce, lock, opts);
      } finally {
        await lock.release();
      }
    }
  }

  private async build(dir: string, id: FileIdentity, produce: Producer, lock: ConversionLock, opts: EnsureOptions): Promise<EnsureResult> {
    const name = path.basename(dir);
    const tmp = path.join(this.root, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}-${name}`);
    await fsp.mkdir(tmp);
    try {
      await fsp.writeFile(path.join(tmp, OWNER_FILE), JSON.stringify({ pid: process.pid, host: os.hostname() }));
      const report = (f: number) => {
        const fraction = Math.max(0, Math.min(1, f));
        lock.setProgress(fraction);
        opts.onProgress?.(fraction, 'converting');
      };
      report(0);
      const summary = (await produce(tmp, report, opts.signal)) ?? {};
      opts.signal?.throwIfAborted();
      await fsp.rm(path.join(tmp, OWNER_FILE), { force: true });
      const files = await filesWithSizes(tmp);
      if (Object.keys(files).length === 0) throw new Error(`converting ${id.path} produced no files`);
      const marker: CacheMarker = { format: 1, converterVersion: CONVERTER_VERSION, source: id, variant: opts.variant, createdAt: new Date().toISOString(), files, summary };
      await fsp.writeFile(path.join(tmp, MARKER_FILE), JSON.stringify(marker, null, 2));
      // An invalid entry under the same name (corrupt files, an older marker) goes first.
      await this.remove(dir);
      try {
        await fsp.rename(tmp, dir);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        const winner = code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EPERM' ? await this.verified(dir, id, opts.variant) : undefined;
        if (!winner) throw e;
        await this.remove(tmp);
        return { dir, converted: false, marker: winner };
      }
      report(1);
      await this.pruneOlder(dir, marker);
      return { dir, converted: true, marker };
    } catch (e) {
      await this.remove(tmp);
      throw e;
    }
  }

  /** Entries of the same source path and variant made from an older version of the file. */
  private async pruneOlder(keep: string, marker: CacheMarker): Promise<void> {
    for (const e of await this.children()) {
      const p = path.join(this.root, e);
      if (p === keep || e.startsWith('.') || e.endsWith('.lock')) continue;
      const m = await readMarker(p);
      if (m && m.source.path === marker.source.path && sameVariant(m.variant, marker.variant)) await this.remove(p);
    }
  }

  private async children(): Promise<string[]> {
    try {
      return await fsp.readdir(this.root);
    } catch {
      return [];
    }
  }

  /** Renames `p` aside, then deletes it: a half-deleted folder never sits under an entry's name. */
  private async remove(p: string): Promise<void> {
    const trash = path.join(this.root, `.trash-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      await fsp.rename(p, trash);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      await fsp.rm(p, { recursive: true, force: true }).catch(() => undefined);
      return;
    }
    await fsp.rm(trash, { recursive: true, force: true }).catch(() => undefined);
  }

  private async ownerGone(tmp: string): Promise<boolean> {
    try {
      const owner = JSON.parse(await fsp.readFile(path.join(tmp, OWNER_FILE), 'utf8')) as { pid?: number; host?: string };
      if (owner.host === os.hostname()) return !pidAlive(Number(owner.pid));
    } catch {
      // No owner file: the folder is either just being created or a finished-but-unrenamed one.
    }
    const st = await fsp.stat(tmp).catch(() => undefined);
    return !st || Date.now() - st.mtimeMs > 24 * 3600_000;
  }

  /** Removes what killed conversions left: temp folders of dead processes, trash, stale locks. */
  async sweep(): Promise<void> {
    for (const e of await this.children()) {
      const p = path.join(this.root, e);
      if (e.startsWith('.trash-')) {
        const pid = Number(e.split('-')[1]);
        if (!pidAlive(pid) || pid === process.pid) await fsp.rm(p, { recursive: true, force: true }).catch(() => undefined);
      } else if (e.startsWith('.tmp-')) {
        if (await this.ownerGone(p)) await fsp.rm(p, { recursive: true, force: true }).catch(() => undefined);
      } else if (e.endsWith('.lock') || /\.lock\.stale-/.test(e)) {
        const lock = await readLock(p).catch(() => undefined);
        if (lock && isStale(lock)) await fsp.rm(p, { force: true }).catch(() => undefined);
      }
    }
  }

  async info(): Promise<CacheInfo> {
    const entries: CacheEntryInfo[] = [];
    const live = new Set<string>();
    for (const e of await this.children()) {
      if (!e.endsWith('.lock')) continue;
      const lock = await readLock(path.join(this.root, e)).catch(() => undefined);
      if (lock && !isStale(lock)) live.add(e.slice(0, -'.lock'.length));
    }
    for (const e of (await this.children()).sort()) {
      const p = path.join(this.root, e);
      if (e.endsWith('.lock') || /\.lock\.stale-/.test(e)) continue;
      const bytes = await diskBytes(p);
      if (e.startsWith('.')) {
        const entryOf = e.startsWith('.tmp-') ? e.split('-').slice(3).join('-') : '';
        entries.push({ name: e, dir: p, bytes, state: live.has(entryOf) && !(await this.ownerGone(p)) ? 'converting' : 'leftover' });
        continue;
      }
      const marker = await verifyEntry(p);
      const raw = marker ?? (await readMarker(p));
      entries.push({ name: e, dir: p, bytes, state: marker ? 'complete' : 'incomplete', source: raw?.source.path, createdAt: raw?.createdAt, variant: raw?.variant });
    }
    return { root: this.root, entries, totalBytes: entries.reduce((n, e) => n + e.bytes, 0) };
  }

  /** Deletes every entry and leftover; conversions running in other processes are left alone. */
  async clear(): Promise<ClearResult> {
    const info = await this.info();
    let removed = 0;
    let freedBytes = 0;
    const skipped: string[] = [];
    for (const e of info.entries) {
      if (e.state === 'converting') {
        skipped.push(e.name);
        continue;
      }
      await this.remove(e.dir);
      removed++;
      freedBytes += e.bytes;
    }
    await this.sweep();
    return { removed, freedBytes, skipped };
  }
}
