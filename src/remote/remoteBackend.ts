// A ComfyUI server as Marble's engine. It speaks the same surface as the inference child (queue,
// interrupt, free, objectInfo, configure, BackendEvents) so the CLI and the extension use it in
// place of the built-in engine. What differs is hidden here:
//  - LoadImage inputs that exist in the local input folder are uploaded first;
//  - images in `executed` are fetched through /view and saved under the local output/temp folder
//    (same subfolder and name, `name (1).png` if a different file is there) before the event is
//    passed on, so the rest of Marble finds them exactly where the built-in engine puts them;
//  - binary preview frames become `preview` events;
//  - a dropped websocket reconnects with the same clientId (the server then addresses the running
//    prompt's messages to it again) and prompts that ended meanwhile are settled from /history.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import WebSocket from 'ws';
import { writeFileAtomic } from '../inference/image/savePath';
import { BackendRequestError, type CrashInfo } from '../inference/client/backendClient';
import { resolveAnnotatedPath } from '../inference/image/inputFiles';
import { decodeBinaryFrame, type HistoryEntry, type ImageRef } from '../protocol/comfyApi';
import type { BackendEvent, ConfigureParams, QueueRequest, QueueResult } from '../protocol/inference';
import { checkFileName, resolveSubfolder } from '../server/safePath';
import type { ApiPrompt } from '../workflow/types';
import { ComfyHttp, ComfyHttpError } from './comfyHttp';

export interface RemoteBackendOptions {
  url: string;
  headers?: Record<string, string>;
  clientId?: string;
  log?: (line: string) => void;
  /** Reconnect attempts before the server counts as gone (`crashed`); default 30 (about 2 minutes). */
  maxReconnects?: number;
}

interface Tracked {
  localId: string;
  serverId: string;
  ended: boolean;
  /** An output could not be brought over: the prompt has already been reported as failed. */
  failed?: boolean;
}

let saveLock: Promise<unknown> = Promise.resolve();
/** Runs `f` after every earlier call has finished (all remote backends of this process share it). */
function withSaveLock<T>(f: () => Promise<T>): Promise<T> {
  const run = saveLock.then(f, f);
  saveLock = run.catch(() => undefined);
  return run;
}

const LOAD_IMAGE_NODES = new Set(['LoadImage', 'LoadImageMask']);
const RELAYED = new Set(['execution_start', 'execution_cached', 'executing', 'progress', 'executed', 'execution_success', 'execution_error', 'execution_interrupted']);
const OUTCOMES = new Set(['execution_success', 'execution_error', 'execution_interrupted']);

export class RemoteComfyBackend extends EventEmitter<{ event: [BackendEvent]; crashed: [CrashInfo]; exit: [CrashInfo] }> {
  readonly http: ComfyHttp;
  readonly clientId: string;
  private socket: WebSocket | undefined;
  private config: Pick<ConfigureParams, 'outputDir' | 'tempDir' | 'inputDir'> | undefined;
  private readonly byServerId = new Map<string, Tracked>();
  private readonly byLocalId = new Map<string, Tracked>();
  /** Events are handled one after another: an `executed` waits for its downloads, later events wait for it. */
  private chain: Promise<void> = Promise.resolve();
  private current: { promptId?: string; node?: string } = {};
  private disposed = false;
  private reconnects = 0;
  private remaining = 0;
  private readonly early = new Map<string, BackendEvent[]>();

  constructor(private readonly opts: RemoteBackendOptions) {
    super();
    this.http = new ComfyHttp({ url: opts.url, headers: opts.headers });
    this.clientId = opts.clientId ?? `marble-${randomUUID().replaceAll('-', '')}`;
  }

  get url(): string {
    return this.http.base;
  }

  /** The server's queue length (last `status`) plus prompts sent since: what a spreader compares. */
  get load(): number {
    const own = [...this.byLocalId.values()].filter((t) => !t.ended).length;
    return Math.max(this.remaining, own);
  }

  private log(line: string): void {
    this.opts.log?.(`[${this.http.base}] ${line}`);
  }

  /** Checks the server answers and opens the websocket. */
  async start(): Promise<void> {
    await this.http.systemStats();
    await this.connect();
  }

