// Runs a validated API prompt the way ComfyUI's executor does: only what output nodes need, in
// dependency order with the UX-friendly pick, reusing results whose input signature (class,
// constants, IS_CHANGED, upstream signatures; never the node id) is unchanged since the last
// prompt, and reporting through ComfyUI-named events. Pure: nodes are injected via the registry.
import type { ExecutionError, ExecutionEvent } from './events';
import type { NodeContext, NodeDefinition, NodeRegistry, PreviewImage } from './nodeDefinition';
import { isApiLink, unwrapValue, type ApiPrompt } from './types';

export interface ExecuteOptions {
  promptId: string;
  /** Should be the coerced copy returned by validatePrompt. */
  prompt: ApiPrompt;
  extraData?: { extra_pnginfo?: Record<string, unknown>; client_id?: string };
  /** Output node ids to run (default: every node whose schema has output_node). */
  outputs?: string[];
  signal?: AbortSignal;
  onEvent: (e: ExecutionEvent) => void;
  onPreview?: (nodeId: string, preview: PreviewImage) => void;
  onLog?: (nodeId: string, message: string) => void;
}

export interface ExecutionOutcome {
  status: 'success' | 'error' | 'interrupted';
  /** UI outputs (`{images: [...]}`) of output nodes, ran or cached. */
  outputs: Record<string, Record<string, unknown>>;
  error?: ExecutionError['data'];
  /** Node ids that ran in this execution, in order. */
  ran: string[];
  /** Node ids whose cached results were reused. */
  cached: string[];
}

interface CacheEntry {
  outputs: unknown[];
  ui?: Record<string, unknown>;
}

class NodeFailure extends Error {
  constructor(
    readonly nodeId: string,
    readonly nodeType: string,
    message: string,
    readonly exceptionType: string,
  ) {
    super(message);
  }
}

