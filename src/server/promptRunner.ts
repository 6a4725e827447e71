// main.py's prompt_worker for the server: takes one item at a time from the queue, runs it in
// the inference child, relays its events to the prompt's websocket client as ComfyUI addresses
// them, and ends each prompt the way ComfyUI does — the outcome message, the history entry (and
// the `status` broadcast it causes), then `executing {node: null}`. If the child dies mid-run the
// prompt ends in `execution_error` and the next item runs on the restarted child.
import type { CrashInfo } from '../inference/client/backendClient';
import {
  encodePreviewFrame, encodePreviewWithMetadataFrame, type HistoryEntry, type QueueItem, type ServerMessage, type StatusMessageName,
} from '../protocol/comfyApi';
import type { BackendEvent } from '../protocol/inference';
import type { ExecutionError } from '../workflow/events';
import type { Engine } from './engine';
import { MAX_HISTORY, type ServerPromptQueue } from './promptQueue';
import type { WsHub } from './wsHub';

interface Running {
  item: QueueItem;
  clientId: string | undefined;
  lastNode: string | undefined;
  outputs: HistoryEntry['outputs'];
  meta: HistoryEntry['meta'];
  messages: HistoryEntry['status']['messages'];
  outcome: 'success' | 'error' | 'interrupted' | undefined;
  /** The child accepted it (its status events now concern this prompt). */
  queuedInChild: boolean;
  done: () => void;
}

/** Messages ComfyUI's executor sends only when the prompt has a client id (add_message without broadcast). */
const CLIENT_ONLY = new Set(['execution_start', 'execution_cached', 'executing', 'executed', 'execution_error', 'execution_success']);
const STATUS_MESSAGES = new Set<StatusMessageName>(['execution_start', 'execution_cached', 'execution_success', 'execution_error', 'execution_interrupted']);

export class PromptRunner {
  private running: Running | undefined;
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;
  /** How often each recent prompt was started, by id: the load test's "nothing ran twice". */
  readonly started = new Map<string, number>();

  constructor(
    private readonly queue: ServerPromptQueue,
    private readonly engine: Engine,
    private readonly hub: WsHub,
    private readonly log: (line: string) => void = () => undefined,
  ) {
    engine.on('event', (ev) => this.onEvent(ev));
    engine.on('crashed', (info) => this.onCrash(info));
  }

  start(): void {
    this.loop ??= this.work();
  }

  async close(): Promise<void> {
    this.stop.abort();
    this.running?.done();
    await this.loop;
  }

  get runningPromptId(): string | undefined {
    return this.running?.item[1];
  }

  /** What a socket reconnecting as the running prompt's client is told (server.py websocket_handler). */
  reconnectMessages(sid: string): ServerMessage[] {
    const r = this.running;
    if (!r || r.clientId !== sid || r.lastNode === undefined) return [];
    return [{ type: 'executing', data: { node: r.lastNode, display_node: r.lastNode, prompt_id: r.item[1] } }];
  }

  async interrupt(promptId?: string): Promise<boolean> {
    const r = this.running;
    if (!r || (promptId !== undefined && promptId !== r.item[1])) return false;
    return this.engine.interrupt(r.item[1]).catch(() => false);
  }

  private async work(): Promise<void> {
    for (;;) {
      const item = await this.queue.take(this.stop.signal);
      if (!item) return;
      await this.runOne(item);
    }
  }

  private async runOne(item: QueueItem): Promise<void> {
    const [, promptId, prompt, extraData] = item;
    this.started.set(promptId, (this.started.get(promptId) ?? 0) + 1);
    // Bounded like the history: a server runs for weeks.
    if (this.started.size > 2 * MAX_HISTORY) this.started.delete(this.started.keys().next().value!);
    const clientId = typeof extraData.client_id === 'string' ? extraData.client_id : undefined;
    let done!: () => void;
    const finished = new Promise<void>((r) => { done = r; });
    const run: Running = { item, clientId, lastNode: undefined, outputs: {}, meta: {}, messages: [], outcome: undefined, queuedInChild: false, done };
    this.running = run;
    try {
      await this.engine.queue(prompt, promptId, extraData, clientId);
      run.queuedInChild = true;
    } catch (e) {
      // Refused on the second look (a file vanished since POST) or the child died: an error outcome.
      if (this.running === run && !run.outcome) this.failRunning(`the prompt could not start: ${(e as Error).message}`, 'PromptStartError');
      if (this.running === run) this.finish(run);
    }
    await finished;
  }

