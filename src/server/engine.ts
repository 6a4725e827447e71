// The server's handle on the inference child (the same dist/inference.js the extension and
// `marble run` fork): starts and configures it, restarts it when it dies, and hands out its
// requests. ORT's run() blocks the child's thread, never the server's.
import { EventEmitter } from 'node:events';
import { BackendClient, type CrashInfo } from '../inference/client/backendClient';
import type { BackendEvent, ConfigureParams, ResultMap } from '../protocol/inference';
import type { ApiPrompt } from '../workflow/types';

export interface EngineOptions {
  entry: string;
  config: ConfigureParams;
  /** Log lines (engine stderr, restarts). */
  log?: (line: string) => void;
  /** First restart delay (ms), doubled per failed start up to maxRestartDelayMs. */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
}

export interface EngineEvents {
  event: [BackendEvent];
  /** The child died while running; the server answers the running prompt and waits for `ready`. */
  crashed: [CrashInfo];
  ready: [];
}

export class Engine extends EventEmitter<EngineEvents> {
  private client: BackendClient | undefined;
  private readyPromise: Promise<BackendClient> | undefined;
  private stopped = false;
  private restarts = 0;

  constructor(private readonly opts: EngineOptions) {
    super();
  }

  get pid(): number | undefined {
    return this.client?.running ? this.client.pid : undefined;
  }

  get restartCount(): number {
    return this.restarts;
  }

  /** Starts the child (if not running) and resolves when it is configured. */
  ready(): Promise<BackendClient> {
    if (this.stopped) return Promise.reject(new Error('the engine is stopped'));
    this.readyPromise ??= this.startLoop();
    return this.readyPromise;
  }

  private async startLoop(): Promise<BackendClient> {
    let delay = this.opts.restartDelayMs ?? 200;
    for (;;) {
      if (this.stopped) throw new Error('the engine is stopped');
      try {
        return await this.startOnce();
      } catch (e) {
        this.opts.log?.(`inference engine failed to start: ${(e as Error).message}; retrying in ${delay} ms`);
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, this.opts.maxRestartDelayMs ?? 10_000);
      }
    }
  }

  private async startOnce(): Promise<BackendClient> {
    const client = new BackendClient({ entry: this.opts.entry, requestTimeoutMs: 120_000 });
    client.on('stderr', (chunk) => this.opts.log?.(chunk.trimEnd()));
    client.on('event', (ev) => { if (this.client === client) this.emit('event', ev); });
    client.on('crashed', (info) => {
      if (this.client !== client) return;
      this.client = undefined;
      this.readyPromise = undefined;
      this.restarts++;
      this.opts.log?.(`inference engine exited (${info.signal ?? `code ${info.code}`}); restarting`);
      this.emit('crashed', info);
      if (!this.stopped) void this.ready().catch(() => undefined);
    });
    try {
      await client.start();
      await client.configure(this.opts.config);
    } catch (e) {
      client.dispose();
      throw e;
    }
    this.client = client;
    this.emit('ready');
    return client;
  }

  async validate(prompt: ApiPrompt): Promise<ResultMap['validate']> {
    return (await this.ready()).validate(prompt);
  }

  async queue(prompt: ApiPrompt, promptId: string, extraData: Record<string, unknown>, clientId?: string): Promise<ResultMap['queue']> {
    return (await this.ready()).queue({ prompt, promptId, extraData, clientId });
  }

  async objectInfo(): Promise<ResultMap['objectInfo']> {
    return (await this.ready()).objectInfo(120_000);
  }

  /** Interrupts the running prompt; false when the child is not up (nothing runs there then). */
  async interrupt(promptId?: string): Promise<boolean> {
    const c = this.client;
    if (!c?.running) return false;
    return (await c.interrupt(promptId)).interrupted;
  }

  async free(flags: { unloadModels: boolean; freeMemory: boolean }): Promise<void> {
    const c = this.client;
    if (c?.running) await c.free(flags);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const c = this.client;
    this.client = undefined;
    await c?.shutdown().catch(() => c.dispose());
  }
}
