// Who may talk to a local server. Two browser attacks matter for a server on 127.0.0.1:
//  - DNS rebinding: a page on evil.example re-points its name to 127.0.0.1 and then reads our
//    answers as same-origin. Its requests carry `Host: evil.example`, so only Host names we
//    serve under are accepted (loopback names and IPs, the listen address, --allow-host names;
//    any IP literal when listening on all interfaces).
//  - Cross-site requests: a page elsewhere POSTs to http://127.0.0.1:8188/prompt (no preflight
//    for a "simple" request) or opens our websocket. Browsers send `Origin` on those, so a
//    request with an Origin must come from the origin it is addressed to (Origin host:port ==
//    Host) or from an --allow-origin. Non-browser clients send no Origin and are not affected.
// ComfyUI's own check (server.py origin_only_middleware) compares Origin with Host only when the
// Host is a loopback name, which stops the cross-site POST but not DNS rebinding (Host and Origin
// are then both evil.example); this guard checks both, on every method and on the websocket.
import { isIP } from 'node:net';
import * as os from 'node:os';

export interface GuardOptions {
  /** The --listen address. */
  listen: string;
  port: number;
  allowHosts?: string[];
  allowOrigins?: string[];
}

export type GuardVerdict = { ok: true } | { ok: false; reason: string };

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback']);

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (LOOPBACK_NAMES.has(h) || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h);
  return false;
}

export function isAllInterfaces(listen: string): boolean {
  return listen === '0.0.0.0' || listen === '::' || listen === '[::]';
}

/** `host[:port]` → lower-case host name without brackets, or undefined when unparsable. */
function hostOf(hostHeader: string): { host: string; port?: string } | undefined {
  try {
    const u = new URL(`http://${hostHeader}`);
    if (u.username || u.password || u.pathname !== '/') return undefined;
    return { host: u.hostname.toLowerCase().replace(/^\[|\]$/g, ''), port: u.port || undefined };
  } catch {
    return undefined;
  }
}

export class RequestGuard {
  private readonly allowHosts: Set<string>;
  private readonly allowOrigins: Set<string>;

  constructor(private readonly opts: GuardOptions) {
    this.allowHosts = new Set((opts.allowHosts ?? []).map((h) => h.toLowerCase()));
    const listen = opts.listen.toLowerCase().replace(/^\[|\]$/g, '');
    if (!isAllInterfaces(opts.listen)) this.allowHosts.add(listen);
    else {
      const name = os.hostname().toLowerCase();
      this.allowHosts.add(name);
      this.allowHosts.add(`${name}.local`);
    }
    this.allowOrigins = new Set((opts.allowOrigins ?? []).map((o) => o.toLowerCase().replace(/\/$/, '')));
  }

  private hostAllowed(host: string): boolean {
    if (isLoopbackHost(host) || this.allowHosts.has(host)) return true;
    return isAllInterfaces(this.opts.listen) && isIP(host) !== 0;
  }

  check(headers: { host?: string; origin?: string }): GuardVerdict {
    const hostHeader = headers.host;
    if (!hostHeader) return { ok: false, reason: 'the request has no Host header' };
    const host = hostOf(hostHeader);
    if (!host) return { ok: false, reason: `unreadable Host header '${hostHeader}'` };
    if (!this.hostAllowed(host.host)) {
      return { ok: false, reason: `Host '${hostHeader}' is not a name this server answers to (DNS rebinding guard; add it with --allow-host)` };
    }
    const origin = headers.origin;
    if (origin === undefined) return { ok: true };
    const o = origin.toLowerCase().replace(/\/$/, '');
    if (this.allowOrigins.has('*') || this.allowOrigins.has(o)) return { ok: true };
    let parsed: URL;
    try {
      parsed = new URL(o);
    } catch {
      return { ok: false, reason: `cross-origin request refused: Origin '${origin}' (allow it with --allow-origin)` };
    }
    const originHost = parsed.hostname.replace(/^\[|\]$/g, '');
    const originPort = parsed.port || (parsed.protocol === 'https:' ? '443' : '80');
    const hostPort = host.port ?? '80';
    if ((parsed.protocol === 'http:' || parsed.protocol === 'https:') && originHost === host.host && originPort === hostPort) return { ok: true };
    return { ok: false, reason: `cross-origin request refused: Origin '${origin}' is not ${hostHeader} (allow it with --allow-origin)` };
  }
}
