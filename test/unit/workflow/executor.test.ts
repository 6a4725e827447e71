import assert from 'node:assert/strict';
import type { ExecutionEvent } from '../../../src/workflow/events';
import { Executor } from '../../../src/workflow/executor';
import type { NodeDefinition, NodeRegistry } from '../../../src/workflow/nodeDefinition';
import type { ObjectInfoEntry } from '../../../src/workflow/objectInfo';
import type { ApiPrompt } from '../../../src/workflow/types';

// Small pure nodes: numbers flow through "NUM" sockets; Output collects a value into `ui`.
function schema(name: string, inputs: Record<string, [string, Record<string, unknown>?]>, output: string[], outputNode = false): ObjectInfoEntry {
  return { input: { required: inputs }, output, output_name: output, name, display_name: name, description: '', python_module: 'test', category: 'test', output_node: outputNode };
}

function makeRegistry() {
  const runs: Record<string, number> = {};
  const count = (n: string) => (runs[n] = (runs[n] ?? 0) + 1);
  const defs: NodeDefinition[] = [
    { schema: schema('Const', { value: ['FLOAT', {}] }, ['NUM']), run: (i) => (count('Const'), { outputs: [i.value] }) },
    { schema: schema('Add', { a: ['NUM'], b: ['NUM'] }, ['NUM']), run: (i) => (count('Add'), { outputs: [(i.a as number) + (i.b as number)] }) },
    { schema: schema('Multiply', { a: ['NUM'], k: ['FLOAT', {}] }, ['NUM']), run: (i) => (count('Multiply'), { outputs: [(i.a as number) * (i.k as number)] }) },
    { schema: schema('Sum', { xs: ['LIST'] }, ['NUM']), run: (i) => (count('Sum'), { outputs: [(i.xs as number[]).reduce((s, x) => s + x, 0)] }) },
    {
      schema: schema('Volatile', { value: ['FLOAT', {}] }, ['NUM']),
      run: (i) => (count('Volatile'), { outputs: [i.value] }),
      isChanged: () => NaN,
    },
    { schema: schema('Fail', { a: ['NUM'] }, ['NUM']), run: () => { count('Fail'); throw new Error('boom: bad input'); } },
    {
      schema: schema('Slow', { a: ['NUM'], steps: ['INT', {}] }, ['NUM']),
      run: async (i, ctx) => {
        count('Slow');
        for (let s = 1; s <= (i.steps as number); s++) {
          await new Promise((r) => setTimeout(r, 2));
          ctx.progress(s, i.steps as number, s === 2 ? { format: 'jpeg', data: new Uint8Array([s]) } : undefined);
          ctx.signal.throwIfAborted();
        }
        return { outputs: [i.a] };
      },
    },
    {
      schema: schema('Output', { v: ['NUM'] }, [], true),
      run: (i, ctx) => (count('Output'), { outputs: [], ui: { value: [i.v], hidden_id: [ctx.hidden.uniqueId] } }),
    },
  ];
  const registry: NodeRegistry = new Map(defs.map((d) => [d.schema.name, d]));
  return { registry, runs };
}

// out = (c1 + c2) * k
function graph(c1 = 2, c2 = 3, k = 10): ApiPrompt {
  return {
    '1': { class_type: 'Const', inputs: { value: c1 } },
    '2': { class_type: 'Const', inputs: { value: c2 } },
    '3': { class_type: 'Add', inputs: { a: ['1', 0], b: ['2', 0] } },
    '4': { class_type: 'Multiply', inputs: { a: ['3', 0], k } },
    '5': { class_type: 'Output', inputs: { v: ['4', 0] } },
  };
}

async function exec(ex: Executor, prompt: ApiPrompt, extra: Partial<Parameters<Executor['execute']>[0]> = {}) {
  const events: ExecutionEvent[] = [];
  const outcome = await ex.execute({ promptId: 'p', prompt, onEvent: (e) => events.push(e), ...extra });
  return { outcome, events, types: events.map((e) => e.type) };
}

