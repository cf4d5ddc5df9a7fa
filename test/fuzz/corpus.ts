// Valid seed inputs for the fuzzer: MQTT 3.1.1 / 5 packets (CONNECT with properties and will, PUBLISH with properties, SUBSCRIBE, UNSUBSCRIBE, acks, AUTH, DISCONNECT, PINGREQ) and STOMP 1.0-1.2 frames (every client command, escapes, content-length, ack modes). Imports mqtt-packet and ./rng.ts.
import mqttPacket, { type Packet } from 'mqtt-packet';
import type { Rng } from './rng.ts';

/** Topics the fuzz traffic uses; the well-behaved pairs use other ones. */
const TOPICS = ['fz/a', 'fz/b/c', 'fz/+', 'fz/#', '$share/g/fz/a', '$log/first/fz/#', '$group/fzg/fz/#', '$queue/fzq', 'fz/' + 'l/'.repeat(5) + 'x', '$SYS/x'];
const NAMES = ['fz/a', 'fz/b/c', 'fz/ret', '$queue/fzq', 'fz/u\u00e9'];

const userProps = (r: Rng): Record<string, string | string[]> => (r.chance(0.5) ? { k: 'v', multi: ['1', '2'] } : { a: 'b' });

export function mqttConnect(r: Rng, v: 4 | 5, clientId: string, clean: boolean): Buffer {
  const p: mqttPacket.IConnectPacket = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clientId, clean, keepalive: r.pick([0, 30, 60]) };
  if (r.chance(0.3)) p.username = 'user';
  if (p.username && r.chance(0.5)) p.password = Buffer.from('pw');
  if (r.chance(0.4)) {
    p.will = { topic: r.pick(NAMES), payload: Buffer.from('will'), qos: r.pick([0, 1, 2] as const), retain: r.chance(0.3) } as mqttPacket.IConnectPacket['will'];
    if (v === 5) {
      p.will!.properties = {
        willDelayInterval: r.pick([0, 1, 5]),
        payloadFormatIndicator: r.chance(0.5),
        messageExpiryInterval: 60,
        contentType: 'text/plain',
        responseTopic: 'fz/resp',
        correlationData: Buffer.from('cd'),
        userProperties: userProps(r),
      };
    }
  }
  if (v === 5) {
    p.properties = {
      sessionExpiryInterval: clean ? 0 : r.pick([0, 10, 3600]),
      receiveMaximum: r.pick([1, 10, 100]),
      maximumPacketSize: r.pick([100, 1000, 65536]),
      topicAliasMaximum: r.pick([0, 5]),
      requestResponseInformation: r.chance(0.3),
      requestProblemInformation: r.chance(0.7),
      userProperties: userProps(r),
    };
  }
  return mqttPacket.generate(p, { protocolVersion: v });
}

/** One post-CONNECT packet of any client kind. */
export function mqttPacketAfterConnect(r: Rng, v: 4 | 5): Buffer {
  const id = 1 + r.int(20);
  const kind = r.int(11);
  let p: Packet;
  switch (kind) {
    case 0:
    case 1: {
      const qos = r.pick([0, 1, 2] as const);
      const pub: mqttPacket.IPublishPacket = { cmd: 'publish', topic: r.pick(NAMES), payload: Buffer.from(r.chance(0.2) ? 'x'.repeat(2000) : 'payload'), qos, retain: r.chance(0.3), dup: false };
      if (qos > 0) pub.messageId = id;
      if (v === 5) {
        pub.properties = {
          payloadFormatIndicator: r.chance(0.5),
          messageExpiryInterval: r.pick([1, 60]),
          contentType: 'application/json',
          responseTopic: 'fz/resp',
          correlationData: Buffer.from([1, 2, 3]),
          userProperties: userProps(r),
        };
        if (r.chance(0.3)) pub.properties.topicAlias = 1 + r.int(3);
      }
      p = pub;
      break;
    }
    case 2:
    case 3: {
      const n = 1 + r.int(3);
      const subscriptions = Array.from({ length: n }, () => ({ topic: r.pick(TOPICS), qos: r.pick([0, 1, 2] as const), nl: r.chance(0.2), rap: r.chance(0.2), rh: r.pick([0, 1, 2] as const) }));
      const sub: mqttPacket.ISubscribePacket = { cmd: 'subscribe', messageId: id, subscriptions };
      if (v === 5 && r.chance(0.3)) sub.properties = { subscriptionIdentifier: 1 + r.int(100), userProperties: userProps(r) };
      p = sub;
      break;
    }
    case 4:
      p = { cmd: 'unsubscribe', messageId: id, unsubscriptions: [r.pick(TOPICS), r.pick(TOPICS)] };
      break;
    case 5:
      p = { cmd: 'puback', messageId: id, ...(v === 5 ? { reasonCode: r.pick([0, 0x10, 0x80]) } : {}) };
      break;
    case 6:
      p = { cmd: 'pubrec', messageId: id, ...(v === 5 ? { reasonCode: r.pick([0, 0x80]) } : {}) };
      break;
    case 7:
      p = { cmd: 'pubrel', messageId: id, ...(v === 5 ? { reasonCode: r.pick([0, 0x92]) } : {}) };
      break;
    case 8:
      p = { cmd: 'pubcomp', messageId: id };
      break;
    case 9:
      p = v === 5 ? { cmd: 'auth', reasonCode: r.pick([0x18, 0x19]), properties: { authenticationMethod: 'fz', authenticationData: Buffer.from('d') } } : { cmd: 'pingreq' };
      break;
    default:
      p = r.chance(0.5) ? { cmd: 'pingreq' } : { cmd: 'disconnect', ...(v === 5 ? { reasonCode: r.pick([0, 4]), properties: { sessionExpiryInterval: r.pick([0, 5]) } } : {}) };
  }
  return mqttPacket.generate(p, { protocolVersion: v });
}

