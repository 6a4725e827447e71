// One converter per cache entry across processes (two VS Code windows, a CLI run beside the
// extension). The lock is a file created exclusively ('wx') holding the owner's pid and host; the
// owner touches it every few seconds and records its progress there, so a waiting process can
// show the same percentage. A lock is stale when its owner is gone: on this host, its pid is not
// alive (kill -9, a closed window); from another host (a shared cache folder), not touched for
// STALE_AFTER_MS.
// The lock only saves duplicate work: entries still appear by rename of a private temp folder, so
// two converters that both believe they hold the lock still leave one complete entry.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';

export const HEARTBEAT_MS = 2_000;
export const STALE_AFTER_MS = 30_000;

export interface LockInfo {
  pid: number;
  host: string;
  startedAt: number;
  /** The owner's conversion progress, 0..1. */
  progress: number;
}

export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function readLock(file: string): Promise<{ info: LockInfo | undefined; mtimeMs: number } | undefined> {
  try {
    const [text, st] = await Promise.all([fsp.readFile(file, 'utf8'), fsp.stat(file)]);
    let info: LockInfo | undefined;
    try {
      const v = JSON.parse(text) as Partial<LockInfo>;
      if (typeof v.pid === 'number' && typeof v.host === 'string') info = { pid: v.pid, host: v.host, startedAt: Number(v.startedAt) || 0, progress: Number(v.progress) || 0 };
    } catch {
      // Being written right now, or garbage: judged by its age alone.
    }
    return { info, mtimeMs: st.mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** A live owner on this host can block its event loop for a while (a busy machine), so age alone
 * only condemns a lock after SAME_HOST_STALE_AFTER_MS (a reused pid); another host's lock goes
 * stale when its heartbeat stops for STALE_AFTER_MS. */
export const SAME_HOST_STALE_AFTER_MS = 10 * 60_000;

export function isStale(lock: { info: LockInfo | undefined; mtimeMs: number }, now = Date.now()): boolean {
  const age = now - lock.mtimeMs;
  const info = lock.info;
  if (info && info.host === os.hostname()) return !pidAlive(info.pid) || age > SAME_HOST_STALE_AFTER_MS;
  return age > STALE_AFTER_MS;
}

export class ConversionLock {
  private timer: NodeJS.Timeout | undefined;
  private touching: Promise<void> | undefined;
  private progress = 0;
  private released = false;

  private constructor(readonly file: string, private readonly startedAt: number) {}

  /** Takes the lock, or returns undefined when a live owner holds it. Breaks stale locks. */
  static async tryAcquire(file: string): Promise<ConversionLock | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const startedAt = Date.now();
      try {
        const fh = await fsp.open(file, 'wx');
        try {
          await fh.writeFile(JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt, progress: 0 } satisfies LockInfo));
        } finally {
          await fh.close();
        }
        const lock = new ConversionLock(file, startedAt);
        lock.timer = setInterval(() => {
          lock.touching ??= lock.touch().finally(() => (lock.touching = undefined));
        }, HEARTBEAT_MS);
        lock.timer.unref();
        return lock;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const current = await readLock(file);
      if (!current) continue; // released meanwhile: try again
      if (!isStale(current)) return undefined;
      // Move the stale lock aside before deleting it, so two processes breaking it at once do not
      // delete each other's fresh lock by name.
      const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
      await fsp.rename(file, aside).catch(() => undefined);
      await fsp.rm(aside, { force: true }).catch(() => undefined);
    }
    return undefined;
  }

  setProgress(fraction: number): void {
    this.progress = fraction;
  }

  private async touch(): Promise<void> {
    if (this.released) return;
    const body: LockInfo = { pid: process.pid, host: os.hostname(), startedAt: this.startedAt, progress: this.progress };
    await fsp.writeFile(this.file, JSON.stringify(body)).catch(() => undefined);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.timer) clearInterval(this.timer);
    // A heartbeat write finishing after the unlink would recreate the lock.
    await this.touching;
    // Only remove a lock that is still ours (a stale-breaker may have replaced it).
    const current = await readLock(this.file).catch(() => undefined);
    if (current?.info && (current.info.pid !== process.pid || current.info.host !== os.hostname() || current.info.startedAt !== this.startedAt)) return;
    await fsp.rm(this.file, { force: true }).catch(() => undefined);
  }
}