  private onEvent(ev: BackendEvent): void {
    const r = this.running;
    if (ev.type === 'status') {
      // The server's own queue is what clients see. The child reports an empty queue after each
      // prompt, normally after `executing null`; if that never came, end the prompt here.
      if (r && r.queuedInChild && ev.data.status.exec_info.queue_remaining === 0) {
        if (!r.outcome) this.failRunning('the inference process finished the prompt without a result', 'EngineProtocolError');
        this.finish(r);
      }
      return;
    }
    // Conversion progress is Marble's own event: ComfyUI clients see it as `progress` on the loader node.
    if (ev.type === 'log' || ev.type === 'ep' || ev.type === 'conversion') {
      if (ev.type === 'log' && (ev.data.level === 'error' || ev.data.level === 'warn')) this.log(`[engine ${ev.data.level}] ${ev.data.message}`);
      return;
    }
    if (!r || ev.data.prompt_id !== r.item[1]) return;
    if (ev.type === 'preview') {
      const bytes = Buffer.from(ev.data.data, 'base64');
      const meta = {
        node_id: ev.data.node, prompt_id: ev.data.prompt_id, display_node_id: ev.data.node, parent_node_id: null, real_node_id: ev.data.node,
        image_type: ev.data.format === 'png' ? 'image/png' as const : 'image/jpeg' as const,
      };
      this.hub.sendPreview((withMeta) => (withMeta ? encodePreviewWithMetadataFrame(meta, bytes) : encodePreviewFrame(ev.data.format, bytes)), r.clientId);
      return;
    }
    if (ev.type === 'executing' && ev.data.node === null) {
      // The child's last word for this prompt: write history, then tell the client.
      this.finish(r);
      return;
    }
    if (ev.type === 'executing') r.lastNode = ev.data.node ?? undefined;
    if (ev.type === 'executed') {
      r.outputs[ev.data.node] = ev.data.output;
      r.meta[ev.data.node] = { node_id: ev.data.node, display_node: ev.data.display_node, parent_node: null, real_node_id: ev.data.node };
    }
    if (ev.type === 'execution_success') r.outcome = 'success';
    if (ev.type === 'execution_error') r.outcome = 'error';
    if (ev.type === 'execution_interrupted') r.outcome = 'interrupted';
    this.relay(r, ev);
  }

  private relay(r: Running, ev: ServerMessage): void {
    if (STATUS_MESSAGES.has(ev.type as StatusMessageName)) r.messages.push([ev.type as StatusMessageName, ev.data as Record<string, unknown>]);
    if (CLIENT_ONLY.has(ev.type) && r.clientId === undefined) return;
    this.hub.send(ev, r.clientId);
  }

  private failRunning(message: string, exceptionType: string, signalNote = ''): void {
    const r = this.running!;
    const node = r.lastNode ?? '';
    const nodeType = node ? (r.item[2][node]?.class_type ?? '') : '';
    const executed = Object.keys(r.outputs);
    const ev: ExecutionError = {
      type: 'execution_error',
      data: {
        prompt_id: r.item[1], node_id: node, node_type: nodeType, executed, exception_message: message + signalNote,
        exception_type: exceptionType, traceback: [], current_inputs: {}, current_outputs: executed, timestamp: Date.now(),
      },
    };
    r.outcome = 'error';
    this.relay(r, ev);
  }

  private onCrash(info: CrashInfo): void {
    const r = this.running;
    if (!r) return;
    const tail = info.stderrTail.trim().split('\n').slice(-3).join(' | ');
    const how = info.signal ? `was killed (${info.signal})` : `exited with code ${info.code}`;
    if (!r.outcome) this.failRunning(`the inference process ${how} while running this prompt; it has been restarted`, 'EngineCrash', tail ? ` — ${tail}` : '');
    this.finish(r);
  }

  private finish(r: Running): void {
    if (this.running !== r) return;
    this.running = undefined;
    const success = r.outcome === 'success';
    this.queue.taskDone(r.item[1], r.outputs, { status_str: success ? 'success' : 'error', completed: success, messages: r.messages }, r.meta);
    if (r.clientId !== undefined) this.hub.send({ type: 'executing', data: { node: null, prompt_id: r.item[1] } }, r.clientId);
    r.done();
  }
}
