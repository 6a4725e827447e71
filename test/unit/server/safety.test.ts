// The local server's safety: Host/Origin checks, paths that try to leave their folders (/view,
// uploads, filename_prefix; `..`, absolute, URL-encoded, `\`, symlinks), size limits (413),
// slow clients, and websocket backpressure.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import WebSocket from 'ws';
import type { MarbleServer } from '../../../src/server/httpServer';
import { RequestGuard } from '../../../src/server/requestGuard';
import { WsHub } from '../../../src/server/wsHub';
import { getJson, makeWorkspace, postJson, removeBundle, startServer, tinyPrompt, WsRecorder, type Workspace } from './harness';

function rawRequest(port: number, opts: { method?: string; path: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers, setHost: !opts.headers?.Host }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function png(width: number, height: number, rgba: [number, number, number, number]): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 4, background: { r: rgba[0], g: rgba[1], b: rgba[2], alpha: rgba[3] / 255 } } }).png().toBuffer();
}

async function upload(url: string, route: string, file: Buffer, name: string, fields: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(file)], { type: 'image/png' }), name);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const res = await fetch(`${url}${route}`, { method: 'POST', body: form });
  return { status: res.status, body: await res.json() };
}

describe('marble serve: safety', function () {
  this.timeout(120_000);
  let ws: Workspace;
  let server: MarbleServer;
  let url: string;
  let port: number;
  let outside: string;

  before(async () => {
    ws = makeWorkspace();
    outside = fs.mkdtempSync(path.join(os.tmpdir(), 'marble-outside-'));
    fs.writeFileSync(path.join(outside, 'secret.png'), await png(4, 4, [255, 0, 0, 255]));
    fs.symlinkSync(path.join(outside, 'secret.png'), path.join(ws.output, 'link.png'));
    fs.symlinkSync(outside, path.join(ws.output, 'linkdir'));
    fs.symlinkSync(outside, path.join(ws.input, 'linkdir'));
    ({ server, url, port } = await startServer(ws, { maxUploadBytes: 256 * 1024, maxJsonBytes: 512 * 1024, headersTimeoutMs: 400 }));
  });
  after(async () => {
    await server?.close();
    ws?.remove();
    fs.rmSync(outside, { recursive: true, force: true });
    removeBundle();
  });

  it('refuses Host names it does not serve (DNS rebinding) and cross-site requests by Origin', async () => {
    const rebound = await rawRequest(port, { path: '/queue', headers: { Host: `evil.example:${port}` } });
    assert.equal(rebound.status, 403);
    assert.match(JSON.parse(rebound.body).error, /DNS rebinding/);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `127.0.0.2:${port}`]) {
      assert.equal((await rawRequest(port, { path: '/queue', headers: { Host: host } })).status, 200, host);
    }
    const body = JSON.stringify({ prompt: tinyPrompt() });
    const crossSite = await rawRequest(port, { method: 'POST', path: '/prompt', body, headers: { Host: `127.0.0.1:${port}`, Origin: 'http://evil.example', 'Content-Type': 'text/plain' } });
    assert.equal(crossSite.status, 403);
    const otherPort = await rawRequest(port, { method: 'POST', path: '/interrupt', headers: { Host: `127.0.0.1:${port}`, Origin: `http://127.0.0.1:${port + 1}` } });
    assert.equal(otherPort.status, 403);
    const nullOrigin = await rawRequest(port, { method: 'POST', path: '/interrupt', headers: { Host: `127.0.0.1:${port}`, Origin: 'null' } });
    assert.equal(nullOrigin.status, 403);
    const sameOrigin = await rawRequest(port, { method: 'POST', path: '/interrupt', headers: { Host: `localhost:${port}`, Origin: `http://localhost:${port}` } });
    assert.equal(sameOrigin.status, 200);
    assert.equal(JSON.stringify(JSON.parse(sameOrigin.body)), '{}');
    assert.equal((await getJson(`${url}/queue`)).body.queue_pending.length, 0, 'the refused POST queued nothing');

    await assert.rejects(WsRecorder.open(url, 'x', { Origin: 'http://evil.example' }), /403/);
    const sock = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { Host: 'attacker.example' } });
    await assert.rejects(new Promise((resolve, reject) => { sock.once('open', resolve); sock.once('unexpected-response', (_q, r) => reject(new Error(String(r.statusCode)))); sock.once('error', reject); }), /403/);
    const ok = await WsRecorder.open(url, 'y', { Origin: `http://127.0.0.1:${port}` });
    await ok.close();
  });

  it('the guard allows the listen address, --allow-host names and --allow-origin origins', () => {
    const g = new RequestGuard({ listen: '192.168.1.5', port: 8188, allowHosts: ['box.lan'], allowOrigins: ['http://tool.example:3000'] });
    assert.equal(g.check({ host: '192.168.1.5:8188' }).ok, true);
    assert.equal(g.check({ host: 'box.lan:8188' }).ok, true);
    assert.equal(g.check({ host: '10.0.0.1:8188' }).ok, false);
    assert.equal(g.check({ host: 'localhost:8188', origin: 'http://tool.example:3000' }).ok, true);
    assert.equal(g.check({ host: 'localhost:8188', origin: 'http://tool.example:3001' }).ok, false);
    assert.equal(g.check({}).ok, false);
    const any = new RequestGuard({ listen: '0.0.0.0', port: 8188 });
    assert.equal(any.check({ host: '10.0.0.1:8188' }).ok, true, 'any IP literal when listening on all interfaces');
    assert.equal(any.check({ host: 'evil.example:8188' }).ok, false, 'but no foreign names');
  });

  it('/view never leaves its folder', async () => {
    fs.writeFileSync(path.join(ws.output, 'inside.png'), await png(4, 4, [0, 255, 0, 255]));
    assert.equal((await fetch(`${url}/view?filename=inside.png`)).status, 200);
    const cases: [string, number][] = [
      ['filename=../secret.png', 400],
      ['filename=..%2F..%2Fetc%2Fpasswd', 400],
      ['filename=%2Fetc%2Fpasswd', 400],
      ['filename=..%5C..%5Csecret.png', 400],
      ['filename=C%3A%5Cwindows%5Cwin.ini', 400],
      ['filename=inside.png%00.txt', 400],
      ['filename=secret.png&subfolder=..%2F..', 403],
      ['filename=secret.png&subfolder=..%5C..', 403],
      ['filename=passwd&subfolder=%2Fetc', 403],
      ['filename=link.png', 403],
      ['filename=secret.png&subfolder=linkdir', 403],
      ['filename=secret.png&type=bogus', 400],
      ['filename=missing.png', 404],
    ];
    for (const [q, status] of cases) {
      const r = await fetch(`${url}/view?${q}`);
      assert.equal(r.status, status, q);
      assert.equal(typeof (await r.json()).error, 'string', `${q} has a JSON error body`);
    }
  });

  it('uploads: ComfyUI\'s naming, types and subfolders, confined and size-limited', async () => {
    const red = await png(8, 8, [255, 0, 0, 255]);
    const blue = await png(8, 8, [0, 0, 255, 255]);
    assert.deepEqual((await upload(url, '/upload/image', red, 'pic.png')).body, { name: 'pic.png', subfolder: '', type: 'input' });
    assert.deepEqual((await upload(url, '/upload/image', red, 'pic.png')).body, { name: 'pic.png', subfolder: '', type: 'input' }, 'same bytes reuse the file');
    assert.deepEqual((await upload(url, '/upload/image', blue, 'pic.png')).body, { name: 'pic (1).png', subfolder: '', type: 'input' });
    assert.deepEqual((await upload(url, '/upload/image', blue, 'pic.png', { overwrite: 'true' })).body, { name: 'pic.png', subfolder: '', type: 'input' });
    assert.ok(fs.readFileSync(path.join(ws.input, 'pic.png')).equals(blue));
    assert.deepEqual((await upload(url, '/upload/image', red, 'x.png', { subfolder: 'sub/dir', type: 'temp' })).body, { name: 'x.png', subfolder: 'sub/dir', type: 'temp' });
    assert.ok(fs.existsSync(path.join(ws.temp, 'sub/dir/x.png')));

    for (const subfolder of ['../escape', '..\\escape', '/tmp', 'linkdir']) {
      const r = await upload(url, '/upload/image', red, 'bad.png', { subfolder });
      assert.equal(r.status, 400, subfolder);
    }
    assert.equal(fs.existsSync(path.join(outside, 'bad.png')), false);
    assert.equal(fs.existsSync(path.join(ws.base, 'escape')), false);
    // Path parts in the file name itself are dropped (only the base name is kept) or refused.
    const traversal = await upload(url, '/upload/image', red, '../../evil.png');
    assert.ok(traversal.status === 400 || traversal.body.name === 'evil.png', JSON.stringify(traversal.body));
    assert.equal(fs.existsSync(path.join(ws.base, 'evil.png')), false);

    const big = Buffer.alloc(300 * 1024, 7);
    const tooBig = await upload(url, '/upload/image', big, 'big.png');
    assert.equal(tooBig.status, 413);
    assert.equal(fs.existsSync(path.join(ws.input, 'big.png')), false, 'no half-written file');
    const bigJson = await postJson(`${url}/prompt`, { prompt: tinyPrompt(), pad: 'x'.repeat(600 * 1024) });
    assert.equal(bigJson.status, 413);
    // The server is still fine afterwards.
    assert.equal((await getJson(`${url}/queue`)).status, 200);
  });

  it('mask upload puts the mask\'s alpha on the original and keeps its PNG text', async () => {
    const { insertTextChunks, readPngMetadata } = await import('../../../src/workflow/png');
    const original = Buffer.from(insertTextChunks(await png(4, 4, [10, 20, 30, 255]), { workflow: '{"w":1}' }));
    fs.writeFileSync(path.join(ws.input, 'orig.png'), original);
    const mask = await png(4, 4, [0, 0, 0, 0]);
    const r = await upload(url, '/upload/mask', mask, 'orig-mask.png', { original_ref: JSON.stringify({ filename: 'orig.png', type: 'input' }) });
    assert.equal(r.status, 200);
    const saved = fs.readFileSync(path.join(ws.input, r.body.name));
    const { data } = await sharp(saved).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([...data.subarray(0, 4)], [10, 20, 30, 0]);
    assert.equal(readPngMetadata(saved).workflow, '{"w":1}');
    const escape = await upload(url, '/upload/mask', mask, 'm.png', { original_ref: JSON.stringify({ filename: '../secret.png', type: 'input' }) });
    assert.equal(escape.status, 400);
  });

  it('filename_prefix cannot leave output/, also not through a symlinked subfolder', async () => {
    const client = await WsRecorder.open(url, 'prefix');
    for (const prefix of ['../escape', 'linkdir/escape']) {
      const r = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ prefix }), client_id: 'prefix' });
      if (r.status === 400) continue; // refused at validation: also fine
      await client.done(r.body.prompt_id);
      const err = client.forPrompt(r.body.prompt_id).find((m) => m.type === 'execution_error');
      assert.ok(err, `${prefix} ends in execution_error`);
      assert.match(String(err.data.exception_message), /outside the output folder/);
    }
    assert.deepEqual(fs.readdirSync(outside).sort(), ['secret.png']);
    assert.equal(fs.existsSync(path.join(ws.base, 'escape_00001_.png')), false);
    await client.close();
  });

  it('a client trickling its headers is cut off and does not hold up the queue', async () => {
    const slow = net.connect(port, '127.0.0.1');
    await new Promise((r) => slow.once('connect', r));
    slow.write('GET /queue HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    const closed = new Promise<string>((resolve) => {
      let got = '';
      slow.on('data', (d) => (got += d));
      slow.on('close', () => resolve(got));
    });
    const client = await WsRecorder.open(url, 'busy');
    const r = await postJson(`${url}/prompt`, { prompt: tinyPrompt({ seed: 99 }), client_id: 'busy' });
    await client.done(r.body.prompt_id);
    const reply = await closed;
    assert.match(reply, /^HTTP\/1.1 (400|408)/, 'the server ended the slow request');
    await client.close();
  });

  it('websocket backpressure: a client that does not read loses previews, then its connection', () => {
    const hub = new WsHub({ status: () => ({ type: 'status', data: { status: { exec_info: { queue_remaining: 0 } } } }), onConnect: () => [], featureFlags: {}, previewDropBytes: 1000, disconnectBytes: 5000 });
    const sent: unknown[] = [];
    let terminated = false;
    const fake = {
      OPEN: 1, readyState: 1, bufferedAmount: 0,
      on() { return fake; },
      send(d: unknown) { sent.push(d); },
      close() {},
      terminate() { terminated = true; fake.readyState = 3; },
    };
    (hub as any).attach('slow', fake);
    assert.equal(sent.length, 1, 'status on connect');
    fake.bufferedAmount = 2000;
    hub.sendPreview(() => new Uint8Array(10), 'slow');
    assert.equal(sent.length, 1, 'preview dropped above the preview threshold');
    assert.equal(hub.droppedPreviews, 1);
    hub.send({ type: 'status', data: { status: { exec_info: { queue_remaining: 1 } } } }, 'slow');
    assert.equal(sent.length, 2, 'text messages still go through');
    fake.bufferedAmount = 6000;
    hub.send({ type: 'status', data: { status: { exec_info: { queue_remaining: 2 } } } }, 'slow');
    assert.equal(terminated, true, 'disconnected above the hard limit');
    assert.equal(sent.length, 2);
  });
});
