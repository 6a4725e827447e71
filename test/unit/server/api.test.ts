// `marble serve` over real HTTP and WebSocket on 127.0.0.1 with the real inference child and a
// generated tiny model: ComfyUI's routes, message order and history semantics.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import type { MarbleServer } from '../../../src/server/httpServer';
import { getJson, makeWorkspace, postJson, removeBundle, startServer, tinyPrompt, WsRecorder, type Workspace } from './harness';

describe('marble serve: ComfyUI API', function () {
  this.timeout(120_000);
  let ws: Workspace;
  let server: MarbleServer;
  let url: string;

  before(async () => {
    ws = makeWorkspace();
    ({ server, url } = await startServer(ws));
  });
  after(async () => {
    await server?.close();
    ws?.remove();
    removeBundle();
  });

  it('runs a prompt with ComfyUI\'s messages in ComfyUI\'s order, history written before the queue empties', async () => {
    const client = await WsRecorder.open(url, 'client-a');
    const hello = await client.waitFor((m) => m.type === 'status');
    assert.equal(hello.data.sid, 'client-a');
    assert.deepEqual((hello.data.status as any).exec_info, { queue_remaining: 0 });

    // When the queue reports empty, the history must already hold the result.
    const emptyStatus = client.waitFor((m) => m.type === 'status' && (m.data.status as any).exec_info.queue_remaining === 0 && client.texts.some((t) => t.type === 'execution_start'), 'empty status');
    const queued = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ steps: 3 }), client_id: 'client-a', extra_data: { extra_pnginfo: { workflow: { marker: 1 } } } });
    assert.equal(queued.status, 200);
    assert.match(queued.body.prompt_id, /^[0-9a-f-]{36}$/);
    assert.equal(typeof queued.body.number, 'number');
    assert.deepEqual(queued.body.node_errors, {});
    const id = queued.body.prompt_id as string;
    const historyAtEmpty = emptyStatus.then(() => getJson(`${url}/history/${id}`));
    await client.done(id);

    const types = client.forPrompt(id).map((m) => m.type);
    assert.equal(types[0], 'execution_start');
    assert.equal(types[1], 'execution_cached');
    const tail = types.slice(-2);
    assert.deepEqual(tail, ['execution_success', 'executing']);
    // The status broadcast of the emptied queue comes between execution_success and executing null.
    const all = client.texts;
    const iSuccess = all.findIndex((m) => m.type === 'execution_success');
    const iEnd = all.findIndex((m) => m.type === 'executing' && m.data.node === null);
    assert.ok(all.slice(iSuccess, iEnd).some((m) => m.type === 'status' && (m.data.status as any).exec_info.queue_remaining === 0), 'status between success and the final executing');
    const progress = client.forPrompt(id).filter((m) => m.type === 'progress');
    assert.deepEqual(progress.map((p) => [p.data.value, p.data.max, p.data.node]), [[1, 3, '3'], [2, 3, '3'], [3, 3, '3']]);
    const executed = client.forPrompt(id).find((m) => m.type === 'executed')!;
    assert.equal(executed.data.node, '9');
    const image = (executed.data.output as any).images[0];
    assert.deepEqual(Object.keys(image).sort(), ['filename', 'subfolder', 'type']);
    assert.equal(image.type, 'output');

    // Previews: type-1 binary frames carrying a JPEG or PNG.
    const previews = client.received.filter((r) => 'binary' in r);
    assert.ok(previews.length >= 1, 'at least one preview frame');
    for (const p of previews) {
      const b = (p as any).binary;
      assert.equal(b.type, 'preview');
      assert.equal((p as any).raw.readUInt32BE(0), 1);
      const magic = b.image.subarray(0, 2);
      assert.ok((b.format === 'jpeg' && magic[0] === 0xff && magic[1] === 0xd8) || (b.format === 'png' && magic[0] === 0x89), `a ${b.format} image`);
    }

    // History: the queue item, outputs, status with messages, meta.
    assert.ok((await historyAtEmpty).body[id], 'history entry present when the queue reported empty');
    const h = (await getJson(`${url}/history/${id}`)).body[id];
    assert.deepEqual(h.prompt.slice(0, 2), [queued.body.number, id]);
    assert.equal(h.prompt[3].client_id, 'client-a');
    assert.deepEqual(h.prompt[4], ['9']);
    assert.deepEqual(h.outputs['9'].images[0], image);
    assert.deepEqual(h.status.status_str, 'success');
    assert.equal(h.status.completed, true);
    assert.deepEqual(h.status.messages.map((m: [string]) => m[0]), ['execution_start', 'execution_cached', 'execution_success']);
    assert.deepEqual(h.meta['9'], { node_id: '9', display_node: '9', parent_node: null, real_node_id: '9' });

    // The image through /view is the saved file, byte for byte; preview=jpeg re-encodes.
    const view = await fetch(`${url}/view?filename=${encodeURIComponent(image.filename)}&subfolder=&type=output&rand=0.123`);
    assert.equal(view.status, 200);
    assert.equal(view.headers.get('content-type'), 'image/png');
    const bytes = Buffer.from(await view.arrayBuffer());
    assert.ok(bytes.equals(fs.readFileSync(path.join(ws.output, image.filename))));
    const meta = await sharp(bytes).metadata();
    assert.deepEqual([meta.width, meta.height], [64, 64]);
    const jpeg = await fetch(`${url}/view?filename=${encodeURIComponent(image.filename)}&type=output&preview=jpeg;50`);
    assert.equal(jpeg.headers.get('content-type'), 'image/jpeg');
    assert.equal((await sharp(Buffer.from(await jpeg.arrayBuffer())).metadata()).format, 'jpeg');
    await client.close();
  });

  it('negotiates feature flags: a client advertising preview metadata gets type-4 frames naming the prompt and node', async () => {
    const client = await WsRecorder.open(url, 'client-meta');
    client.socket.send(JSON.stringify({ type: 'feature_flags', data: { supports_preview_metadata: true } }));
    const flags = await client.waitFor((m) => m.type === 'feature_flags');
    assert.equal(flags.data.supports_preview_metadata, true);
    assert.equal(flags.data.max_upload_size, 100 * 1024 * 1024);
    const q = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ seed: 2 }), client_id: 'client-meta' });
    await client.done(q.body.prompt_id);
    const frames = client.received.filter((r) => 'binary' in r) as { binary: any; raw: Buffer }[];
    assert.ok(frames.length >= 1);
    for (const f of frames) {
      assert.equal(f.raw.readUInt32BE(0), 4);
      assert.equal(f.binary.metadata.prompt_id, q.body.prompt_id);
      assert.equal(f.binary.metadata.node_id, '3');
      assert.match(f.binary.metadata.image_type, /^image\/(png|jpeg)$/);
    }
    // /view channel=rgb drops alpha, channel=a keeps only it (as ComfyUI).
    const image = (client.forPrompt(q.body.prompt_id).find((m) => m.type === 'executed')!.data.output as any).images[0];
    const rgb = await sharp(Buffer.from(await (await fetch(`${url}/view?filename=${image.filename}&channel=rgb`)).arrayBuffer())).metadata();
    assert.equal(rgb.channels, 3);
    const alpha = await sharp(Buffer.from(await (await fetch(`${url}/view?filename=${image.filename}&channel=a`)).arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
    assert.equal(alpha.info.channels, 4);
    assert.deepEqual([...alpha.data.subarray(0, 4)], [0, 0, 0, 255]);
    await client.close();
  });

  it('answers validation failures with ComfyUI\'s 400 body', async () => {
    const bad = tinyPrompt();
    bad['3'].inputs.steps = 0;
    const r = await postJson(`${url}/prompt`, { prompt: bad });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.type, 'prompt_outputs_failed_validation');
    assert.equal(r.body.node_errors['3'].class_type, 'KSampler');
    assert.equal(r.body.node_errors['3'].errors[0].type, 'value_smaller_than_min');
    assert.deepEqual(r.body.node_errors['3'].dependent_outputs, ['9']);

    const missing = tinyPrompt();
    missing['4'].inputs.ckpt_name = 'nope.safetensors';
    const m = await postJson(`${url}/prompt`, { prompt: missing });
    assert.equal(m.status, 400);
    assert.equal(m.body.node_errors['4'].errors[0].type, 'value_not_in_list');

    const unknown = tinyPrompt();
    unknown['10'] = { class_type: 'NoSuchNode', inputs: {} };
    const u = await postJson(`${url}/prompt`, { prompt: unknown });
    assert.equal(u.status, 400);
    assert.equal(u.body.error.type, 'invalid_prompt');

    const none = await postJson(`${url}/prompt`, { client_id: 'x' });
    assert.equal(none.status, 400);
    assert.equal(none.body.error.type, 'no_prompt');
    assert.deepEqual(none.body.node_errors, {});

    const noClass = await postJson(`${url}/prompt`, { prompt: { 1: { inputs: {} } } });
    assert.equal(noClass.status, 400);
    assert.equal(noClass.body.error.type, 'invalid_prompt');

    const notJson = await postJson(`${url}/prompt`, '{"prompt": ');
    assert.equal(notJson.status, 400);
    assert.match(notJson.body.error, /not valid JSON/);
    assert.equal((await getJson(`${url}/queue`)).body.queue_pending.length, 0, 'nothing refused was queued');
  });

  it('keeps ComfyUI\'s queue: priorities, GET /queue, delete, clear, interrupt, client-supplied prompt_id', async () => {
    const client = await WsRecorder.open(url, 'client-q');
    // A long first prompt holds the worker while the others wait.
    const first = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ steps: 200, seed: 7 }), client_id: 'client-q' });
    await client.waitFor((m) => m.type === 'progress' && m.data.prompt_id === first.body.prompt_id, 'first progress');
    const a = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ seed: 11 }), client_id: 'client-q', prompt_id: 'mine-a' });
    assert.equal(a.body.prompt_id, 'mine-a');
    const b = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ seed: 12 }), client_id: 'client-q', front: true });
    assert.ok(b.body.number < 0, 'front gives a negative number');
    const c = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ seed: 13 }), client_id: 'client-q', number: 0.5 });
    assert.equal(c.body.number, 0.5);
    const dup = await postJson(`${url}/prompt`, { prompt: tinyPrompt(), prompt_id: 'mine-a' });
    assert.equal(dup.status, 400);

    const q = (await getJson(`${url}/queue?unknown=1`)).body;
    assert.deepEqual(q.queue_running.map((i: unknown[]) => i[1]), [first.body.prompt_id]);
    assert.deepEqual(q.queue_pending.map((i: unknown[]) => i[1]), [b.body.prompt_id, c.body.prompt_id, 'mine-a']);
    assert.equal(q.queue_pending[0].length, 5);
    assert.deepEqual((await getJson(`${url}/prompt`)).body, { exec_info: { queue_remaining: 4 } });

    assert.deepEqual((await postJson(`${url}/queue`, { delete: ['mine-a', 'not-there'] })).body, {});
    assert.deepEqual((await getJson(`${url}/queue`)).body.queue_pending.map((i: unknown[]) => i[1]), [b.body.prompt_id, c.body.prompt_id]);
    assert.deepEqual((await postJson(`${url}/queue`, { clear: true })).body, {});
    assert.equal((await getJson(`${url}/queue`)).body.queue_pending.length, 0);

    // Interrupt with another prompt's id does nothing; with the running one's id it stops it.
    assert.deepEqual((await postJson(`${url}/interrupt`, { prompt_id: 'someone-else' })).body, {});
    assert.deepEqual((await postJson(`${url}/interrupt`, { prompt_id: first.body.prompt_id })).body, {});
    await client.done(first.body.prompt_id);
    const ended = client.forPrompt(first.body.prompt_id).map((m) => m.type);
    assert.ok(ended.includes('execution_interrupted'));
    assert.ok(!ended.includes('execution_success'));
    const h = (await getJson(`${url}/history/${first.body.prompt_id}`)).body[first.body.prompt_id];
    assert.equal(h.status.status_str, 'error');
    assert.equal(h.status.messages.at(-1)[0], 'execution_interrupted');
    assert.deepEqual((await getJson(`${url}/history/mine-a`)).body, {}, 'a deleted prompt never ran');

    // POST /history delete and max_items.
    const before = Object.keys((await getJson(`${url}/history`)).body);
    assert.ok(before.length >= 2);
    assert.deepEqual(Object.keys((await getJson(`${url}/history?max_items=1&foo=bar`)).body), [before.at(-1)]);
    assert.deepEqual((await postJson(`${url}/history`, { delete: [before[0]] })).body, {});
    assert.deepEqual(Object.keys((await getJson(`${url}/history`)).body), before.slice(1));
    await client.close();
  });

  it('lets a reconnecting socket with the same clientId take over its running prompt', async () => {
    const first = await WsRecorder.open(url, 'client-r');
    const queued = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ steps: 60, seed: 21 }), client_id: 'client-r' });
    const id = queued.body.prompt_id;
    await first.waitFor((m) => m.type === 'progress' && m.data.prompt_id === id, 'progress on the first socket');
    await first.close();
    const second = await WsRecorder.open(url, 'client-r');
    const hello = await second.waitFor((m) => m.type === 'status');
    assert.equal(hello.data.sid, 'client-r');
    // server.py: the reconnecting client of the running prompt is told the current node.
    const current = await second.waitFor((m) => m.type === 'executing');
    assert.equal(current.data.prompt_id, id);
    assert.equal(current.data.node, '3');
    await second.done(id);
    assert.ok(second.forPrompt(id).some((m) => m.type === 'execution_success'));
    await second.close();
  });

  it('sends per-prompt messages only to the prompt\'s client; previews and status to all without one', async () => {
    const mine = await WsRecorder.open(url, 'owner');
    const other = await WsRecorder.open(url, 'bystander');
    const q = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ seed: 31 }), client_id: 'owner' });
    await mine.done(q.body.prompt_id);
    await other.waitFor((m) => m.type === 'status' && (m.data.status as any).exec_info.queue_remaining === 0 && other.texts.length > 1);
    assert.deepEqual(other.forPrompt(q.body.prompt_id), [], 'the bystander sees none of the owner\'s messages');

    // Without client_id: no executing/executed/success to anyone, progress broadcast (ComfyUI).
    const anon = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ seed: 32 }) });
    await other.waitFor((m) => m.type === 'progress' && m.data.prompt_id === anon.body.prompt_id && m.data.value === 3);
    await getJson(`${url}/history/${anon.body.prompt_id}`);
    await other.waitFor((m) => m.type === 'status' && (m.data.status as any).exec_info.queue_remaining === 0 && other.forPrompt(anon.body.prompt_id).length > 0);
    const seen = new Set(other.forPrompt(anon.body.prompt_id).map((m) => m.type));
    assert.deepEqual([...seen], ['progress']);
    await mine.close();
    await other.close();
  });

  it('answers the other routes with ComfyUI\'s shapes', async () => {
    assert.deepEqual((await getJson(`${url}/object_info/NoSuchClass`)).body, {});
    const ks = (await getJson(`${url}/api/object_info/KSampler`)).body;
    assert.deepEqual(Object.keys(ks), ['KSampler']);
    assert.ok(ks.KSampler.input.required.sampler_name[0].includes('euler'));
    const all = (await getJson(`${url}/object_info`)).body;
    assert.ok(all.CheckpointLoaderSimple.input.required.ckpt_name[0].includes('v1-5-pruned-emaonly-fp16'));
    assert.ok((await getJson(`${url}/models`)).body.includes('checkpoints'));
    assert.deepEqual((await getJson(`${url}/models/checkpoints`)).body, ['v1-5-pruned-emaonly-fp16']);
    assert.equal((await getJson(`${url}/models/not-a-folder`)).status, 404);
    assert.deepEqual((await getJson(`${url}/embeddings`)).body, []);
    assert.deepEqual((await getJson(`${url}/extensions`)).body, []);
    const features = (await getJson(`${url}/features`)).body;
    assert.equal(features.supports_preview_metadata, true);
    assert.equal(features.max_upload_size, 100 * 1024 * 1024);
    const stats = (await getJson(`${url}/system_stats`)).body;
    assert.equal(typeof stats.system.ram_total, 'number');
    assert.match(stats.system.comfyui_version, /^marble-/);
    assert.equal(stats.devices.length, 1);
    assert.deepEqual((await postJson(`${url}/free`, { unload_models: true })).body, {});
    const interrupt = await fetch(`${url}/interrupt`, { method: 'POST' });
    assert.equal(interrupt.status, 200);
    assert.deepEqual(await interrupt.json(), {});
    assert.equal((await getJson(`${url}/nope`)).status, 404);
    assert.equal((await getJson(`${url}/interrupt`)).status, 405);
  });

  it('restarts a killed engine: the running prompt ends in execution_error, the queue goes on', async () => {
    const client = await WsRecorder.open(url, 'client-k');
    const victim = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ steps: 200, seed: 41 }), client_id: 'client-k' });
    const next = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ seed: 42 }), client_id: 'client-k' });
    await client.waitFor((m) => m.type === 'progress' && m.data.prompt_id === victim.body.prompt_id, 'progress before the kill');
    const pid = server.engine.pid!;
    process.kill(pid, 'SIGKILL');
    await client.done(victim.body.prompt_id);
    const err = client.forPrompt(victim.body.prompt_id).find((m) => m.type === 'execution_error')!;
    assert.match(String(err.data.exception_message), /killed \(SIGKILL\)/);
    assert.equal(err.data.node_id, '3');
    assert.equal(err.data.node_type, 'KSampler');
    await client.done(next.body.prompt_id);
    assert.ok(client.forPrompt(next.body.prompt_id).some((m) => m.type === 'execution_success'), 'the next prompt ran on the restarted engine');
    assert.notEqual(server.engine.pid, pid);
    const h = (await getJson(`${url}/history/${victim.body.prompt_id}`)).body[victim.body.prompt_id];
    assert.equal(h.status.status_str, 'error');
    assert.equal(h.status.messages.at(-1)[0], 'execution_error');
    await client.close();
  });
});
