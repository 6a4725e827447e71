// The /ws endpoint: one socket per client id (a reconnect with the same id replaces the old
// socket and so takes over its messages), ComfyUI's addressing (a message for a client id goes to
// that socket only, one without goes to all), feature-flag negotiation, and backpressure: a
// socket whose send buffer grows loses previews first and is dropped past a hard limit, so a
// slow reader never holds up the queue or the server's memory.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ServerMessage } from '../protocol/comfyApi';

export interface WsHubOptions {
  /** Sent to a client on connect, after its `status` (the running prompt's current node). */
  onConnect(sid: string): ServerMessage[];
  /** The status a new socket receives (with its sid added). */
  status(): ServerMessage & { type: 'status' };
  featureFlags: Record<string, unknown>;
  /** Above this many buffered bytes a socket gets no previews (default 4 MiB). */
  previewDropBytes?: number;
  /** Above this many buffered bytes a socket is closed (default 32 MiB). */
  disconnectBytes?: number;
  log?: (line: string) => void;
}

interface Client {
  socket: WebSocket;
  /** Advertised supports_preview_metadata: gets type-4 preview frames. */
  previewMetadata: boolean;
}

export class WsHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024, perMessageDeflate: false });
  private readonly clients = new Map<string, Client>();
  droppedPreviews = 0;
  droppedClients = 0;

  constructor(private readonly opts: WsHubOptions) {}

  get size(): number {
    return this.clients.size;
  }

  has(sid: string): boolean {
    return this.clients.has(sid);
  }

  wantsPreviewMetadata(sid: string): boolean {
    return this.clients.get(sid)?.previewMetadata ?? false;
  }

  /** Completes an upgrade the HTTP layer already checked (Host, Origin). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const asked = url.searchParams.get('clientId') ?? '';
    // Ids are echoed into JSON and maps; keep them to printable, bounded strings.
    const sid = asked && /^[\w.:-]{1,128}$/.test(asked) ? asked : randomUUID().replaceAll('-', '');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(sid, ws));
  }

  private attach(sid: string, ws: WebSocket): void {
    const old = this.clients.get(sid);
    if (old) old.socket.close(4000, 'replaced by a newer connection with the same clientId');
    const client: Client = { socket: ws, previewMetadata: false };
    this.clients.set(sid, client);
    ws.on('close', () => {
      if (this.clients.get(sid) === client) this.clients.delete(sid);
    });
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let msg: { type?: unknown; data?: unknown };
      try {
        msg = JSON.parse(String(data));
      } catch {
        return;
      }
      if (msg?.type === 'feature_flags') {
        const flags = (msg.data ?? {}) as Record<string, unknown>;
        client.previewMetadata = flags.supports_preview_metadata === true;
        this.sendTo(client, { type: 'feature_flags', data: this.opts.featureFlags });
      }
    });
    const status = this.opts.status();
    this.sendTo(client, { type: 'status', data: { ...status.data, sid } });
    for (const m of this.opts.onConnect(sid)) this.sendTo(client, m);
  }

  /** ComfyUI's send_json: to `sid` when given (nothing if it is not connected), else to everyone. */
  send(message: ServerMessage, sid?: string): void {
    if (sid !== undefined) {
      const c = this.clients.get(sid);
      if (c) this.sendTo(c, message);
      return;
    }
    for (const c of this.clients.values()) this.sendTo(c, message);
  }

  /** Binary frames (previews): `frameFor` picks type 1 or 4 per client. */
  sendPreview(frameFor: (metadata: boolean) => Uint8Array, sid?: string): void {
    const targets = sid !== undefined ? [this.clients.get(sid)].filter((c): c is Client => !!c) : [...this.clients.values()];
    for (const c of targets) {
      if (c.socket.bufferedAmount > (this.opts.previewDropBytes ?? 4 * 1024 * 1024)) {
        this.droppedPreviews++;
        continue;
      }
      this.write(c, frameFor(c.previewMetadata));
    }
  }

  private sendTo(c: Client, message: ServerMessage): void {
    this.write(c, JSON.stringify(message));
  }

  private write(c: Client, data: string | Uint8Array): void {
    const ws = c.socket;
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > (this.opts.disconnectBytes ?? 32 * 1024 * 1024)) {
      this.droppedClients++;
      this.opts.log?.('closing a websocket client that does not read its messages');
      ws.terminate();
      return;
    }
    ws.send(data);
  }

  close(): void {
    for (const c of this.clients.values()) c.socket.terminate();
    this.clients.clear();
    this.wss.close();
  }
}
