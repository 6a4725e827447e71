// Keeps ORT sessions alive between prompts within a memory budget. A session's memory is about
// the size of its weights (ort-sd.md §4.6: RSS grew by one copy of the external data), so the
// estimate is model.onnx plus the data files beside it; least recently used sessions are
// released first. Sessions in the middle of a run are never released.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as ort from 'onnxruntime-node';
import { createSession, type EpAttempt, type EpName, type EpSetting, type SessionFactory } from './executionProviders';

const NOT_WEIGHTS = /\.(json|txt|md|onnx|py|yaml|yml|png|jpg)$/i;

/** Bytes a session for `file` will hold: the file plus sibling external-data files. */
export function estimateModelBytes(file: string): number {
  let total = fs.statSync(file).size;
  const dir = path.dirname(file);
  // Exporters name external data freely (model.onnx_data, model.onnx.data, weights.pb, one file
  // per tensor), so count every sibling that is not obviously metadata or another model.
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile() || NOT_WEIGHTS.test(entry.name)) continue;
    total += fs.statSync(path.join(dir, entry.name)).size;
  }
  return total;
}

/**
 * A session built from a derived copy of `file` (LoRA-patched weights): `key` tells variants
 * apart, `prepare` writes the copy to open, `dispose` removes it once the session exists.
 */
export interface SessionVariant {
  readonly key: string;
  prepare(): Promise<{ file: string; dispose(): Promise<void> }>;
}

export interface CachedSession {
  readonly file: string;
  /** '' for the file itself, else the variant's key. */
  readonly variant: string;
  readonly setting: EpSetting;
  /** The EP that actually created this session. */
  readonly ep: EpName;
  readonly failed: readonly EpAttempt[];
  readonly bytes: number;
  readonly createMs: number;
  readonly session: ort.InferenceSession;
}

interface Entry extends CachedSession {
  lastUsed: number;
  busy: number;
}

export interface SessionCacheOptions {
  /** Memory budget for all cached sessions; default 60% of system memory. */
  budgetBytes?: number;
  ep?: EpSetting;
  factory?: SessionFactory;
  platform?: NodeJS.Platform;
  sessionOptions?: ort.InferenceSession.SessionOptions;
}

export class SessionCache {
  readonly budgetBytes: number;
  private ep: EpSetting;
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Entry>>();
  private clock = 0;

  constructor(private readonly opts: SessionCacheOptions = {}) {
    this.budgetBytes = opts.budgetBytes ?? Math.floor(os.totalmem() * 0.6);
    this.ep = opts.ep ?? 'auto';
  }

  get epSetting(): EpSetting {
    return this.ep;
  }

  /** New sessions use `ep`; existing ones stay until released (they are keyed by setting). */
  setEpSetting(ep: EpSetting): void {
    this.ep = ep;
  }

  get usedBytes(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.bytes;
    return n;
  }

  list(): CachedSession[] {
    return [...this.entries.values()].sort((a, b) => b.lastUsed - a.lastUsed);
  }

  private key(file: string, ep: EpSetting, variant = ''): string {
    return `${ep}\u0000${path.resolve(file)}\u0000${variant}`;
  }

  /** Returns the cached session for `file` (or its variant), creating it (and evicting others) when needed. */
  async acquire(file: string, label?: string, variant?: SessionVariant): Promise<CachedSession> {
    const key = this.key(file, this.ep, variant?.key);
    const hit = this.entries.get(key);
    if (hit) {
      hit.lastUsed = ++this.clock;
      return hit;
    }
    let p = this.pending.get(key);
    if (!p) {
      p = this.create(file, this.ep, label, variant).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  /** Runs `fn` with the session pinned, so eviction triggered meanwhile cannot release it. */
  async use<T>(file: string, fn: (s: CachedSession) => Promise<T>, label?: string, variant?: SessionVariant): Promise<T> {
    const s = (await this.acquire(file, label, variant)) as Entry;
    s.busy++;
    try {
      return await fn(s);
    } finally {
      s.busy--;
    }
  }

  private async create(file: string, ep: EpSetting, label?: string, variant?: SessionVariant): Promise<Entry> {
    const bytes = fs.existsSync(file) ? estimateModelBytes(file) : 0;
    const abs = path.resolve(file);
    if (variant) {
      // One patched copy of a component at a time: another strength or LoRA set replaces it.
      for (const [key, e] of [...this.entries.entries()]) {
        if (e.file === abs && e.setting === ep && e.variant !== '' && e.busy === 0) {
          this.entries.delete(key);
          await e.session.release();
        }
      }
    }
    await this.makeRoom(bytes);
    let created: Awaited<ReturnType<typeof createSession>>;
    if (variant) {
      const derived = await variant.prepare();
      try {
        created = await createSession(derived.file, { ep, label, factory: this.opts.factory, platform: this.opts.platform, sessionOptions: this.opts.sessionOptions });
      } finally {
        await derived.dispose().catch(() => undefined);
      }
    } else {
      created = await createSession(file, { ep, label, factory: this.opts.factory, platform: this.opts.platform, sessionOptions: this.opts.sessionOptions });
    }
    const entry: Entry = { file: abs, variant: variant?.key ?? '', setting: ep, ep: created.ep, failed: created.failed, bytes, createMs: created.createMs, session: created.session, lastUsed: ++this.clock, busy: 0 };
    this.entries.set(this.key(file, ep, variant?.key), entry);
    return entry;
  }

  // A single model larger than the budget is still loaded (alone): refusing would make it unusable.
  private async makeRoom(bytes: number): Promise<void> {
    const idle = [...this.entries.entries()].filter(([, e]) => e.busy === 0).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    let used = this.usedBytes;
    for (const [key, e] of idle) {
      if (used + bytes <= this.budgetBytes) break;
      this.entries.delete(key);
      used -= e.bytes;
      await e.session.release();
    }
  }

  /** Releases the session(s) for `file` under every EP setting. Returns how many were released. */
  async release(file: string): Promise<number> {
    const abs = path.resolve(file);
    let n = 0;
    for (const [key, e] of [...this.entries.entries()]) {
      if (e.file !== abs) continue;
      if (e.busy > 0) throw new Error(`session for ${file} is running and cannot be released now`);
      this.entries.delete(key);
      await e.session.release();
      n++;
    }
    return n;
  }

  async freeAll(): Promise<void> {
    await Promise.allSettled(this.pending.values());
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => e.session.release()));
  }
}
