// The parent side of the inference protocol: forks dist/inference.js, checks its hello, turns
// requests into promises (with timeouts) and re-emits the child's events. Node-only and free of
// `vscode`, so the CLI and the extension share it; restarting is the caller's policy.
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import {
  parseChildMessage, PROTOCOL_VERSION, type BackendEvent, type ConfigureParams, type HelloMessage, type ParentRequest,
  type PromptRejection, type QueueRequest, type ReplyError, type ResultMap,
} from '../../protocol/inference';

export interface BackendClientOptions {
  /** Path of the bundled child entry (dist/inference.js). */
  entry: string;
  /** Node binary; default process.execPath. The extension passes VS Code's with ELECTRON_RUN_AS_NODE=1 in env. */
  execPath?: string;
  execArgv?: string[];
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Per-request timeout (ms); default 30 s. `objectInfo` scans folders, `queue` only enqueues. */
  requestTimeoutMs?: number;
  /** Time allowed for the child to say hello (ms); default 30 s (loading onnxruntime takes a while). */
  handshakeTimeoutMs?: number;
  /** How much of stderr to keep for crash reports (characters); default 8000. */
  stderrTailChars?: number;
}

export interface CrashInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderrTail: string;
}

/** A request the child answered with `ok: false`; `nodeId` and `details` come from the child. */
export class BackendRequestError extends Error {
  readonly nodeId?: string;
  readonly details?: unknown;
  constructor(readonly request: string, error: ReplyError) {
    super(error.message);
    this.name = 'BackendRequestError';
    this.nodeId = error.nodeId;
    this.details = error.details;
  }

  /** The ComfyUI 400 body when a `queue` was refused by validation. */
  get rejection(): PromptRejection | undefined {
    const d = this.details as PromptRejection | undefined;
    return d && typeof d === 'object' && 'node_errors' in d ? d : undefined;
  }
}

interface Pending {
  type: string;
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export interface BackendClientEvents {
  event: [BackendEvent];
  crashed: [CrashInfo];
  exit: [CrashInfo];
  stderr: [string];
  stdout: [string];
  protocolError: [Error];
}

export class BackendClient extends EventEmitter<BackendClientEvents> {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stderrTail = '';
  private disposed = false;
  private exited = false;
  private helloInfo: HelloMessage | undefined;

  constructor(private readonly opts: BackendClientOptions) {
    super();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get hello(): HelloMessage | undefined {
    return this.helloInfo;
  }

  get running(): boolean {
    return !!this.child && !this.exited;
  }

  /** Forks the child and resolves with its hello; rejects on a version mismatch, early exit or timeout. */
  start(): Promise<HelloMessage> {
    if (this.child) throw new Error('BackendClient.start() called twice; create a new client to restart');
    const child = fork(this.opts.entry, this.opts.args ?? [], {
      execPath: this.opts.execPath ?? process.execPath,
      execArgv: this.opts.execArgv ?? [],
      env: this.opts.env ?? process.env,
      cwd: this.opts.cwd,
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    const keep = this.opts.stderrTailChars ?? 8000;
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-keep);
      this.emit('stderr', chunk);
    });
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => this.emit('stdout', chunk));

