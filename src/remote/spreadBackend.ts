// Several ComfyUI servers as one backend: each prompt goes to the server with the shortest queue
// (its last `status` or, if larger, the prompts we sent it that have not ended), so a batch or a
// run of queued prompts spreads out. The servers themselves schedule; this only picks one per
// prompt. Events of all servers are merged (prompt ids are ours and unique).
import { EventEmitter } from 'node:events';
import type { CrashInfo } from '../inference/client/backendClient';
import type { BackendEvent, ConfigureParams, QueueRequest, QueueResult } from '../protocol/inference';
import type { ObjectInfo } from '../workflow/objectInfo';
import { RemoteComfyBackend, type RemoteBackendOptions } from './remoteBackend';

export class SpreadBackend extends EventEmitter<{ event: [BackendEvent]; crashed: [CrashInfo]; exit: [CrashInfo] }> {
  readonly backends: RemoteComfyBackend[];
  private readonly owner = new Map<string, RemoteComfyBackend>();

  constructor(servers: RemoteBackendOptions[]) {
    super();
    if (servers.length === 0) throw new Error('no ComfyUI servers to spread over');
    this.backends = servers.map((s) => new RemoteComfyBackend(s));
    for (const b of this.backends) {
      b.on('event', (e) => {
        const id = (e.data as { prompt_id?: string }).prompt_id;
        if (e.type === 'executing' && e.data.node === null && id) this.owner.delete(id);
        // Each server's own queue status would flicker between servers: report the sum instead.
        if (e.type === 'status') {
          this.emit('event', { type: 'status', data: { status: { exec_info: { queue_remaining: this.backends.reduce((n, x) => n + x.load, 0) } } } });
          return;
        }
        this.emit('event', e);
      });
      // One server gone is a crash of the whole: the supervisor fails its runs and starts afresh.
      b.on('crashed', (info) => this.emit('crashed', { ...info, stderrTail: `${b.url}: ${info.stderrTail}` }));
    }
  }

  async start(): Promise<void> {
    await Promise.all(this.backends.map((b) => b.start()));
  }

  async configure(params: ConfigureParams): Promise<{ applied: true }> {
    await Promise.all(this.backends.map((b) => b.configure(params)));
    return { applied: true };
  }

  /** The server a new prompt goes to: least loaded, earlier in the list on a tie. */
  pick(): RemoteComfyBackend {
    return this.backends.reduce((best, b) => (b.load < best.load ? b : best));
  }

  async queue(req: Omit<QueueRequest, 'type'>): Promise<QueueResult> {
    const target = this.pick();
    const result = await target.queue(req);
    this.owner.set(result.prompt_id, target);
    return result;
  }

  async interrupt(promptId?: string): Promise<{ interrupted: boolean }> {
    if (promptId) return (await this.owner.get(promptId)?.interrupt(promptId)) ?? { interrupted: false };
    await Promise.all(this.backends.map((b) => b.interrupt()));
    return { interrupted: true };
  }

  async free(opts: { unloadModels: boolean; freeMemory?: boolean }): Promise<{ freed: boolean }> {
    await Promise.all(this.backends.map((b) => b.free(opts)));
    return { freed: true };
  }

  /** The node list of the first server: prompts must validate on every server, so keep their nodes alike. */
  objectInfo(): Promise<ObjectInfo> {
    return this.backends[0].objectInfo();
  }

  dispose(): void {
    for (const b of this.backends) b.dispose();
    this.emit('exit', { code: 0, signal: null, stderrTail: '' });
  }
}
