// Load and faults, bounded: 200 prompts from 4 websocket clients with interrupts and deletes mixed
// in — every accepted prompt ends in history (success, error or interrupted) or was deleted while
// pending, and none runs twice; then the inference child is killed mid-run 10 times — each
// running prompt ends in execution_error, the engine restarts and the queue goes on.
import assert from 'node:assert/strict';
import type { MarbleServer } from '../../../src/server/httpServer';
import { getJson, makeWorkspace, postJson, removeBundle, startServer, tinyPrompt, WsRecorder, type Workspace } from './harness';

describe('marble serve under load and faults', function () {
  this.timeout(600_000);
  let ws: Workspace;
  let server: MarbleServer;
  let url: string;

  before(async () => {
    ws = makeWorkspace();
    // No previews: the load here is the queue and the messages, not JPEG frames.
    ({ server, url } = await startServer(ws, { engine: { modelsRoots: [ws.models], outputDir: ws.output, inputDir: ws.input, tempDir: ws.temp, ep: 'cpu', memoryBudgetMB: 0, previews: false } }));
  });
  after(async () => {
    await server?.close();
    ws?.remove();
    removeBundle();
  });

  it('200 prompts from 4 clients with interrupts and deletes: nothing lost, nothing run twice', async () => {
    const clients = await Promise.all([0, 1, 2, 3].map((i) => WsRecorder.open(url, `load-${i}`)));
    const accepted: string[] = [];
    const deleteRequested = new Set<string>();
    let interrupts = 0;
    // Each client queues 50 prompts in bursts of 5; after each burst one client deletes the last
    // prompt it queued and another interrupts whatever is running.
    await Promise.all(clients.map(async (client, c) => {
      for (let burst = 0; burst < 10; burst++) {
        const ids: string[] = [];
        for (let k = 0; k < 5; k++) {
          const seed = c * 1000 + burst * 10 + k;
          const r = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ steps: 1 + (seed % 3), seed }), client_id: `load-${c}` });
          assert.equal(r.status, 200, JSON.stringify(r.body));
          ids.push(r.body.prompt_id);
          accepted.push(r.body.prompt_id);
        }
        if ((burst + c) % 2 === 0) {
          deleteRequested.add(ids[4]);
          assert.deepEqual((await postJson(`${url}/queue`, { delete: [ids[4]] })).body, {});
        }
        if ((burst + c) % 3 === 0) {
          const running = (await getJson(`${url}/queue`)).body.queue_running[0];
          if (running) {
            interrupts++;
            await postJson(`${url}/interrupt`, { prompt_id: running[1] });
          }
        }
      }
    }));
    assert.equal(accepted.length, 200);
    // Wait for the state: queue empty (every non-deleted prompt has ended).
    for (;;) {
      const q = (await getJson(`${url}/queue`)).body;
      if (q.queue_running.length + q.queue_pending.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const history = (await getJson(`${url}/history`)).body;
    const lost = accepted.filter((id) => !history[id] && !deleteRequested.has(id));
    assert.deepEqual(lost, [], 'every prompt that was not deleted is in the history');
    for (const id of accepted) {
      const runs = server.runner.started.get(id) ?? 0;
      assert.ok(runs <= 1, `${id} ran ${runs} times`);
      if (history[id]) assert.equal(runs, 1);
      else assert.equal(runs, 0, `${id} is not in history, so it must never have started`);
    }
    const outcomes = { success: 0, interrupted: 0, error: 0 };
    for (const id of accepted.filter((x) => history[x])) {
      const last = history[id].status.messages.at(-1)[0];
      if (last === 'execution_success') outcomes.success++;
      else if (last === 'execution_interrupted') outcomes.interrupted++;
      else outcomes.error++;
    }
    assert.equal(outcomes.error, 0, 'no prompt failed');
    assert.ok(outcomes.success > 100, JSON.stringify(outcomes));
    // Each client saw exactly one end-of-job per prompt of its own that ran.
    for (const [c, client] of clients.entries()) {
      const ends = client.texts.filter((m) => m.type === 'executing' && m.data.node === null).map((m) => m.data.prompt_id as string);
      assert.equal(new Set(ends).size, ends.length, `client ${c} got no duplicate ends`);
      const mine = accepted.filter((id) => history[id]?.prompt[3].client_id === `load-${c}`);
      assert.deepEqual(ends.slice().sort(), mine.slice().sort());
    }
    console.log(`      ${outcomes.success} succeeded, ${outcomes.interrupted} interrupted (of ${interrupts} interrupt requests), ${200 - Object.keys(history).filter((id) => accepted.includes(id)).length} deleted while pending`);
    await Promise.all(clients.map((c) => c.close()));
  });

  it('the inference child killed mid-run 10 times: execution_error each time, then the queue goes on', async () => {
    const client = await WsRecorder.open(url, 'killer');
    const pids = new Set<number>();
    for (let i = 0; i < 10; i++) {
      const victim = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ steps: 500, seed: 9000 + i }), client_id: 'killer' });
      const follower = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ steps: 1, seed: 9100 + i }), client_id: 'killer' });
      await client.waitFor((m) => m.type === 'progress' && m.data.prompt_id === victim.body.prompt_id, `progress of run ${i}`);
      const pid = server.engine.pid!;
      pids.add(pid);
      process.kill(pid, 'SIGKILL');
      await client.done(victim.body.prompt_id);
      const err = client.forPrompt(victim.body.prompt_id).find((m) => m.type === 'execution_error');
      assert.ok(err, `run ${i}: execution_error`);
      assert.match(String(err.data.exception_message), /SIGKILL/);
      await client.done(follower.body.prompt_id);
      assert.ok(client.forPrompt(follower.body.prompt_id).some((m) => m.type === 'execution_success'), `run ${i}: the next prompt succeeded`);
    }
    assert.equal(pids.size, 10, 'a fresh child each time');
    assert.ok(server.engine.restartCount >= 10);
    await client.close();
  });
});
