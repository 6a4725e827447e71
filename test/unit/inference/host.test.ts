// The inference host in a real forked child (fake nodes, real executor), driven by BackendClient.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { BackendClient, BackendRequestError } from '../../../src/inference/client/backendClient';
import { PROTOCOL_VERSION, type ApiPromptMessage } from '../../../src/protocol/inference';
import { bundle, endOf, recordEvents, tempDir } from './helpers';

const chain = (tail: string, extra: Record<string, unknown> = {}): ApiPromptMessage => ({
  '1': { class_type: 'Const', inputs: { value: 5 } },
  '2': { class_type: tail, inputs: { value: ['1', 0], ...extra } },
  '3': { class_type: 'Show', inputs: { value: ['2', 0] } },
});

describe('inference host (forked child)', function () {
  this.timeout(20000);
  const tmp = tempDir('marble-host-');
  let entry: string;
  let client: BackendClient;

  before(async () => {
    entry = await bundle(path.join(__dirname, 'fixtures/fakeChild.ts'), tmp.dir);
  });
  after(() => tmp.remove());

  beforeEach(async () => {
    client = new BackendClient({ entry, requestTimeoutMs: 5000 });
    await client.start();
  });
  afterEach(() => client.dispose());

  it('says hello with the protocol version, its pid and EPs', () => {
    assert.equal(client.hello?.version, PROTOCOL_VERSION);
    assert.equal(client.hello?.pid, client.pid);
    assert.deepEqual(client.hello?.eps, [{ name: 'cpu', bundled: true }]);
  });

  it('runs two queued prompts in order with ComfyUI-ordered events', async () => {
    const rec = recordEvents(client);
    const release = path.join(tmp.dir, 'release-order');
    const a = await client.queue({ prompt: chain('Slow', { steps: 3, delay: 5, release }), promptId: 'a' });
    const b = await client.queue({ prompt: chain('Slow', { steps: 2, delay: 5, release }), promptId: 'b' });
    assert.deepEqual([a.number, b.number], [1, 2]);
    // a waits for this file, so b was certainly queued while a was running.
    writeFileSync(release, '');
    await rec.waitFor(endOf('b'));
    const seq = (id: string) => rec.forPrompt(id).map((e) => (e.type === 'executing' ? `executing:${e.data.node}` : e.type === 'progress' ? `progress:${e.data.value}/${e.data.max}` : e.type));
    assert.deepEqual(seq('a'), [
      'execution_start', 'execution_cached', 'executing:1', 'executing:2', 'progress:1/3', 'progress:2/3', 'progress:3/3',
      'executing:3', 'executed', 'execution_success', 'executing:null',
    ]);
    // b differs only in Slow's steps: Const comes from the cache.
    const cached = rec.forPrompt('b').find((e) => e.type === 'execution_cached');
    assert.deepEqual(cached?.data.nodes, ['1']);
    const lastA = rec.events.findIndex((e) => e.type === 'executing' && e.data.node === null && e.data.prompt_id === 'a');
    const firstB = rec.events.findIndex((e) => e.type === 'execution_start' && e.data.prompt_id === 'b');
    assert.ok(lastA < firstB, 'b starts after a has finished');
    const executed = rec.forPrompt('a').find((e) => e.type === 'executed');
    assert.deepEqual(executed?.data.output, { value: [5] });
    await rec.waitFor((e) => e.type === 'status' && e.data.status.exec_info.queue_remaining === 0);
    const statuses = rec.events.filter((e) => e.type === 'status').map((e) => e.data.status.exec_info.queue_remaining);
    assert.deepEqual(statuses, [1, 2, 1, 0]);
  });

  it('runs front-queued prompts first', async () => {
    const rec = recordEvents(client);
    const release = path.join(tmp.dir, 'release-front');
    await client.queue({ prompt: chain('Slow', { steps: 5, delay: 20, release }), promptId: 'first' });
    await client.queue({ prompt: chain('Slow', { steps: 1, delay: 1 }), promptId: 'back' });
    const front = await client.queue({ prompt: chain('Slow', { steps: 2, delay: 1 }), promptId: 'front', front: true });
    assert.ok(front.number < 0);
    const status = await client.queueStatus();
    assert.deepEqual(status.running.map((r) => r.prompt_id), ['first']);
    assert.deepEqual(status.pending.map((r) => r.prompt_id), ['front', 'back']);
    writeFileSync(release, '');
    await rec.waitFor(endOf('back'));
    const starts = rec.events.filter((e) => e.type === 'execution_start').map((e) => e.data.prompt_id);
    assert.deepEqual(starts, ['first', 'front', 'back']);
  });

  it('interrupts the running prompt and still runs the next one', async () => {
    const rec = recordEvents(client);
    // Long enough (100 s) that only the interrupt can end it.
    await client.queue({ prompt: chain('Slow', { steps: 10000, delay: 10 }), promptId: 'long' });
    await client.queue({ prompt: chain('Slow', { steps: 1, delay: 1 }), promptId: 'next' });
    await rec.waitFor((e) => e.type === 'progress' && e.data.prompt_id === 'long' && e.data.value === 2);
    assert.deepEqual(await client.interrupt('some-other-prompt'), { interrupted: false });
    assert.deepEqual(await client.interrupt(), { interrupted: true });
    const end = await rec.waitFor(endOf('long'));
    assert.equal(end.type, 'execution_interrupted');
    assert.equal(end.type === 'execution_interrupted' && end.data.node_id, '2');
    const progressed = rec.forPrompt('long').filter((e) => e.type === 'progress').length;
    assert.ok(progressed < 10000, `stopped between steps (saw ${progressed} of 10000)`);
    assert.equal((await rec.waitFor(endOf('next'))).type, 'execution_success');
  });

  it('reports a throwing node as execution_error naming it, and keeps the queue working', async () => {
    const rec = recordEvents(client);
    await client.queue({ prompt: chain('Boom'), promptId: 'bad' });
    await client.queue({ prompt: chain('Slow', { steps: 1, delay: 1 }), promptId: 'good' });
    const err = await rec.waitFor(endOf('bad'));
    assert.equal(err.type, 'execution_error');
    if (err.type !== 'execution_error') return;
    assert.equal(err.data.node_id, '2');
    assert.equal(err.data.node_type, 'Boom');
    assert.match(err.data.exception_message, /kaboom/);
    assert.equal((await rec.waitFor(endOf('good'))).type, 'execution_success');
  });

  it('survives a stray async error in a node (logged) and keeps running', async () => {
    const rec = recordEvents(client);
    await client.queue({ prompt: chain('Stray'), promptId: 'stray' });
    const log = await rec.waitFor((e) => e.type === 'log' && /stray timer error/.test(e.data.message));
    assert.equal(log.type === 'log' && log.data.level, 'error');
    await client.queue({ prompt: chain('Slow', { steps: 1, delay: 1 }), promptId: 'after' });
    assert.equal((await rec.waitFor(endOf('after'))).type, 'execution_success');
  });

  it('free drops the executor cache so the next prompt re-runs everything', async () => {
    const rec = recordEvents(client);
    const prompt = chain('Slow', { steps: 1, delay: 1 });
    await client.queue({ prompt, promptId: 'one' });
    await rec.waitFor(endOf('one'));
    await client.queue({ prompt, promptId: 'two' });
    await rec.waitFor(endOf('two'));
    assert.deepEqual(await client.free({ unloadModels: false, freeMemory: true }), { freed: true });
    await client.queue({ prompt, promptId: 'three' });
    await rec.waitFor(endOf('three'));
    const cached = (id: string) => rec.forPrompt(id).find((e) => e.type === 'execution_cached')?.data;
    assert.deepEqual((cached('two') as { nodes: string[] }).nodes, ['1', '2', '3']);
    assert.deepEqual((cached('three') as { nodes: string[] }).nodes, []);
  });

  it('forwards ep events reported by model code', async () => {
    const rec = recordEvents(client);
    await client.queue({ prompt: chain('Ep'), promptId: 'ep' });
    const ep = await rec.waitFor((e) => e.type === 'ep');
    assert.deepEqual(ep.data, { model: 'unet', provider: 'cpu' });
  });

  it('refuses an invalid prompt with ComfyUI-shaped node_errors', async () => {
    const prompt = chain('Slow', { steps: 0, delay: 1 });
    const err = await client.queue({ prompt }).catch((e: unknown) => e);
    assert.ok(err instanceof BackendRequestError, String(err));
    assert.equal(err.nodeId, '2');
    assert.equal(err.rejection?.error.type, 'prompt_outputs_failed_validation');
    assert.equal(err.rejection?.node_errors['2'].errors[0].type, 'value_smaller_than_min');
    assert.equal((await client.queueStatus()).pending.length, 0);
  });

  it('answers a malformed request with an error reply instead of crashing', async () => {
    const err = await client.request({ type: 'deleteQueued', ids: 'nope' } as never).catch((e: unknown) => e);
    assert.ok(err instanceof BackendRequestError);
    assert.match(err.message, /'ids' must be an array of prompt ids/);
    const unknown = await client.request({ type: 'explode' } as never).catch((e: unknown) => e);
    assert.match(String(unknown), /unknown request type "explode"/);
    assert.deepEqual(await client.deleteQueued(['x']), { deleted: [] });
  });

  it('deletes pending prompts', async () => {
    const rec = recordEvents(client);
    const release = path.join(tmp.dir, 'release-delete');
    await client.queue({ prompt: chain('Slow', { steps: 10, delay: 10, release }), promptId: 'run' });
    await client.queue({ prompt: chain('Slow', { steps: 1, delay: 1 }), promptId: 'drop' });
    assert.deepEqual(await client.deleteQueued(['drop', 'unknown']), { deleted: ['drop'] });
    // The queue is FIFO: had 'drop' survived, it would run before 'after' ends.
    await client.queue({ prompt: chain('Slow', { steps: 2, delay: 1 }), promptId: 'after' });
    writeFileSync(release, '');
    await rec.waitFor(endOf('after'));
    assert.equal(rec.forPrompt('drop').length, 0);
  });

  it('emits crashed with the exit code, and pending requests reject', async () => {
    const crashed = new Promise<{ code: number | null }>((r) => client.once('crashed', r));
    await client.queue({ prompt: chain('Crash'), promptId: 'crash' });
    const info = await crashed;
    assert.equal(info.code, 7);
    await assert.rejects(client.queueStatus(), /not running/);
  });

  it('shuts down on request', async () => {
    const pid = client.pid!;
    await client.shutdown();
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
  });

  it('refuses a child that speaks another protocol version', async () => {
    const liar = path.join(tmp.dir, 'liar.js');
    writeFileSync(liar, `process.send({ id: 1, type: 'hello', version: ${PROTOCOL_VERSION + 1}, pid: process.pid, eps: [] }); setInterval(() => {}, 1000);`);
    const other = new BackendClient({ entry: liar });
    await assert.rejects(other.start(), /protocol v2, this client v1/);
    other.dispose();
  });

  it('exits when the process named by MARBLE_PARENT_PID dies', async () => {
    const standIn = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const watched = new BackendClient({ entry, env: { ...process.env, MARBLE_PARENT_PID: String(standIn.pid) } });
    await watched.start();
    const exited = new Promise<{ code: number | null }>((r) => watched.once('exit', r));
    standIn.kill('SIGKILL');
    assert.equal((await exited).code, 0);
  });

  it('exits when its parent dies', async () => {
    // A middle process forks the child, prints its pid, and is then SIGKILLed (no clean-up runs).
    const script = `const c = require('child_process').fork(${JSON.stringify(entry)}, [], { serialization: 'advanced', stdio: 'ignore' });` +
      `c.on('message', (m) => { if (m.type === 'hello') console.log(c.pid); });`;
    const middle = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const childPid = await new Promise<number>((resolve) => middle.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
    assert.ok(childPid > 0);
    process.kill(childPid, 0); // alive
    middle.kill('SIGKILL');
    const deadline = Date.now() + 8000;
    let alive = true;
    while (alive && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      try { process.kill(childPid, 0); } catch { alive = false; }
    }
    if (alive) process.kill(childPid, 'SIGKILL');
    assert.equal(alive, false, 'the orphaned child exited');
  });
});