// ---- STOMP ----

const EOL = '\n';

function frame(command: string, headers: [string, string][], body = '', withLength = true): Buffer {
  let head = command + EOL;
  for (const [k, v] of headers) head += `${k}:${v}${EOL}`;
  if (withLength && body.length > 0) head += `content-length:${Buffer.byteLength(body)}${EOL}`;
  return Buffer.concat([Buffer.from(head + EOL, 'utf8'), Buffer.from(body, 'utf8'), Buffer.from([0])]);
}

export function stompConnect(r: Rng, clientName: string | undefined): { bytes: Buffer; version: string } {
  const version = r.pick(['1.0', '1.1', '1.2', '1.0,1.1,1.2']);
  const headers: [string, string][] = [['accept-version', version], ['host', 'fz'], ['heart-beat', r.pick(['0,0', '0,0', '100000,100000'])]];
  if (r.chance(0.3)) headers.push(['login', 'u'], ['passcode', 'p']);
  if (clientName) headers.push(['client-id', clientName]);
  return { bytes: frame(r.chance(0.8) ? 'CONNECT' : 'STOMP', headers), version };
}

const DESTS = ['/topic/fz/a', '/topic/fz/+', '/topic/fz/#', '/queue/fzq', '/queue/fz-' + 'q', '/topic/fz/b/c', '/exchange/x', 'fz/a'];

export function stompFrameAfterConnect(r: Rng): Buffer {
  const receipt = (h: [string, string][]): [string, string][] => (r.chance(0.4) ? [...h, ['receipt', `r${r.int(100)}`]] : h);
  const id = `s${r.int(5)}`;
  switch (r.int(11)) {
    case 0:
    case 1: {
      const body = r.pick(['hello', '', 'a\u0000b', 'x'.repeat(3000), '{"k":1}']);
      const headers: [string, string][] = [['destination', r.pick(DESTS)], ['content-type', 'text/plain']];
      if (r.chance(0.3)) headers.push(['x-esc', 'a\\cb\\nc\\\\d\\re']);
      if (r.chance(0.2)) headers.push(['expires', String(Date.now() + 60_000)]);
      if (r.chance(0.2)) headers.push(['x-retain', 'true']);
      if (r.chance(0.2)) headers.push(['transaction', 'tx1']);
      return frame('SEND', receipt(headers), body, !body.includes('\u0000') ? r.chance(0.7) : true);
    }
    case 2:
    case 3: {
      const headers: [string, string][] = [['id', id], ['destination', r.pick(DESTS)], ['ack', r.pick(['auto', 'client', 'client-individual', 'bogus'])]];
      if (r.chance(0.2)) headers.push(['prefetch-count', String(1 + r.int(50))]);
      if (r.chance(0.15)) headers.push(['x-stream-offset', r.pick(['first', 'last', 'next', 'offset=0', 'timestamp=0'])]);
      if (r.chance(0.15)) headers.push(['durable', 'true']);
      return frame('SUBSCRIBE', receipt(headers));
    }
    case 4:
      return frame('UNSUBSCRIBE', receipt([['id', id], ...(r.chance(0.2) ? ([['durable', 'true']] as [string, string][]) : [])]));
    case 5:
      return frame(r.chance(0.5) ? 'ACK' : 'NACK', receipt([[r.pick(['id', 'message-id']), String(1 + r.int(5))], ...(r.chance(0.2) ? ([['transaction', 'tx1']] as [string, string][]) : [])]));
    case 6:
      return frame('BEGIN', receipt([['transaction', 'tx1']]));
    case 7:
      return frame('COMMIT', receipt([['transaction', 'tx1']]));
    case 8:
      return frame('ABORT', receipt([['transaction', 'tx1']]));
    case 9:
      return Buffer.from(r.pick(['\n', '\r\n', '\n\n']));
    default:
      return frame('DISCONNECT', receipt([]));
  }
}
