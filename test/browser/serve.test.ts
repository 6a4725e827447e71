// A browser page speaking ComfyUI's websocket protocol against `marble serve`, as ComfyUI's own
// frontend does: a socket with a clientId, POST /prompt with that client_id, progress and binary
// preview frames (4-byte type + 4-byte format + image), the end signal `executing {node: null}`,
// the history entry and the image through /view. A page from another site cannot queue.
import assert from 'node:assert/strict';
import { chromium, type Browser } from 'playwright-core';
import type { MarbleServer } from '../../src/server/httpServer';
import { getJson, makeWorkspace, removeBundle, startServer, tinyPrompt, type Workspace } from '../unit/server/harness';

// Pages here are handed to Chromium by page.route, so they have no network address of their own,
// and Chromium's Local Network Access check would then block their loopback requests; it is off
// so the requests reach marble serve, whose own Host/Origin guard is what this test exercises.
function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.MARBLE_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-features=LocalNetworkAccessChecks'],
  });
}

// Runs in the page: the same steps as ComfyUI's frontend api.ts, written against the raw protocol.
const PAGE = `<!doctype html><html><body><script>
window.runJob = async (prompt) => {
  const clientId = 'browser-' + Math.random().toString(16).slice(2);
  const ws = new WebSocket('ws://' + location.host + '/ws?clientId=' + clientId);
  ws.binaryType = 'arraybuffer';
  const messages = [];
  const previews = [];
  let finish;
  const finished = new Promise((r) => (finish = r));
  let promptId;
  ws.onmessage = (ev) => {
    if (typeof ev.data !== 'string') {
      const view = new DataView(ev.data);
      previews.push({ event: view.getUint32(0), format: view.getUint32(4), bytes: ev.data.byteLength - 8, b0: view.getUint8(8), b1: view.getUint8(9) });
      return;
    }
    const m = JSON.parse(ev.data);
    messages.push(m);
    if (m.type === 'executing' && m.data.node === null && m.data.prompt_id === promptId) finish();
  };
  await new Promise((r) => (ws.onopen = r));
  const res = await fetch('/prompt', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ prompt, client_id: clientId }) });
  const queued = await res.json();
  promptId = queued.prompt_id;
  // The job may have ended before this answer was read.
  if (messages.some((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === promptId)) finish();
  await finished;
  const history = await (await fetch('/history/' + promptId)).json();
  const image = history[promptId].outputs['9'].images[0];
  const blob = await (await fetch('/view?' + new URLSearchParams({ filename: image.filename, subfolder: image.subfolder, type: image.type }))).blob();
  const bitmap = await createImageBitmap(blob);
  ws.close();
  return { clientId, status: res.status, queued, types: messages.map((m) => m.type), sid: messages[0].data.sid, previews, history: history[promptId].status, size: [bitmap.width, bitmap.height] };
};
window.tryCrossSite = async (target, prompt) => {
  let post = 'sent';
  try {
    await fetch(target + '/prompt', { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify({ prompt }) });
  } catch (e) { post = 'blocked by the browser'; }
  const ws = await new Promise((resolve) => {
    const s = new WebSocket(target.replace('http', 'ws') + '/ws');
    s.onopen = () => resolve('open');
    s.onerror = () => resolve('refused');
  });
  return { post, ws };
};
</script></body></html>`;

describe('browser page on ComfyUI\'s websocket protocol against marble serve', function () {
  this.timeout(120_000);
  let ws: Workspace;
  let server: MarbleServer;
  let url: string;
  let browser: Browser;
  const logged: string[] = [];

  before(async () => {
    ws = makeWorkspace();
    ({ server, url } = await startServer(ws, { log: (line) => logged.push(line) }));
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    ws?.remove();
    removeBundle();
  });

  it('queues a job, follows it over the websocket with previews, reads history and the image', async () => {
    const page = await browser.newPage();
    // The page is served from the server's own origin (as ComfyUI serves its frontend).
    await page.route(`${url}/page.html`, (route) => route.fulfill({ contentType: 'text/html', body: PAGE }));
    await page.goto(`${url}/page.html`);
    const r = await page.evaluate((prompt) => (window as any).runJob(prompt), tinyPrompt({ steps: 3 }) as unknown);
    assert.equal(r.status, 200);
    assert.deepEqual(r.queued.node_errors, {});
    assert.equal(r.sid, r.clientId);
    assert.equal(r.types[0], 'status');
    assert.deepEqual(r.types.filter((t: string) => t !== 'status' && t !== 'progress' && t !== 'executing' && t !== 'executed'), ['execution_start', 'execution_cached', 'execution_success']);
    assert.equal(r.types.filter((t: string) => t === 'progress').length, 3);
    assert.equal(r.types.at(-1), 'executing');
    assert.ok(r.previews.length >= 1);
    for (const p of r.previews) {
      assert.equal(p.event, 1, 'type 1 = PREVIEW_IMAGE');
      assert.ok((p.format === 1 && p.b0 === 0xff && p.b1 === 0xd8) || (p.format === 2 && p.b0 === 0x89 && p.b1 === 0x50), `format ${p.format} matches its bytes`);
    }
    assert.equal(r.history.status_str, 'success');
    assert.deepEqual(r.size, [64, 64]);
    await page.close();
  });

  it('a page from another site can neither queue a prompt nor open the websocket', async () => {
    const page = await browser.newPage();
    await page.route('http://evil.example/page.html', (route) => route.fulfill({ contentType: 'text/html', body: PAGE }));
    await page.goto('http://evil.example/page.html');
    const before = Object.keys((await getJson(`${url}/history`)).body).length;
    const r = await page.evaluate(([target, prompt]) => (window as any).tryCrossSite(target, prompt), [url, tinyPrompt({ seed: 5 })] as unknown[]);
    assert.equal(r.ws, 'refused');
    // The server itself refused both (the browser did not block them first).
    assert.ok(logged.some((l) => /^refused POST \/prompt: cross-origin request refused: Origin 'http:\/\/evil.example'/.test(l)), logged.join('\n'));
    assert.ok(logged.some((l) => /^refused websocket: cross-origin request refused/.test(l)), logged.join('\n'));
    const q = (await getJson(`${url}/queue`)).body;
    assert.equal(q.queue_pending.length + q.queue_running.length, 0, `nothing queued (browser said: ${r.post})`);
    assert.equal(Object.keys((await getJson(`${url}/history`)).body).length, before);
    await page.close();
  });
});
