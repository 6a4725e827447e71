// Follows one queued prompt through the backend's ComfyUI-named events and settles when it ends.
// Pure (no vscode): the supervisor feeds it events; editors and commands await `done`.
import type { BackendEvent } from '../protocol/inference';

/** One image a SaveImage/PreviewImage node reported (`executed.output.images[i]`). */
export interface OutputImage {
  nodeId: string;
  filename: string;
  subfolder: string;
  type: string;
}

export interface PromptRunResult {
  promptId: string;
  images: OutputImage[];
  /** Nodes whose results came from the cache. */
  cached: string[];
}

/** Why a run did not succeed: the message names the node when the backend said which one. */
export class PromptRunError extends Error {
  constructor(message: string, readonly kind: 'error' | 'interrupted' | 'crashed', readonly nodeId?: string) {
    super(message);
    this.name = 'PromptRunError';
  }
}

/** Observer callbacks for UI updates while the run goes on. */
export interface PromptRunObserver {
  executing?(nodeId: string | null): void;
  progress?(value: number, max: number, nodeId: string): void;
  preview?(nodeId: string, format: 'jpeg' | 'png', base64: string): void;
  executed?(nodeId: string, images: OutputImage[]): void;
}

function imagesOf(nodeId: string, output: Record<string, unknown>): OutputImage[] {
  const list = output.images;
  if (!Array.isArray(list)) return [];
  const out: OutputImage[] = [];
  for (const item of list) {
    if (!item || typeof item !== 'object') continue;
    const i = item as Record<string, unknown>;
    if (typeof i.filename !== 'string' || i.filename === '') continue;
    out.push({
      nodeId,
      filename: i.filename,
      subfolder: typeof i.subfolder === 'string' ? i.subfolder : '',
      type: typeof i.type === 'string' ? i.type : 'output',
    });
  }
  return out;
}

export class PromptRun {
  readonly done: Promise<PromptRunResult>;
  private _resolve!: (r: PromptRunResult) => void;
  private _reject!: (e: PromptRunError) => void;
  private readonly _images: OutputImage[] = [];
  private readonly _cached: string[] = [];
  private _settled = false;
  /** The node executing now (for status bars), or null between nodes. */
  currentNode: string | null = null;

  constructor(readonly promptId: string, private readonly _observers: PromptRunObserver[] = []) {
    this.done = new Promise((resolve, reject) => {
      this._resolve = resolve;
      this._reject = reject;
    });
    // A caller that only watches events must not cause an unhandled rejection.
    this.done.catch(() => undefined);
  }

  get settled(): boolean {
    return this._settled;
  }

  addObserver(o: PromptRunObserver): void {
    this._observers.push(o);
  }

  /** Feeds one backend event; events of other prompts are ignored. Returns true if it was ours. */
  handle(event: BackendEvent): boolean {
    if (this._settled) return false;
    const data = event.data as { prompt_id?: string };
    if (data.prompt_id !== this.promptId) return false;
    switch (event.type) {
      case 'executing':
        this.currentNode = event.data.node;
        this._each((o) => o.executing?.(event.data.node));
        break;
      case 'progress':
        this._each((o) => o.progress?.(event.data.value, event.data.max, event.data.node));
        break;
      case 'preview':
        this._each((o) => o.preview?.(event.data.node, event.data.format, event.data.data));
        break;
      case 'executed': {
        const images = imagesOf(event.data.node, event.data.output ?? {});
        this._images.push(...images);
        this._each((o) => o.executed?.(event.data.node, images));
        break;
      }
      case 'execution_cached':
        this._cached.push(...event.data.nodes);
        break;
      case 'execution_success':
        this._finish();
        break;
      case 'execution_error': {
        const d = event.data;
        this.fail(new PromptRunError(`${d.node_type} (node ${d.node_id}): ${d.exception_message}`, 'error', d.node_id));
        break;
      }
      case 'execution_interrupted':
        this.fail(new PromptRunError('Interrupted', 'interrupted', event.data.node_id));
        break;
      default:
        break;
    }
    return true;
  }

  /** Ends the run as failed (validation rejection, crash of the process, …). */
  fail(error: PromptRunError): void {
    if (this._settled) return;
    this._settled = true;
    this.currentNode = null;
    this._each((o) => o.executing?.(null));
    this._reject(error);
  }

  private _finish(): void {
    if (this._settled) return;
    this._settled = true;
    this.currentNode = null;
    this._resolve({ promptId: this.promptId, images: [...this._images], cached: [...this._cached] });
  }

  private _each(f: (o: PromptRunObserver) => void): void {
    for (const o of this._observers) {
      try {
        f(o);
      } catch {
        // An observer (a closed webview) failing must not stop the run from settling.
      }
    }
  }
}
