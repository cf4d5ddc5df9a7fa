// One HTTP server for browsers: MQTT over WebSocket on /mqtt, STOMP over WebSocket on /stomp, health probes. Imports ws, node:http and ../tcp.ts; adapters are handed in.
import http from 'node:http';
import https from 'node:https';
import { closeServer, listenOn, reloadTls, secureOptions, type TlsFiles } from '../tcp.ts';
import { certificateCN } from '../peer.ts';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from 'pino';
import { WsDuplex } from './ws-duplex.ts';
import { requestPath } from './request-path.ts';

/** What a protocol adapter offers the WebSocket server: take a byte stream, as from TCP. */
export interface StreamAcceptor {
  accept(stream: Duplex & { remoteAddress?: string }, transport: 'ws'): unknown;
}

export interface WsRoutes {
  mqtt?: StreamAcceptor;
  stomp?: StreamAcceptor;
}

export interface WsServerOptions {
  /** Serve HTTPS / WSS with these PEM files instead of plain HTTP / WS. */
  tls?: TlsFiles;
  /** Largest WebSocket message accepted (bytes); larger closes with 1009. */
  maxMessageBytes: number;
  /** Extra HTTP handlers (metrics, admin, dashboard) tried before the 404. Return true when handled. */
  http?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  ready: () => boolean;
  /** Unsent bytes one WebSocket may hold before it is closed with 1013 (slow consumer). */
  maxBufferedBytes: number;
  /** Called when a WebSocket was closed for exceeding maxBufferedBytes (metrics). */
  onSlowConsumer?: () => void;
  /** Origins a browser upgrade may come from (exact match on the Origin header); empty / unset = any. A request without Origin (not a browser) is served. */
  allowedOrigins?: readonly string[];
}

/** Subprotocols per path, most preferred first (MQTT: `mqtt`, `mqttv3.1`; STOMP: `v12.stomp` ... `v10.stomp`). */
const SUBPROTOCOLS: Record<string, readonly string[]> = {
  '/mqtt': ['mqtt', 'mqttv3.1'],
  '/stomp': ['v12.stomp', 'v11.stomp', 'v10.stomp'],
};

export class GatewayHttpServer {
  private readonly server: http.Server | https.Server;
  private readonly wss: WebSocketServer;

  constructor(
    routes: WsRoutes,
    private readonly opts: WsServerOptions,
    private readonly log: Logger,
  ) {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => this.onRequest(req, res);
    this.server = opts.tls ? https.createServer(secureOptions(opts.tls), onRequest) : http.createServer(onRequest);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: opts.maxMessageBytes,
      handleProtocols: (offered, req) => {
        const wanted = SUBPROTOCOLS[requestPath(req.url) ?? ''] ?? [];
        for (const p of wanted) if (offered.has(p)) return p;
        return false;
      },
    });
    this.server.on('upgrade', (req, socket, head) => {
      socket.on('error', (err) => this.log.debug({ err: err.message }, 'upgrade socket error'));
      const path = requestPath(req.url);
      if (path === undefined) {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        this.log.info({ url: req.url }, 'websocket upgrade with a bad request target refused');
        return;
      }
      const target = path === '/mqtt' ? routes.mqtt : path === '/stomp' ? routes.stomp : undefined;
      if (!target) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        this.log.info({ path }, 'websocket upgrade to an unknown path refused');
        return;
      }
      const origin = req.headers.origin;
      const allowed = this.opts.allowedOrigins;
      if (origin !== undefined && allowed && allowed.length !== 0 && !allowed.includes(origin)) {
        socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        this.log.warn({ path, origin: origin.slice(0, 200), remote: req.socket.remoteAddress }, 'websocket upgrade from an origin not in http.allowedOrigins refused');
        return;
      }
      // A client that offers subprotocols but none of ours gets a clear 400 rather than a handshake
      // without one [MQTT-6.0.0-4]; a client that offers none is served (some STOMP clients send none).
      const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
      const wanted = SUBPROTOCOLS[path] ?? [];
      if (offered.length !== 0 && !offered.some((p) => wanted.includes(p))) {
        const body = `unsupported subprotocol; ${path} speaks ${wanted.join(', ')}\n`;
        socket.end(`HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
        this.log.info({ path, offered }, 'websocket upgrade with no supported subprotocol refused');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        (socket as import('node:net').Socket).setNoDelay?.(true);
        const remote = req.socket.remoteAddress;
        const stream = new WsDuplex(ws, {
          maxBufferedBytes: this.opts.maxBufferedBytes,
          onOverflow: (buffered) => {
            this.log.warn({ path, remote, buffered, limit: this.opts.maxBufferedBytes }, 'websocket closed: slow consumer (1013)');
            this.opts.onSlowConsumer?.();
          },
        });
        stream.remoteAddress = remote;
        stream.localAddress = req.socket.localAddress;
        stream.certificateCN = certificateCN(req.socket as import('node:tls').TLSSocket);
        stream.on('error', (err) => this.log.debug({ err: err.message }, 'websocket stream error'));
        target.accept(stream, 'ws');
      });
    });
  }

  /** No request may throw out of here: a handler's error answers 500 (400 for a bad target), logged once. */
  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    try {
      this.route(req, res);
    } catch (err) {
      this.log.warn({ err, url: req.url }, 'http handler failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end();
    }
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = requestPath(req.url);
    if (path === undefined) return void res.writeHead(400, { 'content-type': 'text/plain' }).end('bad request target\n');
    if (path === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    if (path === '/readyz') {
      const ok = this.opts.ready();
      return void res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready\n' : 'not ready\n');
    }
    if (this.opts.http?.(req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }

  /** New certificates / CA for HTTPS / WSS (SIGHUP); open connections stay. */
  reloadTls(files: TlsFiles): void {
    reloadTls(this.server, files);
  }

  listen(port: number, host: string): Promise<number> {
    return listenOn(this.server, port, host);
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
    this.server.closeAllConnections?.();
    await closeServer(this.server);
  }
}
