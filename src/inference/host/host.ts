// The child's message loop: checks each request, keeps the prompt queue, runs one prompt at a
// time through the executor and streams its events to the parent. Nothing a parent sends and
// nothing a node throws may stop the loop; errors become replies or `execution_error` events.
import { randomUUID } from 'node:crypto';
import type {
  ApiPromptMessage, BackendEvent, ChildBody, ChildMessage, ConfigureParams, EpCapability, NodeErrorReport, ParentMessage,
  PromptRejection, ReplyError, ResultMap,
} from '../../protocol/inference';
import { parseParentMessage, PROTOCOL_VERSION } from '../../protocol/inference';
import type { ExecutionEvent } from '../../workflow/events';
import type { PreviewImage } from '../../workflow/nodeDefinition';
import type { ObjectInfo } from '../../workflow/objectInfo';
import { PromptQueue, type QueuedPrompt } from './promptQueue';

/** What the host needs from the workflow executor (src/workflow/executor.ts fits it). */
export interface PromptExecutor {
  execute(opts: {
    promptId: string;
    prompt: ApiPromptMessage;
    extraData?: Record<string, unknown>;
    outputs?: string[];
    signal?: AbortSignal;
    onEvent: (event: ExecutionEvent) => void;
    onPreview?: (nodeId: string, preview: PreviewImage) => void;
    onLog?: (nodeId: string, message: string) => void;
  }): Promise<{ status: string; error?: unknown }>;
  clearCache(): void;
}

/** Outcome of validating a prompt before it is queued (ComfyUI's POST /prompt checks). */
export type PromptValidation =
  | { ok: true; outputs: string[]; nodeErrors: Record<string, NodeErrorReport>; prompt: ApiPromptMessage }
  | { ok: false; rejection: PromptRejection };

export interface HostTransport {
  send(message: ChildMessage, done?: () => void): void;
  onMessage(listener: (raw: unknown) => void): void;
}

export interface HostOptions {
  transport: HostTransport;
  executor: PromptExecutor;
  validate(prompt: ApiPromptMessage): Promise<PromptValidation>;
  objectInfo(): Promise<ObjectInfo>;
  getConfig(): ConfigureParams;
  setConfig(config: ConfigureParams): void | Promise<void>;
  eps: EpCapability[];
  /** Drops loaded models (the model cache lives with the model loaders). */
  unloadModels?(): void | Promise<void>;
  exit(code: number): void;
}

export class InferenceHost {
  private readonly queue = new PromptQueue();
  private running: { item: QueuedPrompt; controller: AbortController } | undefined;
  private nextId = 1;
  private pendingFree: { unloadModels: boolean; freeMemory: boolean } | undefined;
  private stopping = false;

  constructor(private readonly opts: HostOptions) {}

  /** Sends `hello` and starts listening. */
  start(): void {
    this.opts.transport.onMessage((raw) => void this.receive(raw));
    this.post({ type: 'hello', version: PROTOCOL_VERSION, pid: process.pid, eps: this.opts.eps });
  }

  emit(event: BackendEvent): void {
    this.post({ type: 'event', event });
  }

  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void {
    this.emit({ type: 'log', data: { level, message } });
  }

  private post(body: ChildBody, done?: () => void): void {
    try {
      this.opts.transport.send({ id: this.nextId++, ...body } as ChildMessage, done);
    } catch {
      // The channel is gone; the parent watch will end the process.
    }
  }

  private async receive(raw: unknown): Promise<void> {
    let msg: ParentMessage;
    try {
      msg = parseParentMessage(raw);
    } catch (e) {
      const id = (raw as { id?: unknown } | null)?.id;
      if (Number.isSafeInteger(id)) this.replyError(id as number, { message: (e as Error).message });
      else this.log('error', `ignored a malformed message: ${(e as Error).message}`);
      return;
    }
    try {
      const result = await this.handle(msg);
      this.post({ type: 'reply', inReplyTo: msg.id, ok: true, result }, msg.type === 'shutdown' ? () => this.finishShutdown() : undefined);
    } catch (e) {
      const err = e instanceof RequestError ? e.error : { message: `${msg.type} failed: ${(e as Error)?.message ?? String(e)}` };
      this.replyError(msg.id, err);
    }
  }

  private replyError(inReplyTo: number, error: ReplyError): void {
    this.post({ type: 'reply', inReplyTo, ok: false, error });
  }

