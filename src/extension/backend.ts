// Supervises the inference child process the way vscode-languageclient supervises a server: it
// starts lazily on first use, its log lines go to the "Marble" LogOutputChannel, a crash fails the
// running prompts with the reason and restarts it at most `maxRestarts` times in a window, after
// which the user gets an error with "Show Logs". It is a Disposable owned by the extension context,
// so the process ends with the window.
import * as vscode from 'vscode';
import { randomUUID } from 'node:crypto';
import type {
  BackendEvent, ConfigureParams, HelloMessage, NodeErrorReport, QueueResult,
} from '../protocol/inference';
import type { ObjectInfo } from '../workflow/objectInfo';
import type { BackendPhase } from './backendPhase';
import { PromptRun, PromptRunError, type PromptRunObserver } from './promptRun';
import { RestartPolicy } from './restartPolicy';

/** What the supervisor needs from the process client (the inference engineer's BackendClient). */
export interface BackendClientLike {
  readonly hello?: HelloMessage;
  queue(prompt: Record<string, unknown>, options: { promptId: string; extraData?: Record<string, unknown> }): Promise<QueueResult>;
  interrupt(promptId?: string): Promise<unknown>;
  free(unloadModels: boolean, freeMemory?: boolean): Promise<unknown>;
  objectInfo(): Promise<ObjectInfo>;
  configure(params: ConfigureParams): Promise<unknown>;
  onEvent(listener: (e: BackendEvent) => void): { dispose(): void };
  /** Fires once when the process ends; `expected` is true after `dispose()`/shutdown. */
  onExit(listener: (info: { code: number | null; signal: string | null; expected: boolean }) => void): { dispose(): void };
  dispose(): Promise<void> | void;
}

/** Starts a client; `log` receives the child's stderr/log lines. */
export type BackendClientFactory = (log: vscode.LogOutputChannel) => Promise<BackendClientLike>;

/** What the status bar shows (defined in the pure backendPhase.ts). */
export type { BackendPhase };

/** The validation failure of a queued prompt: ComfyUI's `node_errors`, per node. */
export class PromptRejectedError extends Error {
  constructor(message: string, readonly nodeErrors: Record<string, NodeErrorReport>) {
    super(message);
    this.name = 'PromptRejectedError';
  }
}

interface TrackedRun {
  run: PromptRun;
  classes: Map<string, string>;
}

export class BackendSupervisor implements vscode.Disposable {
  private _client: BackendClientLike | undefined;
  private _starting: Promise<BackendClientLike> | undefined;
  private readonly _runs = new Map<string, TrackedRun>();
  private readonly _clientSubs: { dispose(): void }[] = [];
  private readonly _phaseEmitter = new vscode.EventEmitter<BackendPhase>();
  private readonly _eventEmitter = new vscode.EventEmitter<BackendEvent>();
  private _phase: BackendPhase = { kind: 'stopped' };
  private _objectInfo: ObjectInfo | undefined;
  private _disposed = false;
  private _gaveUp = false;

  /** Fires on every status change (idle, loading, step x of y, failed, …). */
  readonly onDidChangePhase = this._phaseEmitter.event;
  /** Every event of the backend, for views that follow all runs (the generate panel). */
  readonly onEvent = this._eventEmitter.event;

  constructor(
    private readonly _factory: BackendClientFactory,
    private readonly _config: () => ConfigureParams,
    private readonly _log: vscode.LogOutputChannel,
    private readonly _policy = new RestartPolicy(3, 3 * 60_000),
  ) {}

  get phase(): BackendPhase {
    return this._phase;
  }

  get isRunning(): boolean {
    return this._client !== undefined;
  }

  get busy(): boolean {
    return [...this._runs.values()].some((r) => !r.run.settled);
  }

  /** Starts the process if needed (a user action after a crash loop starts it afresh). */
  ensureStarted(): Promise<BackendClientLike> {
    if (this._disposed) return Promise.reject(new Error('Marble backend is shut down'));
    if (this._client) return Promise.resolve(this._client);
    if (this._gaveUp) {
      this._gaveUp = false;
      this._policy.reset();
    }
    this._starting ??= this._start().finally(() => { this._starting = undefined; });
    return this._starting;
  }