    return new Promise<HelloMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`inference process did not say hello within ${this.opts.handshakeTimeoutMs ?? 30000} ms${this.tailNote()}`));
        this.dispose();
      }, this.opts.handshakeTimeoutMs ?? 30000);
      const settle = (err?: Error, hello?: HelloMessage) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(hello!);
      };
      child.on('message', (raw) => this.receive(raw, settle));
      child.on('error', (err) => {
        if (!this.helloInfo) settle(new Error(`could not start the inference process: ${err.message}`));
      });
      child.on('exit', (code, signal) => {
        this.exited = true;
        const info: CrashInfo = { code, signal, stderrTail: this.stderrTail };
        const why = `inference process exited (${signal ? `signal ${signal}` : `code ${code}`})${this.tailNote()}`;
        if (!this.helloInfo) settle(new Error(why));
        for (const [, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new Error(`${p.type} failed: ${why}`));
        }
        this.pending.clear();
        if (!this.disposed) this.emit('crashed', info);
        this.emit('exit', info);
      });
    });
  }

  private tailNote(): string {
    const tail = this.stderrTail.trim();
    return tail ? `; stderr: ${tail.slice(-2000)}` : '';
  }

  private receive(raw: unknown, settleHello: (err?: Error, hello?: HelloMessage) => void): void {
    let msg;
    try {
      msg = parseChildMessage(raw);
    } catch (e) {
      this.emit('protocolError', e as Error);
      return;
    }
    if (msg.type === 'hello') {
      if (msg.version !== PROTOCOL_VERSION) {
        settleHello(new Error(`inference process speaks protocol v${msg.version}, this client v${PROTOCOL_VERSION}; rebuild dist/inference.js`));
        this.dispose();
        return;
      }
      this.helloInfo = msg;
      settleHello(undefined, msg);
    } else if (msg.type === 'reply') {
      const p = this.pending.get(msg.inReplyTo);
      if (!p) return;
      this.pending.delete(msg.inReplyTo);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new BackendRequestError(p.type, msg.error));
    } else {
      this.emit('event', msg.event);
    }
  }

  /** Sends one request; resolves with its result or rejects with BackendRequestError / a timeout. */
  request<T extends ParentRequest['type']>(
    body: Extract<ParentRequest, { type: T }>,
    timeoutMs = this.opts.requestTimeoutMs ?? 30000,
  ): Promise<ResultMap[T]> {
    const child = this.child;
    if (!child || this.exited || !child.connected || !this.helloInfo) {
      return Promise.reject(new Error(`${body.type} failed: the inference process is not running`));
    }
    const id = this.nextId++;
    return new Promise<ResultMap[T]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${body.type} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { type: body.type, resolve: resolve as (v: unknown) => void, reject, timer });
      child.send({ id, ...body }, (err) => {
        if (!err) return;
        const p = this.pending.get(id);
        if (!p) return;
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new Error(`${body.type} failed: could not send to the inference process: ${err.message}`));
      });
    });
  }

  queue(req: Omit<QueueRequest, 'type'>): Promise<ResultMap['queue']> {
    return this.request({ type: 'queue', ...req });
  }
  validate(prompt: QueueRequest['prompt']): Promise<ResultMap['validate']> {
    return this.request({ type: 'validate', prompt });
  }
  interrupt(promptId?: string): Promise<ResultMap['interrupt']> {
    return this.request({ type: 'interrupt', promptId });
  }
  queueStatus(): Promise<ResultMap['queueStatus']> {
    return this.request({ type: 'queueStatus' });
  }
  deleteQueued(ids: string[]): Promise<ResultMap['deleteQueued']> {
    return this.request({ type: 'deleteQueued', ids });
  }
  objectInfo(timeoutMs?: number): Promise<ResultMap['objectInfo']> {
    return this.request({ type: 'objectInfo' }, timeoutMs);
  }
  free(opts: { unloadModels: boolean; freeMemory?: boolean }): Promise<ResultMap['free']> {
    return this.request({ type: 'free', ...opts });
  }
  configure(config: ConfigureParams): Promise<ResultMap['configure']> {
    return this.request({ type: 'configure', ...config });
  }

  /** Asks the child to stop and waits for it to exit (killing it after `graceMs`). */
  async shutdown(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((r) => this.once('exit', () => r()));
    this.disposed = true; // an exit from here on is expected, not a crash
    await this.request({ type: 'shutdown' }, graceMs).catch(() => undefined);
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Kills the child at once; pending requests reject, no `crashed` event. */
  dispose(): void {
    this.disposed = true;
    if (this.child && !this.exited) {
      this.child.kill();
      // A child stuck in native code may ignore SIGTERM.
      const child = this.child;
      setTimeout(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); }, 3000).unref();
    }
  }
}
