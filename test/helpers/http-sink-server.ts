// Test helper: a local HTTP endpoint for the HTTP sink suites (node:http on 127.0.0.1, port 0) that records every request and answers what the test decides (fail the first N with 500, reject some with 4xx, delay). Imports node builtins only.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/** One message as the sink's JSON / NDJSON body carries it. */
export interface SinkMessage {
  topic: string;
  payload: string;
  encoding: 'text' | 'base64';
  qos: number;
  retain: boolean;
  properties: Record<string, unknown>;
  partition: number;
  offset: number;
  timestamp: number;
}

export interface SinkRequest {
  /** Arrival time (Date.now()). */
  at: number;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Parsed from the body (JSON `{messages}` or NDJSON lines); [] when it did not parse. */
  messages: SinkMessage[];
  /** What the server answered. */
  status: number;
  /** The socket it came on (keep-alive: the same number across requests). */
  socket: number;
}

export interface SinkServerOptions {
  /** Answer the first N requests with 500 (default 0). */
  failFirst?: number;
  /** Status for a request the fail-first rule lets through (default 200); may return a 4xx to reject. */
  decide?: (r: Omit<SinkRequest, 'status'>) => number;
  /** Wait this long before answering (default 0). */
  delayMs?: number;
  /** PEM certificate and key: serve HTTPS (fixed at start). */
  tls?: { cert: Buffer; key: Buffer };
}

export interface SinkServer {
  readonly url: string;
  readonly port: number;
  readonly requests: SinkRequest[];
  /** Messages of every 2xx request, in arrival order. */
  delivered(): SinkMessage[];
  options: SinkServerOptions;
  close(): Promise<void>;
}

export function parseBody(body: Buffer, contentType: string | undefined): SinkMessage[] {
  const text = body.toString('utf8');
  try {
    if (contentType?.startsWith('application/x-ndjson')) return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as SinkMessage);
    return (JSON.parse(text) as { messages: SinkMessage[] }).messages;
  } catch {
    return [];
  }
}

export async function startSinkServer(options: SinkServerOptions = {}): Promise<SinkServer> {
  const requests: SinkRequest[] = [];
  let sockets = 0;
  const socketIds = new WeakMap<object, number>();
  const state = { options };
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let id = socketIds.get(req.socket);
      if (id === undefined) socketIds.set(req.socket, (id = ++sockets));
      const base = { at: Date.now(), method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, messages: parseBody(body, req.headers['content-type']), socket: id };
      const o = state.options;
      const n = requests.length;
      const status = n < (o.failFirst ?? 0) ? 500 : (o.decide?.(base) ?? 200);
      requests.push({ ...base, status });
      const answer = (): void => {
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
      };
      if (o.delayMs) setTimeout(answer, o.delayMs);
      else answer();
    });
  };
  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handler) : createServer(handler);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}/ingest`,
    port,
    requests,
    get options() {
      return state.options;
    },
    set options(v: SinkServerOptions) {
      state.options = v;
    },
    delivered: () => requests.filter((r) => r.status >= 200 && r.status < 300).flatMap((r) => r.messages),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
