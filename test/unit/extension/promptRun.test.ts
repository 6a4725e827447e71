import assert from 'node:assert/strict';
import { PromptRun, PromptRunError } from '../../../src/extension/promptRun';
import type { BackendEvent } from '../../../src/protocol/inference';

const ev = (e: unknown) => e as BackendEvent;

describe('PromptRun', () => {
  it('collects images, forwards progress and resolves on execution_success', async () => {
    const seen: string[] = [];
    const run = new PromptRun('p1', [{
      executing: (n) => seen.push(`exec ${n}`),
      progress: (v, m) => seen.push(`step ${v}/${m}`),
    }]);
    run.handle(ev({ type: 'execution_start', data: { prompt_id: 'p1', timestamp: 0 } }));
    run.handle(ev({ type: 'execution_cached', data: { prompt_id: 'p1', nodes: ['4'], timestamp: 0 } }));
    run.handle(ev({ type: 'executing', data: { prompt_id: 'p1', node: '3' } }));
    assert.equal(run.currentNode, '3');
    run.handle(ev({ type: 'progress', data: { prompt_id: 'p1', node: '3', value: 1, max: 2 } }));
    assert.equal(run.handle(ev({ type: 'progress', data: { prompt_id: 'other', node: '3', value: 2, max: 2 } })), false);
    run.handle(ev({ type: 'executed', data: { prompt_id: 'p1', node: '9', display_node: '9', output: { images: [{ filename: 'a.png', subfolder: '', type: 'output' }, { bad: 1 }] } } }));
    run.handle(ev({ type: 'execution_success', data: { prompt_id: 'p1', timestamp: 0 } }));
    const r = await run.done;
    assert.deepEqual(r.images, [{ nodeId: '9', filename: 'a.png', subfolder: '', type: 'output' }]);
    assert.deepEqual(r.cached, ['4']);
    assert.deepEqual(seen, ['exec 3', 'step 1/2']);
    assert.equal(run.settled, true);
  });

  it('rejects with the failing node on execution_error', async () => {
    const run = new PromptRun('p2');
    run.handle(ev({ type: 'execution_error', data: { prompt_id: 'p2', node_id: '4', node_type: 'CheckpointLoaderSimple', exception_message: 'model not found', executed: [], exception_type: 'E', traceback: [], current_inputs: {}, current_outputs: [], timestamp: 0 } }));
    await assert.rejects(run.done, (e: PromptRunError) => e.kind === 'error' && e.nodeId === '4' && /CheckpointLoaderSimple \(node 4\): model not found/.test(e.message));
  });

  it('rejects as interrupted, and fail() after settling is ignored', async () => {
    const run = new PromptRun('p3');
    run.handle(ev({ type: 'execution_interrupted', data: { prompt_id: 'p3', node_id: '3', node_type: 'KSampler', executed: [], timestamp: 0 } }));
    run.fail(new PromptRunError('crash', 'crashed'));
    await assert.rejects(run.done, (e: PromptRunError) => e.kind === 'interrupted');
  });

  it('a throwing observer does not stop the run', async () => {
    const run = new PromptRun('p4', [{ executing: () => { throw new Error('webview gone'); } }]);
    run.handle(ev({ type: 'executing', data: { prompt_id: 'p4', node: '1' } }));
    run.handle(ev({ type: 'execution_success', data: { prompt_id: 'p4', timestamp: 0 } }));
    assert.deepEqual((await run.done).images, []);
  });
});