  private async _start(): Promise<BackendClientLike> {
    this._setPhase({ kind: 'starting' });
    this._log.info('Starting the inference process');
    let client: BackendClientLike | undefined;
    try {
      client = await this._factory(this._log);
      const c = client;
      this._clientSubs.push(c.onEvent((e) => this._onEvent(e)));
      this._clientSubs.push(c.onExit((info) => this._onExit(c, info)));
      await c.configure(this._config());
    } catch (e) {
      // A child that started but could not be configured must not linger without an owner.
      for (const s of this._clientSubs.splice(0)) s.dispose();
      if (client) await Promise.resolve(client.dispose()).catch(() => undefined);
      this._setPhase({ kind: 'failed', message: e instanceof Error ? e.message : String(e) });
      throw e;
    }
    if (this._disposed) {
      await client.dispose();
      throw new Error('Marble backend is shut down');
    }
    this._client = client;
    this._objectInfo = undefined;
    this._log.info(`Inference process ready${client.hello ? ` (pid ${client.hello.pid}, EPs ${client.hello.eps.map((e) => e.name).join(', ')})` : ''}`);
    void vscode.commands.executeCommand('setContext', 'marble.backendRunning', true);
    this._setPhase({ kind: 'idle' });
    return client;
  }

  /** Sends changed settings to a running process (no start if it is not running). */
  async reconfigure(): Promise<void> {
    if (!this._client) return;
    await this._client.configure(this._config());
    this._objectInfo = undefined;
  }

  /** Drops the cached catalogue, e.g. after a file was added to the input folder it lists. */
  forgetObjectInfo(): void {
    this._objectInfo = undefined;
  }

  /**
   * True when starting the client costs little (a ComfyUI server: a connect, not a process with
   * models), so node lists should come from it rather than from the static catalogue.
   */
  startsCheaply: () => boolean = () => false;

  /** The backend's node catalogue when it is running, else undefined (callers use the static one). */
  async objectInfoIfRunning(): Promise<ObjectInfo | undefined> {
    if (!this._client && !this.startsCheaply()) return undefined;
    return this.objectInfo();
  }

  /** The backend's node catalogue (starts the process; cached until settings change). */
  async objectInfo(): Promise<ObjectInfo> {
    const client = await this.ensureStarted();
    this._objectInfo ??= await client.objectInfo();
    return this._objectInfo;
  }