/** Deterministic JSON (sorted object keys) so equal inputs give equal signatures. */
function stable(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (ArrayBuffer.isView(value)) return `<${value.constructor.name}:${Array.from(value as Uint8Array).join(',')}>`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stable((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

function formatValue(v: unknown): unknown {
  if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) return v;
  const shape = (v as { shape?: unknown })?.shape;
  if (Array.isArray(shape)) return `Tensor[${shape.join(', ')}]`;
  if (Array.isArray(v)) return `list(${v.length})`;
  return Object.prototype.toString.call(v);
}

function byId(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isFinite(na) && Number.isFinite(nb) && na !== nb) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

export class Executor {
  private cache = new Map<string, CacheEntry>();
  /** signature → short key; child keys are embedded in parent signatures, so they must be stable. */
  private keyOf = new Map<string, string>();
  private nextKey = 0;
  private running = false;

  constructor(private readonly registry: NodeRegistry) {}

  clearCache(): void {
    this.cache.clear();
    this.keyOf.clear();
  }

  async execute(opts: ExecuteOptions): Promise<ExecutionOutcome> {
    if (this.running) throw new Error('the executor is already running a prompt; queue prompts one at a time');
    this.running = true;
    try {
      return await this.run(opts);
    } finally {
      this.running = false;
    }
  }

  private async run(opts: ExecuteOptions): Promise<ExecutionOutcome> {
    const { prompt, promptId, onEvent } = opts;
    const signal = opts.signal ?? new AbortController().signal;
    const outcome: ExecutionOutcome = { status: 'success', outputs: {}, ran: [], cached: [] };
    const executed: string[] = [];
    const emit = onEvent;
    emit({ type: 'execution_start', data: { prompt_id: promptId, timestamp: Date.now() } });
    const finish = (): ExecutionOutcome => {
      emit({ type: 'executing', data: { node: null, prompt_id: promptId } });
      return outcome;
    };
    const keys = new Map<string, string>();
    let currentId = '';

    try {
      const def = (id: string): NodeDefinition => {
        const node = prompt[id];
        if (!node) throw new NodeFailure(id, '', `node ${id} is referenced but not in the prompt`, 'KeyError');
        const d = this.registry.get(node.class_type);
        if (!d) throw new NodeFailure(id, node.class_type, `node type ${node.class_type} is not installed`, 'NodeNotFoundError');
        return d;
      };
      const roots = (opts.outputs ?? Object.keys(prompt).filter((id) => this.registry.get(prompt[id].class_type)?.schema.output_node === true)).sort(byId);
      if (roots.length === 0) throw new NodeFailure('', '', 'the prompt has no output nodes to execute', 'NoOutputsError');

      // Signatures, depth first, with cycle detection (ComfyUI raises DependencyCycleError).
      const signatures = new Set<string>();
      const visiting = new Set<string>();
      const keyFor = async (id: string): Promise<string> => {
        const known = keys.get(id);
        if (known) return known;
        if (visiting.has(id)) throw new NodeFailure(id, prompt[id]?.class_type ?? '', `dependency cycle through node ${id}`, 'DependencyCycleError');
        visiting.add(id);
        const d = def(id);
        const constants: Record<string, unknown> = {};
        const parts: Array<[string, unknown]> = [];
        for (const name of Object.keys(prompt[id].inputs).sort()) {
          const v = prompt[id].inputs[name];
          if (isApiLink(v)) parts.push([name, { link: await keyFor(v[0]), slot: v[1] }]);
          else parts.push([name, (constants[name] = unwrapValue(v))]);
        }
        let changed: unknown = '';
        if (d.isChanged) {
          try {
            changed = await d.isChanged(constants);
          } catch (e) {
            opts.onLog?.(id, `IS_CHANGED failed, the node will re-run: ${e instanceof Error ? e.message : String(e)}`);
            changed = NaN;
          }
        }
        // NaN never equals itself in ComfyUI: give it a signature no other run can produce.
        const changedSig = typeof changed === 'number' && Number.isNaN(changed) ? `NaN#${this.nextKey++}` : stable(changed);
        const signature = stable([prompt[id].class_type, changedSig, parts]);
        let key = this.keyOf.get(signature);
        if (!key) this.keyOf.set(signature, (key = `k${this.nextKey++}`));
        signatures.add(signature);
        visiting.delete(id);
        keys.set(id, key);
        return key;
      };
      for (const root of roots) await keyFor(root);

      // clean_unused: keep only what this prompt uses.
      const live = new Set(keys.values());
      for (const k of [...this.cache.keys()]) if (!live.has(k)) this.cache.delete(k);
      for (const s of [...this.keyOf.keys()]) if (!signatures.has(s)) this.keyOf.delete(s);

      // What must run: walk up from the roots, stopping at cached nodes.
      const toRun = new Set<string>();
      const walk = (id: string) => {
        if (toRun.has(id) || this.cache.has(keys.get(id)!)) return;
        toRun.add(id);
        for (const v of Object.values(prompt[id].inputs)) if (isApiLink(v)) walk(v[0]);
      };
      roots.forEach(walk);
      outcome.cached = [...keys.keys()].filter((id) => this.cache.has(keys.get(id)!)).sort(byId);
      emit({ type: 'execution_cached', data: { nodes: outcome.cached, prompt_id: promptId, timestamp: Date.now() } });
      for (const id of roots) {
        const entry = this.cache.get(keys.get(id)!);
        if (!entry) continue;
        executed.push(id);
        if (entry.ui) {
          outcome.outputs[id] = entry.ui;
          emit({ type: 'executed', data: { node: id, display_node: id, output: entry.ui, prompt_id: promptId } });
        }
      }

      const dependents = new Map<string, string[]>();
      for (const id of toRun) {
        for (const v of Object.values(prompt[id].inputs)) {
          if (isApiLink(v) && toRun.has(v[0])) dependents.set(v[0], [...(dependents.get(v[0]) ?? []), id]);
        }
      }
      const isOutput = (id: string) => def(id).schema.output_node === true;
      const pending = new Set([...toRun].sort(byId));
      while (pending.size > 0) {
        const ready = [...pending].filter((id) => Object.values(prompt[id].inputs).every((v) => !isApiLink(v) || !pending.has(v[0])));
        const id =
          ready.find(isOutput) ??
          ready.find((r) => (dependents.get(r) ?? []).some(isOutput)) ??
          ready.find((r) => (dependents.get(r) ?? []).some((d) => (dependents.get(d) ?? []).some(isOutput))) ??
          ready[0];
        currentId = id;
        signal.throwIfAborted();
        await this.runNode(id, def(id), keys, opts, signal);
        pending.delete(id);
        executed.push(id);
        outcome.ran.push(id);
        const entry = this.cache.get(keys.get(id)!)!;
        if (entry.ui && roots.includes(id)) outcome.outputs[id] = entry.ui;
      }
      emit({ type: 'execution_success', data: { prompt_id: promptId, timestamp: Date.now() } });
      return finish();
    } catch (e) {
      const nodeId = e instanceof NodeFailure ? e.nodeId : currentId;
      const nodeType = e instanceof NodeFailure ? e.nodeType : (prompt[nodeId]?.class_type ?? '');
      if (signal.aborted && !(e instanceof NodeFailure)) {
        outcome.status = 'interrupted';
        emit({ type: 'execution_interrupted', data: { prompt_id: promptId, node_id: nodeId, node_type: nodeType, executed, timestamp: Date.now() } });
        return finish();
      }
      const err = e instanceof Error ? e : new Error(String(e));
      const currentInputs: Record<string, unknown> = {};
      for (const [name, v] of Object.entries(prompt[nodeId]?.inputs ?? {})) {
        if (isApiLink(v)) {
          const src = this.cache.get(keys.get(v[0]) ?? '');
          currentInputs[name] = src ? [formatValue(src.outputs[v[1]])] : [];
        } else currentInputs[name] = [formatValue(unwrapValue(v))];
      }
      outcome.status = 'error';
      outcome.error = {
        prompt_id: promptId,
        node_id: nodeId,
        node_type: nodeType,
        executed,
        exception_message: err.message,
        exception_type: e instanceof NodeFailure ? e.exceptionType : err.name,
        traceback: (err.stack ?? '').split('\n').slice(1).map((l) => l.trim()),
        current_inputs: currentInputs,
        current_outputs: [...keys.keys()].filter((id) => this.cache.has(keys.get(id)!)),
        timestamp: Date.now(),
      };
      emit({ type: 'execution_error', data: outcome.error });
      return finish();
    }
  }

  private async runNode(id: string, def: NodeDefinition, keys: Map<string, string>, opts: ExecuteOptions, signal: AbortSignal): Promise<void> {
    const { prompt, promptId, onEvent: emit } = opts;
    emit({ type: 'executing', data: { node: id, display_node: id, prompt_id: promptId } });
    const inputs: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(prompt[id].inputs)) {
      inputs[name] = isApiLink(v) ? this.cache.get(keys.get(v[0])!)!.outputs[v[1]] : unwrapValue(v);
    }
    const ctx: NodeContext = {
      promptId,
      nodeId: id,
      hidden: { prompt, extraPngInfo: opts.extraData?.extra_pnginfo, uniqueId: id },
      signal,
      progress: (value, max, preview) => {
        // ComfyUI checks the interrupt flag on every progress update too.
        signal.throwIfAborted();
        emit({ type: 'progress', data: { value, max, prompt_id: promptId, node: id } });
        if (preview) opts.onPreview?.(id, preview);
      },
      log: (message) => opts.onLog?.(id, message),
    };
    const result = await def.run(inputs, ctx);
    const declared = def.schema.output.length;
    if (!result || !Array.isArray(result.outputs) || result.outputs.length < declared) {
      const got = result && Array.isArray(result.outputs) ? result.outputs.length : 'no';
      throw new NodeFailure(id, prompt[id].class_type, `node ${id} (${prompt[id].class_type}) returned ${got} outputs; its schema declares ${declared}`, 'InvalidNodeResult');
    }
    // Stored only after success: a failing node never leaves a half result in the cache.
    this.cache.set(keys.get(id)!, { outputs: result.outputs, ui: result.ui });
    if (result.ui) emit({ type: 'executed', data: { node: id, display_node: id, output: result.ui, prompt_id: promptId } });
  }
}
