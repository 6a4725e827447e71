// A ComfyUI server is another machine: names it reports for output images are untrusted. A fake
// server (node:http + ws, speaking just enough of the protocol) reports `../../escape` and
// absolute paths; the remote backend must save nothing outside its folder and fail the prompt
// naming the node, instead of reporting success without the image.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { BackendEvent } from '../../../src/protocol/inference';
import { RemoteComfyBackend } from '../../../src/remote/remoteBackend';

describe('remote backend against a hostile ComfyUI server', function () {
  this.timeout(30_000);
  let http: Server;
  let wss: WebSocketServer;
  let url = '';
  let dir = '';
  const sockets = new Map<string, WebSocket>();
  let nextImage = { filename: 'ok.png', subfolder: '', type: 'output' };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'marble-hostile-'));
    wss = new WebSocketServer({ noServer: true });
    http = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname === '/system_stats') return void res.end('{"system":{},"devices":[]}');
      if (u.pathname === '/view') return void res.end(Buffer.from('not really a png'));
      if (u.pathname === '/prompt' && req.method === 'POST') {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          const { prompt_id: id, client_id: sid } = JSON.parse(body);
          res.end(JSON.stringify({ prompt_id: id, number: 1, node_errors: {} }));
          const ws = sockets.get(sid)!;
          const send = (type: string, data: object) => ws.send(JSON.stringify({ type, data: { ...data, prompt_id: id } }));
          send('execution_start', { timestamp: 1 });
          send('executing', { node: '9' });
          send('executed', { node: '9', display_node: '9', output: { images: [nextImage] } });
          send('execution_success', { timestamp: 2 });
          send('executing', { node: null });
        });
        return;
      }
      res.statusCode = 404;
      res.end('{}');
    });
    http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.set(new URL(req.url ?? '/', 'http://x').searchParams.get('clientId')!, ws);
      ws.send(JSON.stringify({ type: 'status', data: { status: { exec_info: { queue_remaining: 0 } } } }));
    }));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const s of sockets.values()) s.terminate();
    wss.close();
    await new Promise((r) => http.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function run(image: typeof nextImage): Promise<BackendEvent[]> {
    nextImage = image;
    const remote = new RemoteComfyBackend({ url });
    await remote.start();
    await remote.configure({ modelsRoots: [], outputDir: path.join(dir, 'out'), inputDir: path.join(dir, 'in'), tempDir: path.join(dir, 'tmp'), ep: 'cpu', memoryBudgetMB: 0, previews: false });
    const events: BackendEvent[] = [];
    const done = new Promise<void>((resolve) => remote.on('event', (e) => {
      events.push(e);
      if (e.type === 'executing' && e.data.node === null) resolve();
    }));
    await remote.queue({ prompt: { 9: { class_type: 'SaveImage', inputs: {} } }, promptId: `p-${Math.random()}` });
    await done;
    remote.dispose();
    return events;
  }

  it('saves a well-named image under the output folder', async () => {
    const events = await run({ filename: 'ok.png', subfolder: 'sub', type: 'output' });
    assert.ok(events.some((e) => e.type === 'execution_success'));
    assert.equal(fs.readFileSync(path.join(dir, 'out', 'sub', 'ok.png'), 'utf8'), 'not really a png');
  });

  for (const image of [
    { filename: 'evil.png', subfolder: '../../escape', type: 'output' },
    { filename: '../evil.png', subfolder: '', type: 'output' },
    { filename: 'evil.png', subfolder: '/tmp', type: 'temp' },
    { filename: 'evil.png', subfolder: '..\\..', type: 'output' },
  ]) {
    it(`refuses ${JSON.stringify(image)}: execution_error naming the node, nothing written outside`, async () => {
      const events = await run(image);
      const types = events.map((e) => e.type);
      assert.ok(!types.includes('execution_success'), types.join());
      const err = events.find((e) => e.type === 'execution_error') as Extract<BackendEvent, { type: 'execution_error' }>;
      assert.equal(err.data.node_id, '9');
      assert.match(err.data.exception_message, /output of node 9 from http:\/\/127\.0\.0\.1:\d+: .*(outside the folder|not a plain file name)/);
      assert.equal(fs.existsSync(path.join(dir, 'escape')), false);
      assert.equal(fs.existsSync(path.join(os.tmpdir(), 'evil.png')), false);
      assert.equal(fs.existsSync(path.join(dir, 'evil.png')), false);
    });
  }
});
