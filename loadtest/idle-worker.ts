// Worker thread for the idle scenario: opens idle MQTT connections (CONNECT, keepalive 0, then nothing) and holds them until told to close. Imports node builtins, ./wire.ts, ./ws-transport.ts.
//
// workerData: IdleWorkerInit. Posts {type:'connected', ok, failed, ms, firstError} once every
// connection got its CONNACK or failed; then {type:'alive', open} on {type:'count'}; on
// {type:'close'} sends DISCONNECT on each, ends them and posts {type:'closed'}.
// Keepalive 0 turns the broker's keepalive timer off [MQTT-3.1.2-10], so nothing is sent after CONNECT.
import type { Duplex } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { Buffer } from 'node:buffer';
import { CONNACK, DISCONNECT_BYTES, PacketReader, encodeConnect } from './wire.ts';
import { openStream, type TransportOptions } from './ws-transport.ts';

export interface IdleWorkerInit extends TransportOptions {
  host: string;
  port: number;
  /** Client ids are `${prefix}${i}` for i in [from, to). */
  prefix: string;
  from: number;
  to: number;
  /** Connections being set up at once by this worker. */
  concurrency: number;
}

export type IdleReport =
  | { type: 'connected'; ok: number; failed: number; ms: number; firstError: string | null }
  | { type: 'alive'; open: number }
  | { type: 'closed' };
export type IdleCommand = { type: 'count' } | { type: 'close' };

const init = workerData as IdleWorkerInit;
const port = parentPort!;
const conns: Duplex[] = [];
let open = 0;

function connectOne(clientId: string): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const s = openStream(init.host, init.port, init);
    const reader = new PacketReader();
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`${clientId}: no CONNACK within 20 s`)); }, 20_000);
    const onErr = (e: Error): void => { clearTimeout(timer); s.destroy(); reject(new Error(`${clientId}: ${e.message}`)); };
    const onData = (chunk: Buffer): void => {
      reader.feed(chunk, (buf, start, _end, body) => {
        if (buf[start]! >> 4 !== CONNACK) return;
        clearTimeout(timer);
        s.off('data', onData);
        s.off('error', onErr);
        if (buf[body + 1] !== 0) { s.destroy(); reject(new Error(`${clientId}: CONNACK return code ${buf[body + 1]}`)); return; }
        open++;
        s.on('error', () => undefined);
        s.once('close', () => { open--; });
        s.pause(); // idle: read nothing more
        resolve(s);
      });
    };
    s.on('data', onData);
    s.on('error', onErr);
    s.write(encodeConnect(clientId, 0));
  });
}

async function connectAll(): Promise<void> {
  const t0 = performance.now();
  let next = init.from, ok = 0, failed = 0;
  let firstError: string | null = null;
  const lane = async (): Promise<void> => {
    while (next < init.to) {
      const i = next++;
      try {
        conns.push(await connectOne(`${init.prefix}${i}`));
        ok++;
      } catch (e) {
        failed++;
        firstError ??= e instanceof Error ? e.message : String(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, init.concurrency) }, lane));
  const r: IdleReport = { type: 'connected', ok, failed, ms: performance.now() - t0, firstError };
  port.postMessage(r);
}

port.on('message', (m: IdleCommand) => {
  if (m.type === 'count') port.postMessage({ type: 'alive', open } satisfies IdleReport);
  else if (m.type === 'close') {
    for (const c of conns) c.end(DISCONNECT_BYTES);
    const deadline = Date.now() + 5000;
    const wait = (): void => {
      if (open > 0 && Date.now() < deadline) { setTimeout(wait, 50); return; }
      for (const c of conns) c.destroy();
      port.postMessage({ type: 'closed' } satisfies IdleReport);
    };
    wait();
  }
});

void connectAll();
