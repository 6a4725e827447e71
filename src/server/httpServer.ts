// `marble serve`: ComfyUI's HTTP + WebSocket API on node:http, over one inference child.
// Wires the parts: the request guard (Host/Origin), routes (under `/` and `/api`), the websocket
// hub, the server-side prompt queue and the runner that feeds the engine one prompt at a time.
// Timeouts bound how long a slow client may hold a request; the queue never waits on a client.
import { promises as fsp } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConfigureParams } from '../protocol/inference';
import { Engine } from './engine';
import { HttpError, sendJson } from './http';
import { ServerPromptQueue } from './promptQueue';
import { PromptRunner } from './promptRunner';
import { RequestGuard } from './requestGuard';
import { featureFlags, matchRoute, type RouteContext } from './routes';
import { WsHub } from './wsHub';

export interface MarbleServerOptions {
  listen: string;
  port: number;
  /** dist/inference.js */
  entry: string;
  engine: ConfigureParams;
  maxUploadBytes?: number;
  maxJsonBytes?: number;
  allowHosts?: string[];
  allowOrigins?: string[];
  version?: string;
  argv?: string[];
  log?: (line: string) => void;
  /** Header and whole-request time limits (ms). */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** websocket backpressure thresholds (bytes). */
  wsPreviewDropBytes?: number;
  wsDisconnectBytes?: number;
}

export class MarbleServer {
  readonly engine: Engine;
  readonly queue: ServerPromptQueue;
  readonly hub: WsHub;
  readonly runner: PromptRunner;
  private readonly guard: RequestGuard;
  private readonly http: Server;
  private readonly ctx: RouteContext;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: MarbleServerOptions) {
    this.log = opts.log ?? (() => undefined);
    this.engine = new Engine({ entry: opts.entry, config: opts.engine, log: this.log });
    const maxUploadBytes = opts.maxUploadBytes ?? 100 * 1024 * 1024;
    this.hub = new WsHub({
      status: () => ({ type: 'status', data: { status: { exec_info: { queue_remaining: this.queue.remaining } } } }),
      onConnect: (sid) => this.runner.reconnectMessages(sid),
      featureFlags: { ...featureFlags({ maxUploadBytes }) },
      previewDropBytes: opts.wsPreviewDropBytes,
      disconnectBytes: opts.wsDisconnectBytes,
      log: this.log,
    });
    // Every queue change is broadcast as `status`, as ComfyUI's queue_updated does.
    this.queue = new ServerPromptQueue(() => this.hub.send({ type: 'status', data: { status: { exec_info: { queue_remaining: this.queue.remaining } } } }));
    this.runner = new PromptRunner(this.queue, this.engine, this.hub, this.log);
    this.guard = new RequestGuard({ listen: opts.listen, port: opts.port, allowHosts: opts.allowHosts, allowOrigins: opts.allowOrigins });
    this.ctx = {
      queue: this.queue,
      runner: this.runner,
      engine: this.engine,
      folders: { output: opts.engine.outputDir, input: opts.engine.inputDir, temp: opts.engine.tempDir },
      modelsRoots: opts.engine.modelsRoots,
      maxJsonBytes: opts.maxJsonBytes ?? 16 * 1024 * 1024,
      maxUploadBytes,
      version: opts.version ?? '0.0.0',
      argv: opts.argv ?? [],
      counter: { next: 0 },
    };
    const headersTimeout = opts.headersTimeoutMs ?? 10_000;
    this.http = createServer({
      headersTimeout,
      requestTimeout: opts.requestTimeoutMs ?? 120_000,
      // How often Node checks those limits (its default, 30 s, would let a trickling client stay far longer).
      connectionsCheckingInterval: Math.max(100, Math.min(1000, headersTimeout / 4)),
    }, (req, res) => void this.onRequest(req, res));
    // Above Node's 5 s: with 5 s a busy client reusing a pooled connection raced the server's
    // close and got ECONNRESET (seen in bench/serve.bench.ts); idle sockets are capped below.
    this.http.keepAliveTimeout = opts.keepAliveTimeoutMs ?? 30_000;
    this.http.maxConnections = 1024;
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.http.on('clientError', (_err, socket) => {
      // Also reached on a header timeout: a client that trickles its headers is cut off here.
      const body = '{"error":"bad or too slow HTTP request"}';
      if (socket.writable) socket.end(`HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      else socket.destroy();
    });
  }

  /** Creates the folders, starts the engine and listens; resolves with the bound port. */
  async start(): Promise<{ port: number; address: string }> {
    for (const dir of [this.opts.engine.outputDir, this.opts.engine.inputDir, this.opts.engine.tempDir]) await fsp.mkdir(dir, { recursive: true });
    await this.engine.ready();
    this.runner.start();
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.opts.port, this.opts.listen, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const addr = this.http.address() as AddressInfo;
    return { port: addr.port, address: addr.address };
  }

  async close(): Promise<void> {
    this.hub.close();
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
    await this.runner.close().catch(() => undefined);
    await this.engine.stop();
  }

  private corsHeaders(req: IncomingMessage, res: ServerResponse): void {
    const origin = req.headers.origin;
    const allowed = this.opts.allowOrigins ?? [];
    if (!origin || allowed.length === 0) return;
    if (allowed.includes('*') || allowed.map((o) => o.replace(/\/$/, '').toLowerCase()).includes(origin.toLowerCase())) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Allow-Methods', 'POST, GET, DELETE, PUT, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, Authorization');
    }
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const verdict = this.guard.check(req.headers);
    if (!verdict.ok) {
      this.log(`refused ${req.method} ${req.url}: ${verdict.reason}`);
      req.resume();
      sendJson(res, 403, { error: verdict.reason });
      return;
    }
    this.corsHeaders(req, res);
    if (req.method === 'OPTIONS') {
      sendJson(res, 200, {});
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      sendJson(res, 400, { error: 'unreadable request URL' });
      return;
    }
    const pathname = url.pathname.startsWith('/api/') ? url.pathname.slice(4) : url.pathname === '/api' ? '/' : url.pathname;
    let route;
    try {
      route = matchRoute(req.method ?? 'GET', pathname);
    } catch {
      sendJson(res, 400, { error: 'malformed percent-encoding in the path' });
      return;
    }
    if (route === undefined || route === 'method') {
      req.resume();
      sendJson(res, route === 'method' ? 405 : 404, { error: route === 'method' ? `${req.method} is not allowed on ${pathname}` : `no route ${pathname}` });
      return;
    }
    try {
      const body = await route.handler(this.ctx, req, res, route.params, url.searchParams);
      if (body !== undefined) sendJson(res, 200, body);
    } catch (e) {
      if (e instanceof HttpError) {
        if (e.status === 413) res.setHeader('Connection', 'close');
        sendJson(res, e.status, e.body ?? { error: e.message });
      } else {
        this.log(`${req.method} ${pathname} failed: ${(e as Error)?.stack ?? e}`);
        sendJson(res, 500, { error: (e as Error)?.message ?? String(e) });
      }
    }
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (status: number, message: string) => {
      const body = JSON.stringify({ error: message });
      socket.end(`HTTP/1.1 ${status} ${status === 403 ? 'Forbidden' : 'Not Found'}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    };
    const verdict = this.guard.check(req.headers);
    if (!verdict.ok) {
      this.log(`refused websocket: ${verdict.reason}`);
      refuse(403, verdict.reason);
      return;
    }
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (pathname !== '/ws' && pathname !== '/api/ws') {
      refuse(404, `no websocket at ${pathname}`);
      return;
    }
    this.hub.handleUpgrade(req, socket, head);
  }
}
