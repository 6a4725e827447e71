// A local HTTP server on 127.0.0.1 for the download tests: serves byte buffers with ETag and
// Range support, and lets each test add routes that misbehave (redirect, cut the body short,
// answer slowly, lie about ranges). Every request is recorded so tests can assert on headers.
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface TestServer {
  url(path: string): string;
  route(path: string, handler: Handler): void;
  requests: { path: string; headers: http.IncomingHttpHeaders }[];
  close(): Promise<void>;
}

export async function startServer(): Promise<TestServer> {
  const routes = new Map<string, Handler>();
  const requests: TestServer['requests'] = [];
  const server = http.createServer((req, res) => {
    requests.push({ path: req.url ?? '', headers: req.headers });
    const h = routes.get((req.url ?? '').split('?')[0]!);
    if (h) h(req, res);
    else { res.statusCode = 404; res.end('not found'); }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (p) => `http://127.0.0.1:${port}${p}`,
    route: (p, h) => void routes.set(p, h),
    requests,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

export const etagOf = (body: Buffer) => `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;

/** Serves `body` like a CDN: ETag, Content-Length, Range/If-Range → 206 or 416. */
export function serveBytes(body: Buffer, extra: Record<string, string> = {}): Handler {
  const etag = etagOf(body);
  return (req, res) => {
    res.setHeader('etag', etag);
    res.setHeader('accept-ranges', 'bytes');
    for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    if (range && (!ifRange || ifRange === etag)) {
      const start = Number(range[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` });
        res.end();
        return;
      }
      res.writeHead(206, { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}`, 'content-length': body.length - start });
      res.end(body.subarray(start));
      return;
    }
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  };
}

/** A well-formed .safetensors file of about `bytes` bytes (one F32 tensor), deterministic content. */
export function safetensorsBytes(floats: number, seed = 1): Buffer {
  const header = Buffer.from(JSON.stringify({ __metadata__: { format: 'pt' }, w: { dtype: 'F32', shape: [floats], data_offsets: [0, floats * 4] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  const data = Buffer.alloc(floats * 4);
  for (let i = 0; i < floats; i++) data.writeFloatLE(((i * 2654435761 + seed) % 1000) / 1000, i * 4);
  return Buffer.concat([len, header, data]);
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
