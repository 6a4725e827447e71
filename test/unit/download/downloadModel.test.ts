// downloadModel against a local HTTP server (never the internet): complete downloads, range
// resume after a cut connection, redirects with Content-Disposition names, 404/401/416, a wrong
// hash, a slow server cancelled through its AbortSignal, the free-space check, a proxy, and
// files that only pretend to be models. After every failure no file with a model's name exists.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DownloadError, downloadModel, fileNameFromContentDisposition, partialPaths, safeModelFileName, type DownloadProgress,
} from '../../../src/download/downloadModel';
import { checkModelFile } from '../../../src/download/modelFileCheck';
import { proxyFromEnv } from '../../../src/download/httpGet';
import { etagOf, safetensorsBytes, serveBytes, sha256, startServer, type TestServer } from './server';

const BODY = safetensorsBytes(64 * 1024); // ~256 KiB
const plentyOfSpace = async () => ({ bavail: 1n << 40n, bsize: 1 });

async function rejectsWith(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<DownloadError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof DownloadError, `expected a DownloadError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (pattern) assert.match(err.message, pattern);
  return err;
}

/** Files in the folder that look like finished models (anything but .partial and its sidecar). */
function modelFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => !/\.partial(\.json)?$/.test(f)) : [];
}

describe('downloadModel (local HTTP server)', function () {
  this.timeout(20000);
  let server: TestServer;
  let dir: string;
  let folder: string;

  beforeEach(async () => {
    server = await startServer();
    dir = mkdtempSync(path.join(os.tmpdir(), 'marble-dl-'));
    folder = path.join(dir, 'models', 'checkpoints');
  });
  afterEach(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('downloads, verifies the SHA-256 and renames into the folder, reporting progress', async () => {
    server.route('/m.safetensors', serveBytes(BODY));
    const seen: DownloadProgress[] = [];
    const r = await downloadModel({
      url: server.url('/m.safetensors'), folder, sha256: sha256(BODY), expectedBytes: BODY.length,
      statfs: plentyOfSpace, onProgress: (p) => seen.push(p), progressIntervalMs: 0,
    });
    assert.equal(r.path, path.join(folder, 'm.safetensors'));
    assert.ok(readFileSync(r.path).equals(BODY));
    assert.equal(r.verifiedSha256, true);
    assert.equal(r.resumedFrom, 0);
    assert.deepEqual(readdirSync(folder), ['m.safetensors'], 'no .partial or sidecar left');
    assert.ok(seen.length >= 1);
    assert.equal(seen.at(-1)!.received, BODY.length);
    assert.equal(seen.at(-1)!.total, BODY.length);
    assert.ok(seen.every((p, i) => i === 0 || p.received >= seen[i - 1]!.received));
  });

  it('resumes a cut download with a Range request and If-Range', async () => {
    const half = 100_000;
    const ranges: { range?: string; ifRange?: string }[] = [];
    server.route('/big.safetensors', (req, res) => {
      ranges.push({ range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined });
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (!m) {
        // Announce everything, send part, then drop the connection.
        res.writeHead(200, { 'content-length': BODY.length, etag: '"v1"' });
        res.write(BODY.subarray(0, half), () => res.destroy());
        return;
      }
      const from = Number(m[1]);
      res.writeHead(206, { etag: '"v1"', 'content-range': `bytes ${from}-${BODY.length - 1}/${BODY.length}`, 'content-length': BODY.length - from });
      res.end(BODY.subarray(from));
    });
    const url = server.url('/big.safetensors');
    await rejectsWith(downloadModel({ url, folder, statfs: plentyOfSpace }), 'truncated', /run it again to resume/);
    const { partial, sidecar } = partialPaths(folder, url);
    const kept = statSync(partial).size;
    assert.ok(kept > 0 && kept <= half, `the bytes received so far are kept (${kept})`);
    assert.ok(BODY.subarray(0, kept).equals(readFileSync(partial)));
    assert.ok(existsSync(sidecar));
    assert.deepEqual(modelFiles(folder), [], 'nothing with a model name after the cut');

    const r = await downloadModel({ url, folder, sha256: sha256(BODY), statfs: plentyOfSpace });
    assert.equal(r.resumedFrom, kept);
    assert.ok(readFileSync(r.path).equals(BODY));
    assert.deepEqual(ranges, [{ range: undefined, ifRange: undefined }, { range: `bytes=${kept}-`, ifRange: '"v1"' }]);
    assert.deepEqual(readdirSync(folder), ['big.safetensors']);
  });

  it('follows redirects and takes the name from Content-Disposition (inside the folder only)', async () => {
    server.route('/api/download/models/123', (_req, res) => { res.writeHead(302, { location: '/cdn/step' }); res.end(); });
    server.route('/cdn/step', (_req, res) => { res.writeHead(307, { location: server.url('/cdn/blob') }); res.end(); });
    server.route('/cdn/blob', serveBytes(BODY, { 'content-disposition': `attachment; filename*=UTF-8''..%2F..%2Fmy%20model.safetensors; filename="x.safetensors"` }));
    const r = await downloadModel({ url: server.url('/api/download/models/123'), folder, statfs: plentyOfSpace });
    assert.equal(r.path, path.join(folder, 'my model.safetensors'));
    assert.deepEqual(readdirSync(folder), ['my model.safetensors']);
    assert.deepEqual(readdirSync(dir), ['models'], 'nothing written outside the folder');
  });

  it('404 and 401 fail with the status and a hint, leaving nothing', async () => {
    await rejectsWith(downloadModel({ url: server.url('/missing.safetensors'), folder, statfs: plentyOfSpace }), 'http', /HTTP 404 for .*missing\.safetensors \(check the URL\)/);
    server.route('/gated.safetensors', (_req, res) => { res.statusCode = 401; res.end(); });
    await rejectsWith(downloadModel({ url: server.url('/gated.safetensors'), folder, statfs: plentyOfSpace }), 'http', /HTTP 401 .*login or accepting a licence/);
    assert.deepEqual(readdirSync(folder), []);
  });

  it('416 on resume: a partial that no longer fits is discarded and the file fetched again', async () => {
    server.route('/m.safetensors', serveBytes(BODY));
    const url = server.url('/m.safetensors');
    const { partial, sidecar } = partialPaths(folder, url);
    mkdirSync(folder, { recursive: true });
    writeFileSync(partial, Buffer.alloc(BODY.length + 10)); // longer than the file: the server says 416
    writeFileSync(sidecar, JSON.stringify({ url, etag: etagOf(BODY), fileName: 'm.safetensors' }));
    const r = await downloadModel({ url, folder, sha256: sha256(BODY), statfs: plentyOfSpace });
    assert.equal(r.resumedFrom, 0);
    assert.ok(readFileSync(r.path).equals(BODY));
    assert.deepEqual(server.requests.map((q) => q.headers.range), [`bytes=${BODY.length + 10}-`, undefined]);
  });

  it('416 for a partial that is already complete only verifies and renames it', async () => {
    server.route('/m.safetensors', serveBytes(BODY));
    const url = server.url('/m.safetensors');
    const { partial, sidecar } = partialPaths(folder, url);
    mkdirSync(folder, { recursive: true });
    writeFileSync(partial, BODY);
    writeFileSync(sidecar, JSON.stringify({ url, etag: etagOf(BODY), fileName: 'm.safetensors' }));
    const r = await downloadModel({ url, folder, sha256: sha256(BODY), statfs: plentyOfSpace });
    assert.equal(r.resumedFrom, BODY.length);
    assert.deepEqual(readdirSync(folder), ['m.safetensors']);
  });

  it('a body shorter than its Content-Length is reported as truncated, not saved', async () => {
    server.route('/short.safetensors', (_req, res) => {
      res.writeHead(200, { 'content-length': BODY.length, etag: '"s"' });
      res.end(BODY.subarray(0, 1000));
      res.socket?.destroy();
    });
    await rejectsWith(downloadModel({ url: server.url('/short.safetensors'), folder, statfs: plentyOfSpace }), 'truncated');
    assert.deepEqual(modelFiles(folder), []);
  });

  it('a wrong SHA-256 deletes the download', async () => {
    server.route('/m.safetensors', serveBytes(BODY));
    const url = server.url('/m.safetensors');
    await rejectsWith(downloadModel({ url, folder, sha256: 'ab'.repeat(32), statfs: plentyOfSpace }), 'hash', /does not match the expected abab/);
    assert.deepEqual(readdirSync(folder), [], 'neither the file nor its .partial remain');
  });

  it('a slow download is cancelled through its AbortSignal; the partial stays for a resume', async () => {
    server.route('/slow.safetensors', (_req, res) => {
      res.writeHead(200, { 'content-length': BODY.length, etag: '"slow"' });
      let sent = 0;
      const tick = setInterval(() => {
        if (res.destroyed || sent >= BODY.length) { clearInterval(tick); return; }
        res.write(BODY.subarray(sent, sent + 1024));
        sent += 1024;
      }, 20);
      res.on('close', () => clearInterval(tick));
    });
    const ac = new AbortController();
    const url = server.url('/slow.safetensors');
    const err = await rejectsWith(downloadModel({
      url, folder, statfs: plentyOfSpace, signal: ac.signal, progressIntervalMs: 0,
      onProgress: (p) => { if (p.received >= 2048) ac.abort(); },
    }), 'cancelled', /run it again to resume/);
    assert.ok(err);
    assert.deepEqual(modelFiles(folder), []);
    assert.ok(statSync(partialPaths(folder, url).partial).size >= 2048);
  });

  it('refuses to start without enough free space (statfs injected), before reading the body', async () => {
    server.route('/m.safetensors', serveBytes(BODY));
    const asked: string[] = [];
    await rejectsWith(downloadModel({
      url: server.url('/m.safetensors'), folder,
      statfs: async (d) => { asked.push(d); return { bavail: 10, bsize: 4096 }; },
    }), 'no-space', /not enough free space in .*checkpoints for m\.safetensors: it needs 0\.3 MB more, 0\.0 MB are free/);
    assert.deepEqual(asked, [folder]);
    assert.deepEqual(readdirSync(folder), []);
  });

  it('files that are not what their name says are deleted: HTML pages, broken safetensors headers', async () => {
    server.route('/login.safetensors', (_req, res) => { res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }); res.end('<!DOCTYPE html><p>log in</p>'); });
    await rejectsWith(downloadModel({ url: server.url('/login.safetensors'), folder, statfs: plentyOfSpace }), 'bad-file', /HTML page/);
    const broken = Buffer.from(BODY);
    broken.writeBigUInt64LE(BigInt(BODY.length * 4), 0);
    server.route('/broken.safetensors', serveBytes(broken));
    await rejectsWith(downloadModel({ url: server.url('/broken.safetensors'), folder, statfs: plentyOfSpace }), 'bad-file', /header length .* does not fit/);
    server.route('/tool.exe', serveBytes(BODY));
    await rejectsWith(downloadModel({ url: server.url('/tool.exe'), folder, statfs: plentyOfSpace }), 'bad-name', /'tool\.exe' is not a model file/);
    assert.deepEqual(readdirSync(folder), []);
  });

  it('an existing file is never overwritten unless asked', async () => {
    server.route('/m.safetensors', serveBytes(BODY));
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'm.safetensors'), 'mine');
    await rejectsWith(downloadModel({ url: server.url('/m.safetensors'), folder, statfs: plentyOfSpace }), 'exists');
    assert.equal(readFileSync(path.join(folder, 'm.safetensors'), 'utf8'), 'mine');
  });

  it('goes through an HTTP proxy (absolute-form request) and honours NO_PROXY', async () => {
    server.route('/m.safetensors', serveBytes(BODY));
    const seen: string[] = [];
    const proxy = http.createServer((req, res) => {
      seen.push(req.url ?? '');
      const up = http.request(req.url!, { method: req.method, headers: req.headers }, (u) => { res.writeHead(u.statusCode!, u.headers); u.pipe(res); });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const url = server.url('/m.safetensors');
      const r = await downloadModel({ url, folder, statfs: plentyOfSpace, proxy: { url: proxyUrl } });
      assert.ok(readFileSync(r.path).equals(BODY));
      assert.deepEqual(seen, [url]);
      rmSync(r.path);
      await downloadModel({ url, folder, statfs: plentyOfSpace, proxy: { url: proxyUrl, noProxy: ['127.0.0.1'] } });
      assert.equal(seen.length, 1, 'NO_PROXY hosts bypass the proxy');
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });

  it('reaches an https server through a CONNECT tunnel; certificates are verified unless strictSSL is off', async () => {
    const tlsDir = path.join(__dirname, '../../fixtures/tls');
    const secure = https.createServer({ cert: readFileSync(path.join(tlsDir, 'localhost-cert.pem')), key: readFileSync(path.join(tlsDir, 'localhost-key.pem')) }, serveBytes(BODY));
    const tunnels: string[] = [];
    // Tunnelled sockets leave the HTTP server's books: closing it would wait for them forever.
    const open = new Set<net.Socket>();
    const proxy = http.createServer((_req, res) => { res.statusCode = 405; res.end(); });
    proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
      tunnels.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      open.add(client);
      const up = net.connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        up.write(head);
        up.pipe(client);
        client.pipe(up);
      });
      open.add(up);
      up.on('error', () => client.destroy());
      client.on('error', () => up.destroy());
    });
    await new Promise<void>((r) => secure.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const target = `127.0.0.1:${(secure.address() as AddressInfo).port}`;
      const url = `https://${target}/m.safetensors`;
      const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      await rejectsWith(downloadModel({ url, folder, statfs: plentyOfSpace, proxy: { url: proxyUrl } }), 'network', /self[- ]signed certificate/);
      const r = await downloadModel({ url, folder, statfs: plentyOfSpace, sha256: sha256(BODY), proxy: { url: proxyUrl, strictSSL: false } });
      assert.ok(readFileSync(r.path).equals(BODY));
      assert.deepEqual(tunnels, [target, target]);
    } finally {
      for (const sock of open) sock.destroy();
      for (const s of [secure, proxy]) { s.closeAllConnections(); await new Promise<void>((r) => s.close(() => r())); }
    }
  });
});