describe('workflow/executor', () => {
  it('runs in dependency order and emits ComfyUI events', async () => {
    const { registry } = makeRegistry();
    const { outcome, events, types } = await exec(new Executor(registry), graph());
    assert.equal(outcome.status, 'success');
    assert.deepEqual(outcome.outputs, { '5': { value: [50], hidden_id: ['5'] } });
    assert.deepEqual(types, ['execution_start', 'execution_cached', 'executing', 'executing', 'executing', 'executing', 'executing', 'executed', 'execution_success', 'executing']);
    const order = events.filter((e) => e.type === 'executing').map((e) => (e.data as { node: string | null }).node);
    assert.deepEqual(order, ['1', '2', '3', '4', '5', null]);
    assert.deepEqual(outcome.ran, ['1', '2', '3', '4', '5']);
  });

  it('re-runs only what a changed constant affects, and replays cached outputs', async () => {
    const { registry, runs } = makeRegistry();
    const ex = new Executor(registry);
    await exec(ex, graph());
    const again = await exec(ex, graph());
    assert.deepEqual(again.outcome.ran, []);
    assert.deepEqual(again.outcome.cached, ['1', '2', '3', '4', '5']);
    assert.deepEqual(again.outcome.outputs, { '5': { value: [50], hidden_id: ['5'] } });
    assert.ok(again.types.includes('executed'), 'cached output nodes still report executed');
    const changed = await exec(ex, graph(2, 3, 100));
    assert.deepEqual(changed.outcome.ran, ['4', '5']);
    assert.deepEqual(changed.outcome.outputs['5'].value, [500]);
    assert.deepEqual(runs, { Const: 2, Add: 1, Multiply: 2, Output: 2 });
    const cachedEvent = changed.events.find((e) => e.type === 'execution_cached')!;
    assert.deepEqual((cachedEvent.data as { nodes: string[] }).nodes, ['1', '2', '3']);
  });

  it('keys the cache by content, not node id, and keeps only the last prompt', async () => {
    const { registry, runs } = makeRegistry();
    const ex = new Executor(registry);
    await exec(ex, graph());
    const renumbered: ApiPrompt = {
      '11': { class_type: 'Const', inputs: { value: 2 } },
      '12': { class_type: 'Const', inputs: { value: 3 } },
      '13': { class_type: 'Add', inputs: { a: ['11', 0], b: ['12', 0] } },
      '14': { class_type: 'Output', inputs: { v: ['13', 0] } },
    };
    const r = await exec(ex, renumbered);
    assert.deepEqual(r.outcome.ran, ['14']);
    assert.deepEqual(r.outcome.outputs['14'].value, [5]);
    // The Multiply result of the first prompt was dropped (clean_unused): it runs again.
    await exec(ex, graph());
    assert.equal(runs.Multiply, 2);
    assert.equal(runs.Add, 1);
  });

  it('re-runs nodes whose isChanged returns NaN, and everything downstream', async () => {
    const { registry, runs } = makeRegistry();
    const ex = new Executor(registry);
    const p: ApiPrompt = { '1': { class_type: 'Volatile', inputs: { value: 4 } }, '2': { class_type: 'Output', inputs: { v: ['1', 0] } } };
    await exec(ex, p);
    await exec(ex, p);
    assert.deepEqual(runs, { Volatile: 2, Output: 2 });
  });

  it('reports a failing node with its inputs, keeps earlier results cached and resumes after a fix', async () => {
    const { registry, runs } = makeRegistry();
    const ex = new Executor(registry);
    const p = graph();
    p['4'] = { class_type: 'Fail', inputs: { a: ['3', 0] } };
    const r = await exec(ex, p);
    assert.equal(r.outcome.status, 'error');
    const err = r.outcome.error!;
    assert.deepEqual([err.node_id, err.node_type, err.exception_message, err.exception_type], ['4', 'Fail', 'boom: bad input', 'Error']);
    assert.deepEqual(err.current_inputs, { a: [5] });
    assert.deepEqual(err.executed, ['1', '2', '3']);
    assert.deepEqual(r.types.slice(-2), ['execution_error', 'executing']);
    const fixed = await exec(ex, graph());
    assert.deepEqual(fixed.outcome.ran, ['4', '5']);
    assert.equal(runs.Add, 1);
  });

  it('reports progress, passes previews and stops on interrupt without caching the half result', async () => {
    const { registry, runs } = makeRegistry();
    const ex = new Executor(registry);
    const p: ApiPrompt = {
      '1': { class_type: 'Const', inputs: { value: 1 } },
      '2': { class_type: 'Slow', inputs: { a: ['1', 0], steps: 5 } },
      '3': { class_type: 'Output', inputs: { v: ['2', 0] } },
    };
    const previews: Array<[string, number]> = [];
    const full = await exec(ex, p, { onPreview: (id, prev) => previews.push([id, prev.data[0]]) });
    const progress = full.events.filter((e) => e.type === 'progress').map((e) => (e.data as { value: number }).value);
    assert.deepEqual(progress, [1, 2, 3, 4, 5]);
    assert.deepEqual(previews, [['2', 2]]);

    const ac = new AbortController();
    const p2 = structuredClone(p);
    (p2['2'].inputs as Record<string, unknown>).steps = 50;
    const events: ExecutionEvent[] = [];
    const pending = ex.execute({
      promptId: 'q',
      prompt: p2,
      signal: ac.signal,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'progress' && e.data.value === 3) ac.abort();
      },
    });
    const outcome = await pending;
    assert.equal(outcome.status, 'interrupted');
    const intr = events.find((e) => e.type === 'execution_interrupted')!;
    assert.deepEqual([intr.data.prompt_id, (intr.data as { node_id: string }).node_id], ['q', '2']);
    const resumed = await exec(ex, p2);
    assert.deepEqual(resumed.outcome.ran, ['2', '3']);
    assert.equal(runs.Slow, 3);
  });

  it('unwraps {__value__} constants and reports cycles and unknown classes as execution errors', async () => {
    const { registry } = makeRegistry();
    const ex = new Executor(registry);
    const list: ApiPrompt = { '1': { class_type: 'Sum', inputs: { xs: { __value__: [1, 2, 3] } } }, '2': { class_type: 'Output', inputs: { v: ['1', 0] } } };
    assert.deepEqual((await exec(ex, list)).outcome.outputs['2'].value, [6]);
    const cyc: ApiPrompt = { '1': { class_type: 'Add', inputs: { a: ['2', 0], b: ['2', 0] } }, '2': { class_type: 'Add', inputs: { a: ['1', 0], b: ['1', 0] } }, '3': { class_type: 'Output', inputs: { v: ['1', 0] } } };
    const c = await exec(ex, cyc);
    assert.equal(c.outcome.status, 'error');
    assert.equal(c.outcome.error!.exception_type, 'DependencyCycleError');
    const unknown: ApiPrompt = { '1': { class_type: 'Nope', inputs: {} }, '2': { class_type: 'Output', inputs: { v: ['1', 0] } } };
    const u = await exec(ex, unknown);
    assert.match(u.outcome.error!.exception_message, /node type Nope is not installed/);
    assert.equal(u.outcome.error!.node_id, '1');
  });

  it('prefers nodes that feed an output (ComfyUI ux_friendly_pick_node)', async () => {
    const { registry } = makeRegistry();
    const p: ApiPrompt = {
      '1': { class_type: 'Const', inputs: { value: 1 } },
      '2': { class_type: 'Output', inputs: { v: ['1', 0] } },
      '3': { class_type: 'Const', inputs: { value: 2 } },
      '4': { class_type: 'Multiply', inputs: { a: ['3', 0], k: 2 } },
      '5': { class_type: 'Output', inputs: { v: ['4', 0] } },
    };
    const r = await exec(new Executor(registry), p);
    assert.deepEqual(r.outcome.ran, ['1', '2', '3', '4', '5']);
    const p2: ApiPrompt = { ...p, '0': { class_type: 'Const', inputs: { value: 9 } }, '6': { class_type: 'Add', inputs: { a: ['0', 0], b: ['4', 0] } }, '7': { class_type: 'Output', inputs: { v: ['6', 0] } } };
    const r2 = await exec(new Executor(registry), p2);
    // '1' directly feeds an output, so it runs before '0' despite the lower id.
    assert.deepEqual(r2.outcome.ran.slice(0, 2), ['1', '2']);
  });

  it('refuses a second concurrent execute', async () => {
    const { registry } = makeRegistry();
    const ex = new Executor(registry);
    const p: ApiPrompt = { '1': { class_type: 'Const', inputs: { value: 1 } }, '2': { class_type: 'Slow', inputs: { a: ['1', 0], steps: 3 } }, '3': { class_type: 'Output', inputs: { v: ['2', 0] } } };
    const first = exec(ex, p);
    await assert.rejects(exec(ex, p), /already running/);
    assert.equal((await first).outcome.status, 'success');
  });
});
