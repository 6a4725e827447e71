// ComfyUI's execution.py PromptQueue for the server: pending items ordered by `number` (ties in
// arrival order), the running items, and the history. `taskDone` writes the history entry
// before the item leaves `running`, so a client that sees the queue empty finds the result.
import type { History, HistoryEntry, QueueItem } from '../protocol/comfyApi';

/** ComfyUI's MAXIMUM_HISTORY_SIZE. */
export const MAX_HISTORY = 10000;

/** extra_data keys that never reach the history (ComfyUI's SENSITIVE_EXTRA_DATA_KEYS). */
const SENSITIVE_EXTRA_KEYS = ['auth_token_comfy_org', 'api_key_comfy_org'];

export class ServerPromptQueue {
  private pending: { item: QueueItem; seq: number }[] = [];
  private readonly running = new Map<string, QueueItem>();
  private readonly history = new Map<string, HistoryEntry>();
  private seq = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly onChange: () => void = () => undefined, private readonly maxHistory = MAX_HISTORY) {}

  put(item: QueueItem): void {
    const entry = { item, seq: this.seq++ };
    let lo = 0, hi = this.pending.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = this.pending[mid];
      if (m.item[0] < item[0] || (m.item[0] === item[0] && m.seq < entry.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.pending.splice(lo, 0, entry);
    this.onChange();
    for (const w of this.waiters.splice(0)) w();
  }

  /** The next item, moved to running; waits while the queue is empty. */
  async take(signal?: AbortSignal): Promise<QueueItem | undefined> {
    while (this.pending.length === 0) {
      if (signal?.aborted) return undefined;
      await new Promise<void>((resolve) => {
        // One listener per wait, removed again: the worker waits once per idle period, for days.
        const onAbort = () => resolve();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
    const item = this.pending.shift()!.item;
    this.running.set(item[1], item);
    this.onChange();
    return item;
  }

  /** History first, then the item leaves `running` (execution.py task_done). */
  taskDone(promptId: string, outputs: HistoryEntry['outputs'], status: HistoryEntry['status'], meta: HistoryEntry['meta']): void {
    const item = this.running.get(promptId);
    if (!item) return;
    if (this.history.size >= this.maxHistory) this.history.delete(this.history.keys().next().value!);
    const extra = { ...item[3] };
    for (const k of SENSITIVE_EXTRA_KEYS) delete extra[k];
    this.history.set(promptId, { prompt: [item[0], item[1], item[2], extra, item[4]], outputs, status, meta });
    this.running.delete(promptId);
    this.onChange();
  }

  get remaining(): number {
    return this.pending.length + this.running.size;
  }

  has(promptId: string): boolean {
    return this.running.has(promptId) || this.pending.some((p) => p.item[1] === promptId);
  }

  current(): { running: QueueItem[]; pending: QueueItem[] } {
    return { running: [...this.running.values()], pending: this.pending.map((p) => p.item) };
  }

  wipe(): string[] {
    const removed = this.pending.map((p) => p.item[1]);
    this.pending = [];
    if (removed.length) this.onChange();
    return removed;
  }

  /** Removes pending items by prompt id (running ones stay: interrupt those). */
  delete(ids: readonly string[]): string[] {
    const wanted = new Set(ids);
    const removed: string[] = [];
    this.pending = this.pending.filter(({ item }) => {
      if (!wanted.has(item[1])) return true;
      removed.push(item[1]);
      return false;
    });
    if (removed.length) this.onChange();
    return removed;
  }

  /** GET /history: oldest first as ComfyUI's dict; `maxItems` keeps the newest, `offset` skips from the start. */
  getHistory(opts: { promptId?: string; maxItems?: number; offset?: number } = {}): History {
    if (opts.promptId !== undefined) {
      const e = this.history.get(opts.promptId);
      return e ? { [opts.promptId]: e } : {};
    }
    let entries = [...this.history.entries()];
    const offset = opts.offset ?? -1;
    const max = opts.maxItems;
    if (max !== undefined && max >= 0) {
      // ComfyUI: without an offset the last max_items; with one, max_items from there.
      const start = offset >= 0 ? offset : Math.max(0, entries.length - max);
      entries = entries.slice(start, start + max);
    } else if (offset > 0) {
      entries = entries.slice(offset);
    }
    return Object.fromEntries(entries);
  }

  wipeHistory(): void {
    this.history.clear();
  }

  deleteHistory(ids: readonly string[]): void {
    for (const id of ids) this.history.delete(id);
  }

  get historySize(): number {
    return this.history.size;
  }
}
