// Trivial MQTT forwarding server: the load generator's ceiling (no matching, no queues). Imports node builtins and ../wire.ts.
//
// Answers CONNECT (CONNACK accepted), SUBSCRIBE (SUBACK granting what was asked), PINGREQ; forwards
// every PUBLISH byte-for-byte to every connection that has subscribed to anything, and PUBACKs QoS 1
// publishes. PUBACKs from subscribers are ignored. Run directly it prints one JSON line
// {"msg":"listening","protocol":"mqtt","port":N} on stdout (same as the gateway) and runs until SIGTERM.
// Usage: node --import tsx loadtest/peers/forwarder.ts [--port N]
import net from 'node:net';
import { Buffer } from 'node:buffer';
import { pathToFileURL } from 'node:url';
import { CONNECT, DISCONNECT, PINGREQ, PUBLISH, SUBSCRIBE, PacketReader, writePuback } from '../wire.ts';

export interface Forwarder {
  port: number;
  close(): Promise<void>;
}

const CONNACK_OK = Buffer.from([0x20, 2, 0, 0]);
const PINGRESP = Buffer.from([0xd0, 0]);

/** One client connection as the forwarder sees it, over TCP or WebSocket. */
export interface ForwardPeer {
  send(b: Buffer): void;
  /** Graceful close after DISCONNECT. */
  end(): void;
  /** Hard close on a malformed stream. */
  kill(): void;
}

/**
 * The forwarding logic for one connection: returns the handler for its incoming bytes. Every run of
 * PUBLISH bytes in one chunk goes on to every subscribed peer as one write; QoS 1 publishes are PUBACKed
 * together after the chunk.
 */
export function forwardingHandler(peer: ForwardPeer, subscribers: Set<ForwardPeer>): (chunk: Buffer) => void {
  const reader = new PacketReader();
  const acks: number[] = [];
  return (chunk: Buffer) => {
    let runBuf: Buffer | null = null;
    let runStart = 0;
    let runEnd = 0;
    const flush = (): void => {
      if (runBuf === null) return;
      const slice = runBuf.subarray(runStart, runEnd);
      for (const s of subscribers) s.send(slice);
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
        if (type === CONNECT) peer.send(CONNACK_OK);
        else if (type === SUBSCRIBE) {
          const granted: number[] = [];
          for (let p = body + 2; p + 2 < end;) {
            const len = buf.readUInt16BE(p);
            granted.push(Math.min(1, buf[p + 2 + len]! & 3));
            p += 3 + len;
          }
          peer.send(Buffer.from([0x90, 2 + granted.length, buf[body]!, buf[body + 1]!, ...granted]));
          subscribers.add(peer);
        } else if (type === PINGREQ) peer.send(PINGRESP);
        else if (type === DISCONNECT) peer.end();
      });
    } catch {
      peer.kill();
      return;
    }
    flush();
    if (acks.length > 0) {
      const out = Buffer.allocUnsafe(acks.length * 4);
      let off = 0;
      for (const id of acks) off = writePuback(out, off, id);
      acks.length = 0;
      peer.send(out);
    }
  };
}

export function startForwarder(port = 0, host = '127.0.0.1'): Promise<Forwarder> {
  const subscribers = new Set<ForwardPeer>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    const peer: ForwardPeer = { send: (b) => socket.write(b), end: () => socket.end(), kill: () => socket.destroy() };
    socket.on('data', forwardingHandler(peer, subscribers));
    const drop = (): void => { subscribers.delete(peer); sockets.delete(socket); };
    socket.on('close', drop);
    socket.on('error', drop);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address() as net.AddressInfo;
      resolve({
        port: addr.port,
        close: () => new Promise<void>((done) => {
          for (const s of sockets) s.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv.includes('--help')) {
    process.stdout.write("usage: node --import tsx loadtest/peers/forwarder.ts [--port N]\n  the trivial MQTT forwarder on 127.0.0.1 (the generator's ceiling); prints {\"msg\":\"listening\",\"protocol\":\"mqtt\",\"port\":N}; runs until SIGTERM\n");
    process.exit(0);
  }
  const i = process.argv.indexOf('--port');
  const f = await startForwarder(i > 0 ? Number(process.argv[i + 1]) : 0);
  process.stdout.write(`${JSON.stringify({ msg: 'listening', protocol: 'mqtt', port: f.port })}\n`);
  const stop = (): void => { void f.close().then(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
