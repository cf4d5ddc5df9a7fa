// Admin API: JSON over HTTP on the gateway's HTTP port, behind `Authorization: Bearer <http.adminToken>`. Imports node:http/crypto types, core types and ./view.ts.
//
// Routes (an empty token disables the API: every /api/ path answers 404 with a JSON hint on how to turn it on):
//   GET  /api/clients                     ClientInfo[] (see view.ts)
//   GET  /api/sessions                    [{ id, connected, expiryInterval, detachedAt, subscriptions, inflight, queued, queuedBytes }]
//   GET  /api/subscriptions               [{ clientId, filter, qos, noLocal, retainAsPublished, retainHandling, subscriptionId? }]
//   GET  /api/retained                    [{ topic, bytes, qos, createdAt, preview, previewEncoding: 'utf8'|'hex' }] (preview: first 64 bytes)
//   GET  /api/groups                      [{ group, partition, committed, end, lag }]
//   GET  /api/log                         [{ partition, startOffset, endOffset, bytes, segments: [{ baseOffset, bytes }] }]
//   POST /api/clients/<id>/disconnect     200 { disconnected: id, protocol } | 404; MQTT 5 clients get DISCONNECT 0x98 (administrative action)
// 401 with `www-authenticate: Bearer` when the header is missing or wrong; 405 for a wrong method; 404 for an unknown /api/ path.
import { timingSafeEqual } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { groupLags, listClients, partitionStats, type GatewaySources } from './view.ts';
import { displaySessionId } from '../core/broker.ts';
import { decodePathSegment, requestPath } from '../../protocols/ws/request-path.ts';

const PREVIEW_BYTES = 64;

/** What /api/* answers (404) while the admin API is off. */
export const OFF_HINT = 'the admin API is off: set http.adminToken (GATEWAY_HTTP_ADMIN_TOKEN) to enable /api/*, then send Authorization: Bearer <token>';

export function createAdminApi(token: string, src: GatewaySources, log: Logger): (req: IncomingMessage, res: ServerResponse) => boolean {
  const expected = Buffer.from(`Bearer ${token}`, 'utf8');
  const authorized = (req: IncomingMessage): boolean => {
    const got = Buffer.from(req.headers.authorization ?? '', 'utf8');
    return got.length === expected.length && timingSafeEqual(got, expected);
  };
  return (req, res) => {
    const path = requestPath(req.url);
    if (path === undefined || (path !== '/api' && !path.startsWith('/api/'))) return false;
    if (token === '') {
      json(res, 404, { error: OFF_HINT });
      return true;
    }
    if (!authorized(req)) {
      json(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer' });
      return true;
    }
    const kick = /^\/api\/clients\/([^/]+)\/disconnect$/.exec(path);
    if (kick) {
      if (req.method !== 'POST') return method(res, 'POST');
      const id = decodePathSegment(kick[1]!);
      if (id === undefined) {
        json(res, 400, { error: 'bad percent-encoding in the client id' });
        return true;
      }
      const result = disconnect(src, id);
      log.info({ clientId: id, found: result !== undefined }, 'admin disconnect');
      if (!result) json(res, 404, { error: 'no connected client with that id' });
      else json(res, 200, { disconnected: id, protocol: result });
      return true;
    }
    const read = GETS[path];
    if (!read) {
      json(res, 404, { error: 'not found' });
      return true;
    }
    if (req.method !== 'GET') return method(res, 'GET');
    json(res, 200, read(src));
    return true;
  };
}

const GETS: Record<string, (src: GatewaySources) => unknown> = {
  '/api/clients': (src) => listClients(src),
  '/api/sessions': (src) =>
    [...src.broker.sessions()].map((e) => ({
      id: displaySessionId(e.id),
      connected: e.link !== undefined,
      expiryInterval: e.session.expiryInterval,
      detachedAt: e.detachedAt,
      subscriptions: [...e.session.subscriptions.keys()],
      inflight: e.session.inflightCount,
      queued: e.session.queuedCount,
      queuedBytes: e.session.queuedBytes,
    })),
  '/api/subscriptions': (src) =>
    [...src.broker.router.entries()].map((s) => ({
      clientId: displaySessionId(s.subscriber.id),
      filter: s.filter,
      qos: s.options.qos,
      noLocal: s.options.noLocal,
      retainAsPublished: s.options.retainAsPublished,
      retainHandling: s.options.retainHandling,
      ...(s.options.subscriptionId !== undefined ? { subscriptionId: s.options.subscriptionId } : {}),
    })),
  '/api/retained': (src) =>
    [...src.broker.retained.values()].map((m) => {
      const head = m.payload.subarray(0, PREVIEW_BYTES);
      // A cut in the middle of a multi-byte character is not UTF-8: fall back to hex then.
      const text = isUtf8(head);
      return { topic: m.topic, bytes: m.payload.length, qos: m.qos, createdAt: m.createdAt, preview: head.toString(text ? 'utf8' : 'hex'), previewEncoding: text ? 'utf8' : 'hex' };
    }),
  '/api/groups': (src) => groupLags(src.broker),
  '/api/log': (src) => partitionStats(src.broker),
};

/** Closes the connection holding `id`: an MQTT session through the broker (will, session kept), else a STOMP connection. */
function disconnect(src: GatewaySources, id: string): 'mqtt' | 'stomp' | undefined {
  if (src.broker.kick(id, 'ADMINISTRATIVE_ACTION')) return 'mqtt';
  for (const c of src.stomp.connections) {
    if (c.identity.clientId === id && !c.isClosed) {
      c.close('ADMINISTRATIVE_ACTION');
      return 'stomp';
    }
  }
  return undefined;
}

function method(res: ServerResponse, allow: string): true {
  json(res, 405, { error: `use ${allow}` }, { allow });
  return true;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body));
}
