// Prompt token counts as the graph shows them: "12 tokens", and past one 75-token chunk
// "80 tokens · 2 chunks" (ComfyUI encodes each chunk separately, so the split matters).
import type { TokenCount } from '../../protocol/webview';

export function tokenLabel(c: TokenCount): string {
  const tokens = `${c.tokens} token${c.tokens === 1 ? '' : 's'}`;
  return c.chunks > 1 ? `${tokens} · ${c.chunks} chunks` : tokens;
}

/** The latest counts from the host, by node id; only the prompt widget shows them. */
export class TokenCounts {
  private counts = new Map<string, TokenCount>();

  constructor(private readonly redraw: () => void) {}

  /** Replaces all counts, or with `merge` only those given (a prompt being typed). */
  set(counts: Record<string, TokenCount>, merge = false): void {
    if (!merge) this.counts = new Map();
    for (const [k, v] of Object.entries(counts)) this.counts.set(k, v);
    this.redraw();
  }

  get(node: string): TokenCount | undefined {
    return this.counts.get(node);
  }

  footer(node: string, widget: string): string | undefined {
    const c = widget === 'text' ? this.counts.get(node) : undefined;
    return c ? tokenLabel(c) : undefined;
  }
}