describe('download helpers', () => {
  it('parses Content-Disposition names', () => {
    assert.equal(fileNameFromContentDisposition('attachment; filename="a b.safetensors"'), 'a b.safetensors');
    assert.equal(fileNameFromContentDisposition("attachment; filename*=UTF-8''%C3%A9t%C3%A9.safetensors"), 'été.safetensors');
    assert.equal(fileNameFromContentDisposition('attachment; filename=plain.ckpt; size=3'), 'plain.ckpt');
    assert.equal(fileNameFromContentDisposition(undefined), undefined);
  });

  it('keeps names inside the folder and refuses hidden or non-model names', () => {
    assert.equal(safeModelFileName('../../x.safetensors'), 'x.safetensors');
    assert.equal(safeModelFileName('C:\\evil\\y.ckpt'), 'y.ckpt');
    assert.throws(() => safeModelFileName('.hidden.safetensors'), /not a usable file name/);
    assert.throws(() => safeModelFileName('notes.txt'), /not a model file/);
  });

  it('reads the proxy from the environment like other command-line tools', () => {
    assert.deepEqual(proxyFromEnv('https://huggingface.co/x', { HTTPS_PROXY: 'http://p:3128', NO_PROXY: 'localhost, .corp' }), { url: 'http://p:3128', noProxy: ['localhost', '.corp'] });
    assert.equal(proxyFromEnv('http://example.com/x', { HTTPS_PROXY: 'http://p:3128' }).url, undefined);
  });

  it('checks safetensors tensor offsets against the file size', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'marble-dlc-'));
    try {
      const good = path.join(dir, 'g.safetensors');
      writeFileSync(good, safetensorsBytes(16));
      assert.equal(await checkModelFile(good), undefined);
      const cut = path.join(dir, 'c.safetensors');
      writeFileSync(cut, safetensorsBytes(16).subarray(0, -8));
      assert.match((await checkModelFile(cut))!, /tensor 'w' has a bad entry/);
      const ckpt = path.join(dir, 'm.ckpt');
      writeFileSync(ckpt, Buffer.from('PK\x03\x04rest', 'latin1'));
      assert.equal(await checkModelFile(ckpt), undefined);
      writeFileSync(ckpt, 'hello');
      assert.match((await checkModelFile(ckpt))!, /neither a PyTorch zip archive nor a pickle/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
