// Prompt lengths for the graph editor's "12 tokens · 1 chunk" labels. The count comes from the
// tokenizer the text encoder itself runs (src/inference/text), so the label and the encoder can
// never disagree about where the 75-token chunk boundary falls. No vscode here: unit-tested.
import { findShippedTokenizerDir, loadClipTokenizer, tokenizeWithWeights, type ClipTokenizer } from '../inference/text';
import { embeddingCountLookup } from '../inference/text/loadEmbedding';
import { specOptions, widgetNamesFor } from '../workflow/catalog/widgets';
import type { ObjectInfo, ObjectInfoEntry } from '../workflow/objectInfo';
import type { TokenCount } from '../protocol/webview';

/** The prompt input ComfyUI's text encoders share (CLIPTextEncode and friends). */
const PROMPT_INPUT = 'text';

/** Whether a class encodes a prompt: a multiline STRING `text` widget and a CLIP input. */
export function isPromptEncoder(schema: ObjectInfoEntry | undefined): boolean {
  if (!schema?.input) return false;
  const groups = [schema.input.required ?? {}, schema.input.optional ?? {}];
  const text = groups.map((g) => g[PROMPT_INPUT]).find((s) => s !== undefined);
  if (!text || text[0] !== 'STRING' || specOptions(text).multiline !== true || specOptions(text).forceInput === true) return false;
  return groups.some((g) => Object.values(g).some((s) => s?.[0] === 'CLIP'));
}

interface UiNodeLike { id?: unknown; type?: unknown; widgets_values?: unknown; inputs?: unknown }

/**
 * The prompt text of every text-encoder node of a UI workflow, by node id. A node whose `text`
 * was converted to a linked socket has no text of its own and is left out.
 */
export function promptTexts(workflow: unknown, objectInfo: ObjectInfo): Map<string, string> {
  const out = new Map<string, string>();
  const nodes = (workflow as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(nodes)) return out;
  for (const node of nodes as UiNodeLike[]) {
    if (!node || typeof node.type !== 'string' || (typeof node.id !== 'number' && typeof node.id !== 'string')) continue;
    const schema = objectInfo[node.type];
    if (!isPromptEncoder(schema)) continue;
    const linked = Array.isArray(node.inputs)
      && node.inputs.some((i: { name?: unknown; link?: unknown }) => i?.name === PROMPT_INPUT && i.link != null);
    if (linked) continue;
    const index = widgetNamesFor(schema!).indexOf(PROMPT_INPUT);
    const values = Array.isArray(node.widgets_values) ? node.widgets_values : [];
    const value = values[index];
    out.set(String(node.id), typeof value === 'string' ? value : '');
  }
  return out;
}

export type CountTokens = (text: string) => TokenCount;

/** `{tokens, chunks}` per node; a text the tokenizer rejects is left out rather than failing all. */
export function tokenCountsFor(texts: Map<string, string>, count: CountTokens): Record<string, TokenCount> {
  const out: Record<string, TokenCount> = {};
  for (const [id, text] of texts) {
    try {
      out[id] = count(text);
    } catch {
      // A label is a hint: one odd prompt must not hide the others' counts.
    }
  }
  return out;
}

/**
 * Counts as CLIP Text Encode will: `embeddingDirs` (the models' embeddings folders, read at each
 * count) make each embedding:name count its vectors, so chunk boundaries agree with the encoder.
 */
export function countWith(tokenizer: ClipTokenizer, embeddingDirs?: () => readonly string[]): CountTokens {
  return (text) => {
    const embeddings = embeddingDirs && text.includes('embedding:') ? embeddingCountLookup(embeddingDirs()) : undefined;
    const t = tokenizeWithWeights(tokenizer, text, { embeddings });
    return { tokens: t.tokenCount, chunks: t.chunks.length };
  };
}

/** Loads the shipped CLIP tokenizer once, on first use; a failed load is retried next time. */
export class LazyTokenCounter {
  private _loading: Promise<CountTokens> | undefined;

  constructor(
    private readonly _startDir: string = __dirname,
    private readonly _embeddingDirs?: () => readonly string[],
  ) {}

  get(): Promise<CountTokens> {
    this._loading ??= Promise.resolve()
      .then(() => loadClipTokenizer(findShippedTokenizerDir(this._startDir)))
      .then((t) => countWith(t, this._embeddingDirs));
    this._loading.catch(() => { this._loading = undefined; });
    return this._loading;
  }
}