  private async handle(msg: ParentMessage): Promise<ResultMap[keyof ResultMap]> {
    switch (msg.type) {
      case 'queue':
        return this.enqueue(msg);
      case 'validate': {
        const validation = await this.opts.validate(msg.prompt);
        if (!validation.ok) throw rejectionError(validation.rejection);
        return { outputs: validation.outputs, node_errors: validation.nodeErrors };
      }
      case 'interrupt': {
        const run = this.running;
        const hit = !!run && (msg.promptId === undefined || msg.promptId === run.item.promptId);
        if (hit) run!.controller.abort(new Error('interrupted'));
        return { interrupted: hit };
      }
      case 'queueStatus': {
        const info = (q: QueuedPrompt) => ({ prompt_id: q.promptId, number: q.number, client_id: q.clientId });
        return { running: this.running ? [info(this.running.item)] : [], pending: this.queue.list().map(info) };
      }
      case 'deleteQueued': {
        const deleted = this.queue.remove(msg.ids);
        if (deleted.length) this.sendStatus();
        return { deleted };
      }
      case 'objectInfo':
        return this.opts.objectInfo();
      case 'free': {
        const flags = { unloadModels: msg.unloadModels, freeMemory: msg.freeMemory ?? false };
        // As ComfyUI's worker: applied after the running prompt, never under it.
        if (this.running) {
          this.pendingFree = flags;
          return { freed: false };
        }
        await this.applyFree(flags);
        return { freed: true };
      }
      case 'configure': {
        const { type: _t, id: _i, inReplyTo: _r, ...config } = msg;
        await this.opts.setConfig(config);
        return { applied: true };
      }
      case 'shutdown':
        this.stopping = true;
        this.queue.remove(this.queue.list().map((q) => q.promptId));
        this.running?.controller.abort(new Error('shutting down'));
        return { stopping: true };
    }
  }

  private finishShutdown(): void {
    // Let the running prompt observe its abort before leaving, but never hang on it.
    if (!this.running) this.opts.exit(0);
    else setTimeout(() => this.opts.exit(0), 2000).unref();
  }

  private async enqueue(msg: Extract<ParentMessage, { type: 'queue' }>): Promise<ResultMap['queue']> {
    if (this.stopping) throw new RequestError({ message: 'the inference process is shutting down' });
    const promptId = msg.promptId ?? randomUUID();
    if (this.queue.has(promptId) || this.running?.item.promptId === promptId) {
      throw new RequestError({ message: `prompt id '${promptId}' is already queued` });
    }
    const validation = await this.opts.validate(msg.prompt);
    if (!validation.ok) throw rejectionError(validation.rejection);
    const number = msg.number ?? this.queue.nextNumber(msg.front ?? false);
    const extraData: Record<string, unknown> = { ...(msg.extraData ?? {}) };
    if (msg.clientId !== undefined) extraData.client_id = msg.clientId;
    this.queue.push({ promptId, number, prompt: validation.prompt, extraData, clientId: msg.clientId, outputs: validation.outputs });
    this.sendStatus();
    // After the reply is posted, so a parent sees its prompt_id before the prompt's first event.
    setImmediate(() => void this.pump());
    return { prompt_id: promptId, number, node_errors: validation.nodeErrors };
  }

  private sendStatus(): void {
    this.emit({ type: 'status', data: { status: { exec_info: { queue_remaining: this.queue.size + (this.running ? 1 : 0) } } } });
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    const item = this.queue.shift();
    if (!item) return;
    const controller = new AbortController();
    this.running = { item, controller };
    try {
      await this.runOne(item, controller.signal);
    } finally {
      this.running = undefined;
      if (this.pendingFree) {
        const flags = this.pendingFree;
        this.pendingFree = undefined;
        await this.applyFree(flags).catch((e) => this.log('error', `free failed: ${(e as Error).message}`));
      }
      this.sendStatus();
      if (!this.stopping) void this.pump();
    }
  }

  private async runOne(item: QueuedPrompt, signal: AbortSignal): Promise<void> {
    const executed: string[] = [];
    const previews = this.opts.getConfig().previews;
    try {
      await this.opts.executor.execute({
        promptId: item.promptId,
        prompt: item.prompt,
        extraData: item.extraData,
        outputs: item.outputs,
        signal,
        onEvent: (event) => {
          if (event.type === 'executed') executed.push(event.data.node);
          this.emit(event);
        },
        onPreview: previews
          ? (nodeId, preview) => this.emit({
            type: 'preview',
            data: { prompt_id: item.promptId, node: nodeId, format: preview.format, data: Buffer.from(preview.data).toString('base64') },
          })
          : undefined,
        onLog: (nodeId, message) => this.log('info', `[${nodeId}] ${message}`),
      });
    } catch (e) {
      // The executor reports node failures itself; reaching here means it failed as a whole.
      const err = e as Error;
      this.emit({
        type: 'execution_error',
        data: {
          prompt_id: item.promptId, node_id: '', node_type: '', executed, exception_message: err?.message ?? String(e),
          exception_type: err?.name ?? 'Error', traceback: String(err?.stack ?? '').split('\n'), current_inputs: {},
          current_outputs: [], timestamp: Date.now(),
        },
      });
    }
  }

  private async applyFree(flags: { unloadModels: boolean; freeMemory: boolean }): Promise<void> {
    // Cached outputs hold model handles, so unloading models also drops the executor's cache.
    if (flags.freeMemory || flags.unloadModels) this.opts.executor.clearCache();
    if (flags.unloadModels) await this.opts.unloadModels?.();
  }
}

/** A refused prompt as a request error: a readable message, ComfyUI's 400 body as details. */
function rejectionError(rejection: PromptRejection): RequestError {
  const nodeId = Object.keys(rejection.node_errors)[0];
  const r = rejection.error;
  return new RequestError({ message: r.details ? `${r.message}: ${r.details}` : r.message, nodeId, details: rejection });
}

class RequestError extends Error {
  constructor(readonly error: ReplyError) {
    super(error.message);
  }
}
