// HTTP calls to a ComfyUI server (a real ComfyUI or `marble serve`), typed with the shared wire
// module. Every call has a timeout and says which URL failed and how; an auth header (from VS
// Code's SecretStorage or --auth) rides on each request.
import type {
  History, ImageRef, PromptAccepted, PromptInfo, PromptRejection, PromptRequestBody, QueueInfo, UploadResult,
} from '../protocol/comfyApi';
import type { ObjectInfo } from '../workflow/objectInfo';

export class ComfyHttpError extends Error {
  constructor(readonly status: number, readonly url: string, message: string, readonly body?: unknown) {
    super(message);
    this.name = 'ComfyHttpError';
  }

  /** ComfyUI's 400 body for a refused prompt. */
  get rejection(): PromptRejection | undefined {
    const b = this.body as PromptRejection | undefined;
    return b && typeof b === 'object' && 'node_errors' in b && typeof b.error === 'object' ? b : undefined;
  }
}

export interface ComfyHttpOptions {
  /** Base URL, e.g. http://127.0.0.1:8188 (a trailing slash or /api is fine). */
  url: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** `http://host:8188/` → `http://host:8188`; refuses what is not an http(s) URL. */
export function normalizeServerUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    throw new Error(`'${url}' is not a URL (expected e.g. http://127.0.0.1:8188)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`'${url}' must start with http:// or https://`);
  return `${u.origin}${u.pathname.replace(/\/+$/, '').replace(/\/api$/, '')}`;
}

export class ComfyHttp {
  readonly base: string;

  constructor(private readonly opts: ComfyHttpOptions) {
    this.base = normalizeServerUrl(opts.url);
  }

  get headers(): Record<string, string> {
    return { ...(this.opts.headers ?? {}) };
  }

  private async request(method: string, route: string, body?: BodyInit, headers: Record<string, string> = {}, timeoutMs = this.opts.timeoutMs ?? 60_000): Promise<Response> {
    const url = `${this.base}${route}`;
    let res: Response;
    try {
      res = await fetch(url, { method, body, headers: { ...this.headers, ...headers }, signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new ComfyHttpError(0, url, `${method} ${url} failed: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      const detail = typeof (parsed as { error?: unknown })?.error === 'string' ? (parsed as { error: string }).error
        : (parsed as { error?: { message?: string } })?.error?.message ?? text.slice(0, 200);
      throw new ComfyHttpError(res.status, url, `${method} ${url}: ${res.status} ${res.statusText}${detail ? ` — ${detail}` : ''}`, parsed);
    }
    return res;
  }

  private async json<T>(method: string, route: string, body?: unknown, timeoutMs?: number): Promise<T> {
    const res = await this.request(method, route, body === undefined ? undefined : JSON.stringify(body), body === undefined ? {} : { 'Content-Type': 'application/json' }, timeoutMs);
    const text = await res.text();
    return (text ? JSON.parse(text) : {}) as T;
  }

  queuePrompt(body: PromptRequestBody): Promise<PromptAccepted> {
    return this.json('POST', '/prompt', body);
  }
  promptInfo(): Promise<PromptInfo> {
    return this.json('GET', '/prompt');
  }
  queue(): Promise<QueueInfo> {
    return this.json('GET', '/queue');
  }
  history(promptId: string): Promise<History> {
    return this.json('GET', `/history/${encodeURIComponent(promptId)}`);
  }
  objectInfo(): Promise<ObjectInfo> {
    return this.json('GET', '/object_info', undefined, 120_000);
  }
  systemStats(): Promise<Record<string, unknown>> {
    return this.json('GET', '/system_stats');
  }
  async interrupt(promptId?: string): Promise<void> {
    await this.json('POST', '/interrupt', promptId ? { prompt_id: promptId } : {});
  }
  async free(unloadModels: boolean, freeMemory: boolean): Promise<void> {
    await this.json('POST', '/free', { unload_models: unloadModels, free_memory: freeMemory });
  }
  async deleteQueued(ids: string[]): Promise<void> {
    await this.json('POST', '/queue', { delete: ids });
  }

  /** GET /view: the bytes of an output/input/temp image. */
  async view(ref: ImageRef): Promise<Uint8Array> {
    const q = new URLSearchParams({ filename: ref.filename, subfolder: ref.subfolder ?? '', type: ref.type ?? 'output' });
    const res = await this.request('GET', `/view?${q}`, undefined, {}, 120_000);
    return new Uint8Array(await res.arrayBuffer());
  }

  /** POST /upload/image (type input); the server may rename it (`name (1).png`) or reuse a same-content file. */
  uploadImage(bytes: Uint8Array, filename: string, opts: { subfolder?: string; overwrite?: boolean } = {}): Promise<UploadResult> {
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(bytes)]), filename);
    form.append('type', 'input');
    if (opts.subfolder) form.append('subfolder', opts.subfolder);
    if (opts.overwrite) form.append('overwrite', 'true');
    return this.request('POST', '/upload/image', form, {}, 120_000).then(async (r) => (await r.json()) as UploadResult);
  }

  /** ws(s)://…/ws?clientId=… */
  wsUrl(clientId: string): string {
    return `${this.base.replace(/^http/, 'ws')}/ws?clientId=${encodeURIComponent(clientId)}`;
  }
}