  /**
   * Queues an API prompt. The returned run settles on success, error, interrupt or a crash; a
   * validation failure rejects here with PromptRejectedError (its node_errors name the inputs).
   */
  async queue(
    prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }>,
    options: { extraData?: Record<string, unknown>; observers?: PromptRunObserver[] } = {},
  ): Promise<PromptRun> {
    const client = await this.ensureStarted();
    const promptId = randomUUID();
    // Registered before queueing: the child may emit execution_start before its reply arrives.
    const run = new PromptRun(promptId, [...(options.observers ?? [])]);
    const classes = new Map(Object.entries(prompt).map(([id, n]) => [id, n.class_type]));
    this._runs.set(promptId, { run, classes });
    // Cleanup on either outcome; `.finally` would return a second promise that rejects with the
    // run's error and, when nobody else awaits `done`, surfaces as an unhandled rejection.
    const settle = () => {
      this._runs.delete(promptId);
      this._updateBusy();
    };
    run.done.then(settle, settle);
    this._updateBusy();
    try {
      const result = await client.queue(prompt, { promptId, extraData: options.extraData });
      if (result.node_errors && Object.keys(result.node_errors).length > 0) {
        // ComfyUI queues the valid outputs and reports the others; say which were dropped.
        this._log.warn(`Prompt ${promptId} queued with node errors: ${JSON.stringify(result.node_errors)}`);
      }
    } catch (e) {
      const details = (e as { details?: { node_errors?: Record<string, NodeErrorReport> } }).details;
      const err = new PromptRejectedError(e instanceof Error ? e.message : String(e), details?.node_errors ?? {});
      run.fail(new PromptRunError(err.message, 'error'));
      throw err;
    }
    return run;
  }

  /**
   * Stops the current client (e.g. the user picked another backend); its runs end as interrupted
   * and the next use starts a client from the factory, which reads the new choice.
   */
  async stopClient(): Promise<void> {
    const client = this._client;
    if (!client) return;
    this._client = undefined;
    this._objectInfo = undefined;
    for (const s of this._clientSubs.splice(0)) s.dispose();
    for (const { run } of this._runs.values()) run.fail(new PromptRunError('the backend was switched', 'interrupted'));
    void vscode.commands.executeCommand('setContext', 'marble.backendRunning', false);
    this._setPhase({ kind: 'stopped' });
    await Promise.resolve(client.dispose()).catch((e) => this._log.warn(`Stopping the backend: ${e}`));
  }

  /** Interrupts the running prompt (all of them when no id is given). */
  async interrupt(promptId?: string): Promise<void> {
    if (!this._client) return;
    await this._client.interrupt(promptId);
  }

  /** Unloads models and frees memory in the child; no-op when it is not running. */
  async free(): Promise<boolean> {
    if (!this._client) return false;
    await this._client.free(true, true);
    return true;
  }

  private _onEvent(e: BackendEvent): void {
    if (e.type === 'log') {
      const { level, message } = e.data;
      this._log[level === 'warn' ? 'warn' : level](`[inference] ${message}`);
      return;
    }
    if (e.type === 'ep') this._log.info(`[inference] ${e.data.model} runs on ${e.data.provider}`);
    const promptId = (e.data as { prompt_id?: string }).prompt_id;
    const tracked = promptId ? this._runs.get(promptId) : undefined;
    if (tracked) {
      tracked.run.handle(e);
      this._phaseFromEvent(tracked, e);
    }
    this._eventEmitter.fire(e);
  }

  private _phaseFromEvent(tracked: TrackedRun, e: BackendEvent): void {
    if (e.type === 'executing') {
      if (e.data.node === null) return;
      const classType = tracked.classes.get(e.data.node);
      if (classType && /Loader/.test(classType)) this._setPhase({ kind: 'loading', node: e.data.node });
      else this._setPhase({ kind: 'running', node: e.data.node, classType });
    } else if (e.type === 'progress') {
      this._setPhase({
        kind: 'running', node: e.data.node, classType: tracked.classes.get(e.data.node),
        step: e.data.value, max: e.data.max,
      });
    }
  }

  private _onExit(client: BackendClientLike, info: { code: number | null; signal: string | null; expected: boolean }): void {
    if (client !== this._client && this._client !== undefined) return;
    this._client = undefined;
    for (const s of this._clientSubs.splice(0)) s.dispose();
    void vscode.commands.executeCommand('setContext', 'marble.backendRunning', false);
    if (info.expected || this._disposed) {
      this._setPhase({ kind: 'stopped' });
      return;
    }
    const reason = `Inference process exited unexpectedly (${info.signal ? `signal ${info.signal}` : `exit code ${info.code}`})`;
    this._log.error(reason);
    for (const { run } of this._runs.values()) run.fail(new PromptRunError(reason, 'crashed'));
    const decision = this._policy.recordCrash();
    if (decision.action === 'restart') {
      this._log.info(`Restarting the inference process (attempt ${decision.attempt} of ${this._policy.maxRestarts})`);
      this.ensureStarted().catch((e) => this._log.error(`Restart failed: ${e instanceof Error ? e.message : e}`));
      return;
    }
    this._gaveUp = true;
    const message = `Marble's inference process crashed ${decision.crashes} times in ${Math.round(this._policy.windowMs / 60000)} minutes and was not restarted.`;
    this._setPhase({ kind: 'failed', message });
    void vscode.window.showErrorMessage(message, 'Show Logs').then((c) => {
      if (c === 'Show Logs') this._log.show(true);
    });
  }

  private _updateBusy(): void {
    const busy = this.busy;
    void vscode.commands.executeCommand('setContext', 'marble.busy', busy);
    if (!busy && this._client && this._phase.kind !== 'failed') this._setPhase({ kind: 'idle' });
  }

  private _setPhase(p: BackendPhase): void {
    this._phase = p;
    this._phaseEmitter.fire(p);
  }

  dispose(): void {
    this._disposed = true;
    for (const { run } of this._runs.values()) run.fail(new PromptRunError('VS Code window closed', 'interrupted'));
    for (const s of this._clientSubs.splice(0)) s.dispose();
    const client = this._client;
    this._client = undefined;
    if (client) {
      Promise.resolve(client.dispose()).catch((e) => this._log.warn(`Shutting down the inference process: ${e}`));
    }
    this._phaseEmitter.dispose();
    this._eventEmitter.dispose();
  }
}
