// One HTTP(S) GET with redirects followed by hand (so every hop goes through the same proxy and
// the final URL is known) and an optional proxy: absolute-form requests for http:// targets, a
// CONNECT tunnel for https:// ones. Built on node:http/https so no dependency is needed (Node 20's
// fetch has no proxy support without the undici package).
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP, type Socket } from 'node:net';
import * as tls from 'node:tls';

export interface ProxySettings {
  /** http://[user:pass@]host:port; undefined = no proxy. */
  url?: string;
  /** Hosts that bypass the proxy (`example.com` also matches `a.example.com`; `*` = all). */
  noProxy?: string[];
  /** Verify TLS certificates (VS Code's `http.proxyStrictSSL`); default true. */
  strictSSL?: boolean;
}

export interface GetOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  proxy?: ProxySettings;
  maxRedirects?: number;
}

export interface GetResult {
  response: http.IncomingMessage;
  /** The URL that answered, after redirects. */
  finalUrl: URL;
  redirects: number;
}

/** The proxy settings a command-line process gets from its environment (HTTPS_PROXY, NO_PROXY, …). */
export function proxyFromEnv(target: string, env: NodeJS.ProcessEnv = process.env): ProxySettings {
  const isHttps = target.startsWith('https:');
  const url = (isHttps ? env.HTTPS_PROXY ?? env.https_proxy : env.HTTP_PROXY ?? env.http_proxy) ?? env.ALL_PROXY ?? env.all_proxy;
  const noProxy = (env.NO_PROXY ?? env.no_proxy ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return { url: url || undefined, noProxy };
}

function bypasses(host: string, noProxy: string[] = []): boolean {
  const h = host.toLowerCase();
  return noProxy.some((raw) => {
    const n = raw.toLowerCase().replace(/^\*?\./, '').replace(/:\d+$/, '');
    return n === '*' || h === n || h.endsWith(`.${n}`);
  });
}

function proxyAuth(proxy: URL): Record<string, string> {
  if (!proxy.username) return {};
  const creds = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(creds).toString('base64')}` };
}

function defaultPort(u: URL): number {
  return Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
}

/** Opens a CONNECT tunnel through `proxy` to host:port. */
function connectTunnel(proxy: URL, host: string, port: number, signal?: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const mod = proxy.protocol === 'https:' ? https : http;
    const req = mod.request({
      host: proxy.hostname, port: defaultPort(proxy), method: 'CONNECT', path: `${host}:${port}`,
      headers: { host: `${host}:${port}`, ...proxyAuth(proxy) }, signal,
    });
    req.once('connect', (res, socket) => {
      if (res.statusCode === 200) resolve(socket);
      else {
        socket.destroy();
        reject(new Error(`the proxy ${proxy.host} refused a tunnel to ${host}:${port} (HTTP ${res.statusCode})`));
      }
    });
    req.once('error', (e) => reject(new Error(`could not reach the proxy ${proxy.host}: ${e.message}`)));
    req.end();
  });
}

function requestOnce(url: URL, opts: GetOptions): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const proxyUrl = opts.proxy?.url && !bypasses(url.hostname, opts.proxy.noProxy) ? new URL(opts.proxy.url) : undefined;
    const rejectUnauthorized = opts.proxy?.strictSSL !== false;
    const headers = { 'user-agent': 'marble-diffusion', ...opts.headers };
    let req: http.ClientRequest;
    if (proxyUrl && url.protocol === 'http:') {
      // Absolute-form request to the proxy itself.
      req = (proxyUrl.protocol === 'https:' ? https : http).request({
        host: proxyUrl.hostname, port: defaultPort(proxyUrl), method: 'GET', path: url.href,
        headers: { ...headers, host: url.host, ...proxyAuth(proxyUrl) }, signal: opts.signal,
      });
    } else if (proxyUrl) {
      // No agent: with one (even `agent: false`, which makes a new one) createConnection is ignored.
      req = https.request(url, {
        method: 'GET', headers, signal: opts.signal, rejectUnauthorized,
        createConnection: ((_o: unknown, cb: (err: Error | null, s?: Socket) => void) => {
          connectTunnel(proxyUrl, url.hostname, defaultPort(url), opts.signal).then(
            // SNI takes host names only, never IP addresses (RFC 6066).
            (socket) => cb(null, tls.connect({ socket, servername: isIP(url.hostname) ? undefined : url.hostname, rejectUnauthorized })),
            (e: Error) => cb(e),
          );
          return undefined;
        }) as unknown as https.RequestOptions['createConnection'],
      });
    } else {
      req = (url.protocol === 'https:' ? https : http).request(url, { method: 'GET', headers, signal: opts.signal, rejectUnauthorized });
    }
    req.once('response', resolve);
    req.once('error', reject);
    req.end();
  });
}

/** GETs `url`, following up to `maxRedirects` (default 10) redirects. */
export async function httpGet(url: string | URL, opts: GetOptions = {}): Promise<GetResult> {
  let current = new URL(url);
  const max = opts.maxRedirects ?? 10;
  for (let redirects = 0; ; redirects++) {
    if (current.protocol !== 'http:' && current.protocol !== 'https:') {
      throw new Error(`cannot download from ${current.href}: only http and https URLs are supported`);
    }
    const response = await requestOnce(current, opts);
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if ([301, 302, 303, 307, 308].includes(status) && location) {
      response.resume();
      if (redirects >= max) throw new Error(`too many redirects (more than ${max}) starting at ${new URL(url).href}`);
      current = new URL(location, current);
      continue;
    }
    return { response, finalUrl: current, redirects };
  }
}
