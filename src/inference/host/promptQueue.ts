// ComfyUI's prompt queue: lowest `number` first (a counter per queue call; `front` makes it
// negative), ties in arrival order. Kept as a sorted array: queues hold a handful of items.
import type { ApiPromptMessage } from '../../protocol/inference';

export interface QueuedPrompt {
  promptId: string;
  number: number;
  prompt: ApiPromptMessage;
  extraData: Record<string, unknown>;
  clientId?: string;
  /** Output node ids that passed validation (only these run). */
  outputs: string[];
}

export class PromptQueue {
  private items: { item: QueuedPrompt; seq: number }[] = [];
  private seq = 0;
  private counter = 0;

  /** The number ComfyUI would give the next request (front → negative). */
  nextNumber(front: boolean): number {
    this.counter++;
    return front ? -this.counter : this.counter;
  }

  push(item: QueuedPrompt): void {
    const entry = { item, seq: this.seq++ };
    let lo = 0, hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = this.items[mid];
      if (m.item.number < item.number || (m.item.number === item.number && m.seq < entry.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.items.splice(lo, 0, entry);
  }

  shift(): QueuedPrompt | undefined {
    return this.items.shift()?.item;
  }

  /** Removes pending prompts by id; returns the ids actually removed. */
  remove(ids: readonly string[]): string[] {
    const wanted = new Set(ids);
    const removed: string[] = [];
    this.items = this.items.filter(({ item }) => {
      if (!wanted.has(item.promptId)) return true;
      removed.push(item.promptId);
      return false;
    });
    return removed;
  }

  has(promptId: string): boolean {
    return this.items.some(({ item }) => item.promptId === promptId);
  }

  get size(): number {
    return this.items.length;
  }

  list(): QueuedPrompt[] {
    return this.items.map(({ item }) => item);
  }
}
