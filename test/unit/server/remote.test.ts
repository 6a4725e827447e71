// Marble as a ComfyUI client: `marble run --server` and the RemoteComfyBackend against a real
// `marble serve` — images fetched through /view into the local output folder, LoadImage inputs
// uploaded first, rejections with ComfyUI's node_errors, and a dropped websocket that reconnects
// and settles a prompt that ended meanwhile from /history.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { run as runCommand } from '../../../src/cli/commands/run';
import type { CliIO } from '../../../src/cli/io';
import type { BackendEvent } from '../../../src/protocol/inference';
import { RemoteComfyBackend } from '../../../src/remote/remoteBackend';
import { SpreadBackend } from '../../../src/remote/spreadBackend';
import type { MarbleServer } from '../../../src/server/httpServer';
import type { ApiPrompt } from '../../../src/workflow/types';
import { getJson, makeWorkspace, removeBundle, startServer, tinyPrompt, type Workspace } from './harness';

function capture(): CliIO & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
  return io;
}

function img2img(image: string): ApiPrompt {
  const p = tinyPrompt({ steps: 2 });
  p['10'] = { class_type: 'LoadImage', inputs: { image } };
  p['11'] = { class_type: 'VAEEncode', inputs: { pixels: ['10', 0], vae: ['4', 2] } };
  p['3'].inputs.latent_image = ['11', 0];
  p['3'].inputs.denoise = 0.5;
  delete p['5'];
  return p;
}