  private connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.http.wsUrl(this.clientId), { headers: this.http.headers, handshakeTimeout: 15_000 });
      ws.binaryType = 'nodebuffer';
      let opened = false;
      ws.on('open', () => {
        opened = true;
        this.socket = ws;
        this.reconnects = 0;
        resolve();
        void this.catchUp();
      });
      ws.on('message', (data, isBinary) => {
        const buf = data as Buffer;
        this.chain = this.chain.then(() => this.onMessage(buf, isBinary)).catch((e) => this.log(`event handling failed: ${(e as Error).message}`));
      });
      ws.on('unexpected-response', (_req, res) => {
        reject(new Error(`${this.http.wsUrl(this.clientId)}: websocket refused with HTTP ${res.statusCode}`));
        ws.terminate();
      });
      ws.on('error', (e) => { if (!opened) reject(e); });
      ws.on('close', () => {
        if (this.socket === ws) this.socket = undefined;
        if (opened && !this.disposed) void this.reconnect();
      });
    });
  }

  private async reconnect(): Promise<void> {
    const max = this.opts.maxReconnects ?? 30;
    while (!this.disposed && this.reconnects < max) {
      this.reconnects++;
      const delay = Math.min(250 * 2 ** (this.reconnects - 1), 5000);
      this.log(`websocket closed; reconnecting in ${delay} ms (attempt ${this.reconnects} of ${max})`);
      await new Promise((r) => setTimeout(r, delay));
      if (this.disposed) return;
      try {
        await this.connect();
        return;
      } catch (e) {
        this.log(`reconnect failed: ${(e as Error).message}`);
      }
    }
    if (this.disposed) return;
    const info: CrashInfo = { code: null, signal: null, stderrTail: `the ComfyUI server at ${this.http.base} stopped answering` };
    this.emit('crashed', info);
    this.emit('exit', info);
  }

  /** After a (re)connect: prompts that ended while no socket listened are settled from /history. */
  private async catchUp(): Promise<void> {
    for (const t of [...this.byServerId.values()]) {
      if (t.ended) continue;
      let h;
      try {
        h = (await this.http.history(t.serverId))[t.serverId];
      } catch (e) {
        this.log(`history of ${t.serverId} failed: ${(e as Error).message}`);
        continue;
      }
      if (!h) continue; // still queued or running: its messages come over the new socket
      this.chain = this.chain.then(() => this.replayHistory(t, h));
    }
  }

  private async replayHistory(t: Tracked, h: HistoryEntry): Promise<void> {
    if (t.ended) return;
    for (const [node, output] of Object.entries(h.outputs)) {
      await this.forward({ type: 'executed', data: { node, display_node: node, output, prompt_id: t.serverId } } as BackendEvent);
    }
    const last = [...h.status.messages].reverse().find(([name]) => OUTCOMES.has(name));
    if (last) await this.forward({ type: last[0], data: { ...last[1], prompt_id: t.serverId } } as BackendEvent);
    else if (!h.status.completed) {
      await this.forward({
        type: 'execution_error',
        data: {
          prompt_id: t.serverId, node_id: '', node_type: '', executed: [], exception_message: 'the server recorded the prompt as failed',
          exception_type: 'RemoteError', traceback: [], current_inputs: {}, current_outputs: [], timestamp: Date.now(),
        },
      } as BackendEvent);
    } else await this.forward({ type: 'execution_success', data: { prompt_id: t.serverId, timestamp: Date.now() } });
    await this.forward({ type: 'executing', data: { node: null, prompt_id: t.serverId } });
  }

  private async onMessage(data: Buffer, isBinary: boolean): Promise<void> {
    if (isBinary) {
      let frame;
      try {
        frame = decodeBinaryFrame(data);
      } catch (e) {
        this.log(`ignored a malformed binary frame: ${(e as Error).message}`);
        return;
      }
      if (frame.type !== 'preview') return;
      const serverId = frame.metadata?.prompt_id ?? this.current.promptId;
      const t = serverId ? this.byServerId.get(serverId) : undefined;
      if (!t) return;
      this.emit('event', {
        type: 'preview',
        data: { prompt_id: t.localId, node: frame.metadata?.node_id ?? this.current.node ?? '', format: frame.format, data: Buffer.from(frame.image).toString('base64') },
      });
      return;
    }
    let msg: { type?: unknown; data?: unknown };
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      return;
    }
    if (typeof msg?.type !== 'string' || typeof msg.data !== 'object' || msg.data === null) return;
    if (msg.type === 'status') {
      const q = (msg.data as { status?: { exec_info?: { queue_remaining?: unknown } } }).status?.exec_info?.queue_remaining;
      if (typeof q === 'number') this.remaining = q;
      this.emit('event', msg as BackendEvent);
      return;
    }
    // Only what Marble's BackendEvent knows: a newer ComfyUI also sends progress_state, logs,
    // feature_flags and custom nodes' own messages, which the views have no shape for.
    if (!RELAYED.has(msg.type)) return;
    await this.forward(msg as BackendEvent);
  }

  /** Maps the server's prompt id to ours, downloads images, and passes the event on. */
  private async forward(ev: BackendEvent): Promise<void> {
    const data = ev.data as { prompt_id?: string; node?: string | null };
    if (ev.type === 'executing' || ev.type === 'progress') {
      this.current = { promptId: data.prompt_id, node: data.node ?? undefined };
    }
    const t = data.prompt_id ? this.byServerId.get(data.prompt_id) : undefined;
    if (!t && data.prompt_id && ev.type !== 'progress') {
      // Possibly ours before POST /prompt answered with an id we did not choose: keep a few.
      const list = this.early.get(data.prompt_id) ?? [];
      if (list.length < 100) list.push(ev);
      this.early.set(data.prompt_id, list);
      if (this.early.size > 20) this.early.delete(this.early.keys().next().value!);
      return;
    }
    if (!t || t.ended) return; // another client's prompt, or one already settled
    if (ev.type === 'executed') {
      const output = { ...(ev.data.output as Record<string, unknown>) };
      try {
        if (Array.isArray(output.images)) output.images = await this.download(output.images as ImageRef[]);
      } catch (e) {
        // An image we cannot fetch or may not save (a name leading out of our folder): the
        // prompt fails here, naming the node, instead of "succeeding" without its image.
        t.failed = true;
        this.emit('event', {
          type: 'execution_error',
          data: {
            prompt_id: t.localId, node_id: ev.data.node, node_type: '', executed: [], exception_message: `output of node ${ev.data.node} from ${this.http.base}: ${(e as Error).message}`,
            exception_type: 'RemoteOutputError', traceback: [], current_inputs: {}, current_outputs: [], timestamp: Date.now(),
          },
        });
        return;
      }
      ev = { ...ev, data: { ...ev.data, output } };
    }
    if (t.failed && (ev.type === 'execution_success' || ev.type === 'execution_error')) return;
    if (ev.type === 'executing' && ev.data.node === null) {
      t.ended = true;
      this.byServerId.delete(t.serverId);
      this.byLocalId.delete(t.localId);
    }
    this.emit('event', { ...ev, data: { ...ev.data, prompt_id: t.localId } } as BackendEvent);
  }

  /** Saves each image where the built-in engine would have written it; returns the local refs. */
  private async download(images: ImageRef[]): Promise<ImageRef[]> {
    const cfg = this.config;
    if (!cfg) throw new Error('configure() must be called before running prompts on a ComfyUI server');
    const out: ImageRef[] = [];
    for (const img of images) {
      const type = img.type === 'temp' ? 'temp' : img.type === 'input' ? 'input' : 'output';
      const root = type === 'temp' ? cfg.tempDir : type === 'input' ? cfg.inputDir : cfg.outputDir;
      // Names come from another machine: they must stay inside our folder.
      const filename = checkFileName(img.filename, 'image name from the server');
      const dir = resolveSubfolder(root, img.subfolder ?? '', 'image subfolder from the server');
      const bytes = await this.http.view(img);
      // Name choice and write happen under one lock: two servers both send ComfyUI_00001_.png.
      const name = await withSaveLock(async () => {
        await fsp.mkdir(dir, { recursive: true });
        let candidate = filename;
        const ext = path.extname(filename);
        for (let i = 1; ; i++) {
          const existing = await fsp.readFile(path.join(dir, candidate)).catch(() => undefined);
          if (!existing || Buffer.from(bytes).equals(existing)) break;
          candidate = `${filename.slice(0, filename.length - ext.length)} (${i})${ext}`;
        }
        await writeFileAtomic(path.join(dir, candidate), bytes);
        return candidate;
      });
      out.push({ filename: name, subfolder: img.subfolder ?? '', type });
    }
    return out;
  }

  /** Uploads local LoadImage files and points the prompt at the names the server gave them. */
  private async uploadInputs(prompt: ApiPrompt): Promise<ApiPrompt> {
    const cfg = this.config;
    if (!cfg) return prompt;
    const copy = structuredClone(prompt);
    for (const [id, node] of Object.entries(copy)) {
      const value = node.inputs?.image;
      if (!LOAD_IMAGE_NODES.has(node.class_type) || typeof value !== 'string' || / \[(output|temp)\]$/.test(value)) continue;
      let file: string;
      try {
        file = resolveAnnotatedPath(value, cfg, `node ${id} (${node.class_type}) input "image"`);
      } catch {
        continue; // not a local name: the server validates it
      }
      const bytes = await fsp.readFile(file).catch(() => undefined);
      if (!bytes) continue;
      const rel = path.relative(path.resolve(cfg.inputDir), file).split(path.sep);
      const filename = rel.pop()!;
      const up = await this.http.uploadImage(bytes, filename, { subfolder: rel.join('/') });
      node.inputs.image = up.subfolder ? `${up.subfolder}/${up.name}` : up.name;
      this.log(`uploaded ${value} for node ${id} as ${node.inputs.image}`);
    }
    return copy;
  }

  async configure(params: ConfigureParams): Promise<{ applied: true }> {
    this.config = { outputDir: params.outputDir, tempDir: params.tempDir, inputDir: params.inputDir };
    return { applied: true };
  }

  async queue(req: Omit<QueueRequest, 'type'>): Promise<QueueResult> {
    const localId = req.promptId ?? randomUUID();
    const prompt = await this.uploadInputs(req.prompt);
    // Registered before the POST: the server may start (and message) before it answers.
    const t: Tracked = { localId, serverId: localId, ended: false };
    this.byServerId.set(localId, t);
    this.byLocalId.set(localId, t);
    let accepted;
    try {
      accepted = await this.http.queuePrompt({ prompt, client_id: this.clientId, extra_data: req.extraData ?? {}, prompt_id: localId, front: req.front });
    } catch (e) {
      this.byServerId.delete(localId);
      this.byLocalId.delete(localId);
      if (e instanceof ComfyHttpError && e.rejection) {
        const r = e.rejection;
        throw new BackendRequestError('queue', {
          message: `${r.error.message}${r.error.details ? `: ${r.error.details}` : ''}`,
          nodeId: Object.keys(r.node_errors)[0],
          details: r,
        });
      }
      throw e;
    }
    // An older ComfyUI ignores prompt_id and picks its own: events are mapped back to ours.
    if (accepted.prompt_id !== localId) {
      this.byServerId.delete(localId);
      t.serverId = accepted.prompt_id;
      this.byServerId.set(t.serverId, t);
      const early = this.early.get(t.serverId) ?? [];
      this.early.delete(t.serverId);
      for (const ev of early) this.chain = this.chain.then(() => this.forward(ev));
    }
    return { prompt_id: localId, number: accepted.number, node_errors: accepted.node_errors ?? {} };
  }

  async interrupt(promptId?: string): Promise<{ interrupted: boolean }> {
    const t = promptId ? this.byLocalId.get(promptId) : undefined;
    if (promptId && !t) return { interrupted: false };
    if (t) {
      // Still waiting in the server's queue: take it out and settle it here as ComfyUI would.
      const q = await this.http.queue();
      if (q.queue_pending.some((i) => i[1] === t.serverId)) {
        await this.http.deleteQueued([t.serverId]);
        this.chain = this.chain.then(async () => {
          await this.forward({ type: 'execution_interrupted', data: { prompt_id: t.serverId, node_id: '', node_type: '', executed: [], timestamp: Date.now() } });
          await this.forward({ type: 'executing', data: { node: null, prompt_id: t.serverId } });
        });
        return { interrupted: true };
      }
    }
    await this.http.interrupt(t?.serverId);
    return { interrupted: true };
  }

  async free(opts: { unloadModels: boolean; freeMemory?: boolean }): Promise<{ freed: boolean }> {
    await this.http.free(opts.unloadModels, opts.freeMemory ?? false);
    return { freed: true };
  }

  objectInfo(): ReturnType<ComfyHttp['objectInfo']> {
    return this.http.objectInfo();
  }

  dispose(): void {
    this.disposed = true;
    this.socket?.close();
    this.socket = undefined;
    this.emit('exit', { code: 0, signal: null, stderrTail: '' });
  }

  async shutdown(): Promise<void> {
    this.dispose();
  }
}
