// Trivial MQTT-over-WebSocket forwarding server: the generator's ceiling over WebSocket (no matching, no queues). Imports node builtins, ws, ../wire.ts and ./forwarder.ts.
//
// Same behaviour as ./forwarder.ts, on a ws server (subprotocol mqtt, no permessage-deflate): CONNECT
// -> CONNACK, SUBSCRIBE -> SUBACK, PINGREQ -> PINGRESP, QoS 1 PUBLISH -> PUBACK, and every run of
// PUBLISH bytes in a received message is sent on to every subscribed connection as one binary message.
// Run directly it starts this and the TCP forwarder in one process and prints two JSON lines:
// {"msg":"listening","protocol":"mqtt","port":N} and {"msg":"listening","protocol":"http","port":M}
// (ws://127.0.0.1:M/mqtt), like the gateway. Runs until SIGTERM.
// Usage: node --import tsx loadtest/peers/ws-forwarder.ts
import { Buffer } from 'node:buffer';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import { CONNECT, DISCONNECT, PINGREQ, PUBLISH, SUBSCRIBE, PacketReader, writePuback } from '../wire.ts';
import { startForwarder, type Forwarder } from './forwarder.ts';

const CONNACK_OK = Buffer.from([0x20, 2, 0, 0]);
const PINGRESP = Buffer.from([0xd0, 0]);

export function startWsForwarder(port = 0, host = '127.0.0.1'): Promise<Forwarder> {
  const subscribers = new Set<WebSocket>();
  const wss = new WebSocketServer({
    host, port, perMessageDeflate: false, maxPayload: 256 * 1024 * 1024,
    handleProtocols: (offered) => (offered.has('mqtt') ? 'mqtt' : false), // [MQTT-6.0.0-4] server selects mqtt
  });
  wss.on('connection', (ws: WebSocket, req) => {
    (req.socket as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
    const reader = new PacketReader();
    const acks: number[] = [];
    ws.on('message', (chunk: Buffer) => {
      let runBuf: Buffer | null = null;
      let runStart = 0;
      let runEnd = 0;
      const flush = (): void => {
        if (runBuf === null) return;
        const slice = runBuf.subarray(runStart, runEnd);
        for (const s of subscribers) s.send(slice, { binary: true });
        runBuf = null;
      };
      try {
        reader.feed(chunk, (buf, start, end, body) => {
          const type = buf[start]! >> 4;
          if (type === PUBLISH) {
            if (((buf[start]! >> 1) & 3) > 0) acks.push(buf.readUInt16BE(body + 2 + buf.readUInt16BE(body)));
            if (runBuf === buf && runEnd === start) runEnd = end;
            else { flush(); runBuf = buf; runStart = start; runEnd = end; }
            return;
          }
          flush();
          if (type === CONNECT) ws.send(CONNACK_OK);
          else if (type === SUBSCRIBE) {
            const granted: number[] = [];
            for (let p = body + 2; p + 2 < end;) {
              const len = buf.readUInt16BE(p);
              granted.push(Math.min(1, buf[p + 2 + len]! & 3));
              p += 3 + len;
            }
            ws.send(Buffer.from([0x90, 2 + granted.length, buf[body]!, buf[body + 1]!, ...granted]));
            subscribers.add(ws);
          } else if (type === PINGREQ) ws.send(PINGRESP);
          else if (type === DISCONNECT) ws.close(1000);
        });
      } catch {
        ws.terminate();
        return;
      }
      flush();
      if (acks.length > 0) {
        const out = Buffer.allocUnsafe(acks.length * 4);
        let off = 0;
        for (const id of acks) off = writePuback(out, off, id);
        acks.length = 0;
        ws.send(out);
      }
    });
    const drop = (): void => { subscribers.delete(ws); };
    ws.on('close', drop);
    ws.on('error', drop);
  });
  return new Promise((resolve, reject) => {
    wss.once('error', reject);
    wss.once('listening', () => {
      resolve({
        port: (wss.address() as AddressInfo).port,
        close: () => new Promise<void>((done) => {
          for (const c of wss.clients) c.terminate();
          wss.close(() => done());
        }),
      });
    });
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const tcp = await startForwarder(0);
  const ws = await startWsForwarder(0);
  process.stdout.write(`${JSON.stringify({ msg: 'listening', protocol: 'mqtt', port: tcp.port })}\n`);
  process.stdout.write(`${JSON.stringify({ msg: 'listening', protocol: 'http', port: ws.port })}\n`);
  const stop = (): void => { void Promise.all([tcp.close(), ws.close()]).then(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