describe('Marble as a ComfyUI client (marble run --server, RemoteComfyBackend)', function () {
  this.timeout(120_000);
  let ws: Workspace;
  let server: MarbleServer;
  let url: string;
  let local: string;

  before(async () => {
    ws = makeWorkspace();
    ({ server, url } = await startServer(ws));
    local = fs.mkdtempSync(path.join(os.tmpdir(), 'marble-remote-local-'));
    fs.mkdirSync(path.join(local, 'input'), { recursive: true });
  });
  after(async () => {
    await server?.close();
    ws?.remove();
    fs.rmSync(local, { recursive: true, force: true });
    removeBundle();
  });

  it('marble run --server saves the server\'s image locally, byte for byte', async () => {
    const file = path.join(local, 'prompt.json');
    fs.writeFileSync(file, JSON.stringify(tinyPrompt({ seed: 3 })));
    const io = capture();
    const code = await runCommand([file, '--server', url, '--output', path.join(local, 'out'), '--input', path.join(local, 'input'), '--json'], io);
    assert.equal(code, 0, io.stderr);
    const result = JSON.parse(io.stdout.trim().split('\n').at(-1)!);
    assert.equal(result.data.status, 'success');
    assert.equal(result.data.images.length, 1);
    const saved = result.data.images[0] as string;
    assert.ok(saved.startsWith(path.join(local, 'out')));
    const onServer = path.join(ws.output, path.basename(saved));
    assert.ok(fs.readFileSync(saved).equals(fs.readFileSync(onServer)));
    const h = (await getJson(`${url}/history/${result.data.prompt_id}`)).body;
    assert.equal(h[result.data.prompt_id].status.status_str, 'success', 'our prompt id is the server\'s');
  });

  it('uploads LoadImage inputs first, and reports validation errors with exit 3', async () => {
    fs.writeFileSync(path.join(local, 'input', 'local-only.png'), await sharp({ create: { width: 64, height: 64, channels: 3, background: '#336699' } }).png().toBuffer());
    const file = path.join(local, 'i2i.json');
    fs.writeFileSync(file, JSON.stringify(img2img('local-only.png')));
    const io = capture();
    const code = await runCommand([file, '--server', url, '--output', path.join(local, 'out'), '--input', path.join(local, 'input')], io);
    assert.equal(code, 0, io.stderr);
    assert.ok(fs.existsSync(path.join(ws.input, 'local-only.png')), 'uploaded into the server\'s input folder');

    const bad = tinyPrompt();
    bad['3'].inputs.cfg = 1000;
    fs.writeFileSync(file, JSON.stringify(bad));
    const io2 = capture();
    assert.equal(await runCommand([file, '--server', url, '--output', path.join(local, 'out')], io2), 3);
    assert.match(io2.stderr, /node 3 \(KSampler\): Value 1000 bigger than max of 100/);

    const io3 = capture();
    const closedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(port));
      });
    });
    assert.equal(await runCommand([file, '--server', `http://127.0.0.1:${closedPort}`], io3), 2);
    assert.match(io3.stderr, /cannot reach the ComfyUI server: .*ECONNREFUSED/);
  });

  it('reconnects a dropped websocket and settles a prompt that ended meanwhile from /history', async () => {
    const remote = new RemoteComfyBackend({ url });
    await remote.start();
    await remote.configure({ modelsRoots: [], outputDir: path.join(local, 'out2'), inputDir: path.join(local, 'input'), tempDir: path.join(local, 'tmp'), ep: 'cpu', memoryBudgetMB: 0, previews: true });
    const events: BackendEvent[] = [];
    let ended!: () => void;
    const end = new Promise<void>((r) => { ended = r; });
    remote.on('event', (e) => {
      events.push(e);
      if (e.type === 'executing' && e.data.node === null) ended();
    });
    const q = await remote.queue({ prompt: tinyPrompt({ steps: 30, seed: 8 }), promptId: 'remote-1' });
    assert.equal(q.prompt_id, 'remote-1');
    await new Promise<void>((resolve) => remote.on('event', (e) => { if (e.type === 'progress') resolve(); }));
    // Hold the reconnect until the server has finished the prompt, then drop the socket.
    const connect = (remote as any).connect.bind(remote);
    (remote as any).connect = async () => {
      for (;;) {
        const h = (await getJson(`${url}/history/remote-1`)).body;
        if (h['remote-1']) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      return connect();
    };
    (remote as any).socket.terminate();
    await end;
    const types = events.filter((e) => (e.data as any).prompt_id === 'remote-1').map((e) => e.type);
    assert.ok(types.includes('executed'), types.join());
    assert.equal(types.at(-2), 'execution_success');
    const executed = events.find((e) => e.type === 'executed') as any;
    const image = executed.data.output.images[0];
    assert.ok(fs.existsSync(path.join(local, 'out2', image.subfolder, image.filename)), 'the image was fetched after the reconnect');
    remote.dispose();
  });

  it('spreads prompts over several servers by queue length; every result comes back', async () => {
    const ws2 = makeWorkspace();
    const second = await startServer(ws2);
    try {
      const spread = new SpreadBackend([{ url }, { url: second.url }]);
      await spread.start();
      await spread.configure({ modelsRoots: [], outputDir: path.join(local, 'out3'), inputDir: path.join(local, 'input'), tempDir: path.join(local, 'tmp'), ep: 'cpu', memoryBudgetMB: 0, previews: false });
      const ended = new Map<string, string>();
      const images = new Map<string, string>();
      spread.on('event', (e) => {
        const id = (e.data as any).prompt_id;
        if (e.type === 'execution_success') ended.set(id, 'success');
        if (e.type === 'executed') images.set(id, (e.data.output as any).images[0].filename);
      });
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push((await spread.queue({ prompt: tinyPrompt({ steps: 20, seed: 100 + i }), promptId: `spread-${i}` })).prompt_id);
      await new Promise<void>((resolve) => spread.on('event', () => { if (ids.every((id) => ended.has(id))) resolve(); }));
      const onFirst = Object.keys((await getJson(`${url}/history`)).body).filter((k) => k.startsWith('spread-'));
      const onSecond = Object.keys((await getJson(`${second.url}/history`)).body).filter((k) => k.startsWith('spread-'));
      assert.deepEqual([...onFirst, ...onSecond].sort(), ids.slice().sort(), 'each prompt ran exactly once, on one of the servers');
      assert.ok(onFirst.length >= 2 && onSecond.length >= 2, `both servers worked: ${onFirst.length} + ${onSecond.length}`);
      // Both servers name their first image ComfyUI_00001_.png: the local copies do not overwrite each other.
      assert.equal(new Set(images.values()).size, 6);
      spread.dispose();
    } finally {
      await second.server.close();
      ws2.remove();
    }
  });
});
