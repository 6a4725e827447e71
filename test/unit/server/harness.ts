// `marble serve` in-process on 127.0.0.1 (port 0) over the real inference child, bundled from
// the current sources, on a workspace with a generated tiny model; plus a websocket client that
// records every message and waits for states (never for time).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';
import { decodeBinaryFrame, type DecodedBinaryFrame } from '../../../src/protocol/comfyApi';
import { MarbleServer, type MarbleServerOptions } from '../../../src/server/httpServer';
import type { ApiPrompt } from '../../../src/workflow/types';
import { generateModelFolder } from '../../../tools/modelgen/writeModelFolder';
import { bundle, repoRoot } from '../inference/helpers';

export { repoRoot };
export const CKPT = 'v1-5-pruned-emaonly-fp16';

let entry: Promise<string> | undefined;
const buildDir = path.join(repoRoot, 'node_modules', '.cache', 'marble-tests', `server-${process.pid}`);

export function inferenceEntry(): Promise<string> {
  entry ??= (async () => {
    fs.mkdirSync(buildDir, { recursive: true });
    return bundle(path.join(repoRoot, 'src/inference/main.ts'), buildDir);
  })();
  return entry;
}

export function removeBundle(): void {
  fs.rmSync(buildDir, { recursive: true, force: true });
  entry = undefined;
}

export interface Workspace {
  base: string;
  models: string;
  input: string;
  output: string;
  temp: string;
  remove(): void;
}

export function makeWorkspace(): Workspace {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'marble-serve-'));
  const models = path.join(base, 'models');
  generateModelFolder(path.join(models, 'checkpoints', CKPT), { size: 'tiny', variant: 'fp32', seed: 1 });
  const ws = { base, models, input: path.join(base, 'input'), output: path.join(base, 'output'), temp: path.join(base, 'temp') };
  for (const d of [ws.input, ws.output, ws.temp]) fs.mkdirSync(d, { recursive: true });
  return { ...ws, remove: () => fs.rmSync(base, { recursive: true, force: true }) };
}

export async function startServer(ws: Workspace, extra: Partial<MarbleServerOptions> = {}): Promise<{ server: MarbleServer; url: string; port: number }> {
  const server = new MarbleServer({
    listen: '127.0.0.1',
    port: 0,
    entry: await inferenceEntry(),
    engine: { modelsRoots: [ws.models], outputDir: ws.output, inputDir: ws.input, tempDir: ws.temp, ep: 'cpu', memoryBudgetMB: 0, previews: true },
    version: '0.1.0-test',
    ...extra,
  });
  const { port } = await server.start();
  return { server, url: `http://127.0.0.1:${port}`, port };
}

/** ComfyUI's default API prompt, shrunk so a run takes well under a second on the tiny model. */
export function tinyPrompt(opts: { steps?: number; seed?: number; prefix?: string; size?: number } = {}): ApiPrompt {
  const p = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test/fixtures/workflow/default_prompt_api.json'), 'utf8')) as ApiPrompt;
  p['3'].inputs.steps = opts.steps ?? 3;
  p['3'].inputs.seed = opts.seed ?? 1;
  p['5'].inputs.width = opts.size ?? 64;
  p['5'].inputs.height = opts.size ?? 64;
  if (opts.prefix) p['9'].inputs.filename_prefix = opts.prefix;
  return p;
}

export type WsMessage = { type: string; data: Record<string, unknown> };
export type Received = { text: WsMessage } | { binary: DecodedBinaryFrame; raw: Buffer };

/** A websocket client that records everything and waits for a matching message. */
export class WsRecorder {
  readonly received: Received[] = [];
  private waiters: { pred: (r: Received) => boolean; resolve: (r: Received) => void; from: number }[] = [];
  closed = false;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data, isBinary) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      const r: Received = isBinary ? { binary: decodeBinaryFrame(buf), raw: buf } : { text: JSON.parse(buf.toString('utf8')) };
      this.received.push(r);
      for (const w of [...this.waiters]) {
        if (w.pred(r)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(r);
        }
      }
    });
    socket.on('close', () => { this.closed = true; });
  }

  static open(url: string, clientId?: string, headers: Record<string, string> = {}): Promise<WsRecorder> {
    const wsUrl = `${url.replace(/^http/, 'ws')}/ws${clientId ? `?clientId=${encodeURIComponent(clientId)}` : ''}`;
    const socket = new WebSocket(wsUrl, { headers });
    const rec = new WsRecorder(socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(rec));
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => reject(new Error(`websocket refused with ${res.statusCode}`)));
    });
  }

  get texts(): WsMessage[] {
    return this.received.flatMap((r) => ('text' in r ? [r.text] : []));
  }

  /** Resolves with the first message (already received or future) matching `pred`. */
  waitFor(pred: (m: WsMessage) => boolean, what = 'message', timeoutMs = 60_000): Promise<WsMessage> {
    const hit = this.texts.find(pred);
    if (hit) return Promise.resolve(hit);
    return this.waitForAny((r) => 'text' in r && pred(r.text), what, timeoutMs).then((r) => (r as { text: WsMessage }).text);
  }

  waitForAny(pred: (r: Received) => boolean, what: string, timeoutMs = 60_000): Promise<Received> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(this.texts.map((t) => t.type))}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (r) => { clearTimeout(timer); resolve(r); }, from: this.received.length });
    });
  }

  /** `executing {node: null}` for the prompt: ComfyUI's last message of a job. */
  done(promptId: string, timeoutMs?: number): Promise<WsMessage> {
    return this.waitFor((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === promptId, `end of ${promptId}`, timeoutMs);
  }

  forPrompt(promptId: string): WsMessage[] {
    return this.texts.filter((m) => m.data?.prompt_id === promptId);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
