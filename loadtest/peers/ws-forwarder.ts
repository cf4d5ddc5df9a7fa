// Trivial MQTT-over-WebSocket forwarding server: the generator's ceiling over WebSocket (no matching, no queues). Imports node builtins, ws and ./forwarder.ts.
//
// Same behaviour as ./forwarder.ts, on a ws server (subprotocol mqtt, no permessage-deflate): CONNECT
// -> CONNACK, SUBSCRIBE -> SUBACK, PINGREQ -> PINGRESP, QoS 1 PUBLISH -> PUBACK, and every run of
// PUBLISH bytes in a received message is sent on to every subscribed connection as one binary message.
// Run directly it starts this and the TCP forwarder in one process and prints two JSON lines:
// {"msg":"listening","protocol":"mqtt","port":N} and {"msg":"listening","protocol":"http","port":M}
// (ws://127.0.0.1:M/mqtt), like the gateway. Runs until SIGTERM.
// Usage: node --import tsx loadtest/peers/ws-forwarder.ts
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import { forwardingHandler, startForwarder, type ForwardPeer, type Forwarder } from './forwarder.ts';

export function startWsForwarder(port = 0, host = '127.0.0.1'): Promise<Forwarder> {
  const subscribers = new Set<ForwardPeer>();
  const wss = new WebSocketServer({
    host, port, perMessageDeflate: false, maxPayload: 256 * 1024 * 1024,
    handleProtocols: (offered) => (offered.has('mqtt') ? 'mqtt' : false), // [MQTT-6.0.0-4] server selects mqtt
  });
  wss.on('connection', (ws: WebSocket, req) => {
    (req.socket as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
    const peer: ForwardPeer = { send: (b) => ws.send(b, { binary: true }), end: () => ws.close(1000), kill: () => ws.terminate() };
    ws.on('message', forwardingHandler(peer, subscribers));
    const drop = (): void => { subscribers.delete(peer); };
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
  if (process.argv.includes('--help')) {
    process.stdout.write("usage: node --import tsx loadtest/peers/ws-forwarder.ts\n  the TCP and the WebSocket (/mqtt) forwarders on free 127.0.0.1 ports; prints the two listening lines; runs until SIGTERM\n");
    process.exit(0);
  }
  const tcp = await startForwarder(0);
  const ws = await startWsForwarder(0);
  process.stdout.write(`${JSON.stringify({ msg: 'listening', protocol: 'mqtt', port: tcp.port })}\n`);
  process.stdout.write(`${JSON.stringify({ msg: 'listening', protocol: 'http', port: ws.port })}\n`);
  const stop = (): void => { void Promise.all([tcp.close(), ws.close()]).then(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
