// Worker thread: runs the publisher or subscriber connections of one load-test run. Imports node builtins and ./wire.ts, ./seq-tracker.ts, ./workload.ts, ./ws-transport.ts.
//
// Protocol with the driver (run via ./driver.ts): workerData is a WorkerInit; the worker connects
// and posts {type:'ready'}; the driver posts 'start' (publishers only), then 'stop'; publishers
// answer {type:'pubDone'} once their QoS 1 acks arrived (or 2 s passed), subscribers answer
// {type:'subDone'} with their counts. Live totals go through the shared Int32 counters (Atomics).
// The workload may carry TransportOptions (./ws-transport.ts): then every connection is a WebSocket.
import type { Duplex } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { Buffer } from 'node:buffer';
import {
  CONNACK, PUBACK, PUBLISH, SUBACK, PacketReader, PINGREQ_BYTES, DISCONNECT_BYTES,
  encodeConnect, encodePublish, encodeSubscribe, writePuback,
} from './wire.ts';
import { SeqTracker } from './seq-tracker.ts';
import {
  C_ACKED, C_DELIVERED, C_ERRORS, C_PHASE, C_SENT, PAYLOAD_MIN, PHASE_MEASURE,
  type DriverCommand, type WorkerInit, type WorkerReport,
} from './workload.ts';
import { openStream, type TransportOptions } from './ws-transport.ts';

// Atomics.waitAsync exists in Node 20 but is typed only from lib es2024.
type WaitAsync = (a: Int32Array, i: number, v: number, timeoutMs: number) =>
  { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

const init = workerData as WorkerInit;
const w = init.workload as WorkerInit['workload'] & Partial<TransportOptions>;
const counters = new Int32Array(init.counters);
const port = parentPort!;
const KEEPALIVE_S = 60;
let closing = false;

function report(r: WorkerReport): void {
  port.postMessage(r);
}

function fail(message: string): void {
  if (closing) return;
  Atomics.add(counters, C_ERRORS, 1);
  report({ type: 'error', message });
}

/** A connected MQTT client socket; `onPacket` sees every packet after CONNACK. */
interface Conn {
  socket: Duplex;
  reader: PacketReader;
}

function connect(clientId: string): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = openStream(w.host, w.port, w);
    const reader = new PacketReader();
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${clientId}: no CONNACK within 10 s`));
    }, 10_000);
    const onData = (chunk: Buffer): void => {
      reader.feed(chunk, (buf, start, _end, body) => {
        if (buf[start]! >> 4 !== CONNACK) return;
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('error', onErr);
        if (buf[body + 1] !== 0) reject(new Error(`${clientId}: CONNACK return code ${buf[body + 1]}`));
        else resolve({ socket, reader });
      });
    };
    const onErr = (e: Error): void => {
      clearTimeout(timer);
      reject(new Error(`${clientId}: ${e.message}`));
    };
    socket.on('data', onData);
    socket.on('error', onErr);
    socket.write(encodeConnect(clientId, KEEPALIVE_S));
  });
}

function watch(c: Conn, name: string): void {
  c.socket.on('error', (e) => fail(`${name}: ${e.message}`));
  c.socket.on('close', () => fail(`${name}: connection closed by broker`));
}

// ---------------------------------------------------------------- subscriber

interface Sub {
  conn: Conn;
  trackers: SeqTracker[];
  received: number;
}

const latencyUs: number[] = [];
const LATENCY_CAP = 2_000_000;

function subscribe(c: Conn, filter: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no SUBACK for ${filter} within 10 s`)), 10_000);
    const onData = (chunk: Buffer): void => {
      c.reader.feed(chunk, (buf, start, _end, body) => {
        if (buf[start]! >> 4 !== SUBACK) return;
        clearTimeout(timer);
        c.socket.off('data', onData);
        if (buf[body + 2]! >= 0x80) reject(new Error(`SUBACK refused ${filter}`)); // 0x80 = failure [MQTT-3.9.3]
        else resolve();
      });
    };
    c.socket.on('data', onData);
    c.socket.write(encodeSubscribe(1, filter, w.qos));
  });
}

function attachSubscriber(s: Sub): void {
  const socket = s.conn.socket;
  const pids: number[] = [];
  const onPacket = (buf: Buffer, start: number, end: number, body: number): void => {
    const first = buf[start]!;
    if (first >> 4 !== PUBLISH) return;
    const qos = (first >> 1) & 3;
    let p = body + 2 + ((buf[body]! << 8) | buf[body + 1]!);
    if (qos > 0) {
      pids.push((buf[p]! << 8) | buf[p + 1]!);
      p += 2;
    }
    // Not one of ours (NATS's `#` also matches its own internal subjects): acked above, never counted.
    if (end - p < PAYLOAD_MIN || buf.readUInt32BE(p) >= w.publishers.length) return;
    s.received++;
    const pub = buf.readUInt32BE(p);
    let t = s.trackers[pub];
    if (t === undefined) {
      t = new SeqTracker();
      s.trackers[pub] = t;
    }
    t.see(buf.readUInt32BE(p + 4));
    if (w.latency && Atomics.load(counters, C_PHASE) === PHASE_MEASURE && latencyUs.length < LATENCY_CAP) {
      const sent = buf.readBigUInt64BE(p + 8);
      latencyUs.push(Number(process.hrtime.bigint() - sent) / 1000);
    }
  };
  const resume = (): void => {
    socket.resume();
  };
  socket.on('data', (chunk: Buffer) => {
    const before = s.received;
    try {
      s.conn.reader.feed(chunk, onPacket);
    } catch (e) {
      fail(`subscriber: ${(e as Error).message}`);
      socket.destroy();
      return;
    }
    if (pids.length > 0) {
      // Acknowledge every QoS 1 delivery, one write per read [MQTT-4.3.2-2 receiver sends PUBACK]
      const acks = Buffer.allocUnsafe(pids.length * 4);
      let off = 0;
      for (const id of pids) off = writePuback(acks, off, id);
      pids.length = 0;
      socket.write(acks);
    }
    const n = s.received - before;
    if (n > 0) {
      Atomics.add(counters, C_DELIVERED, n);
      Atomics.notify(counters, C_DELIVERED);
    }
    // BENCHMARKS.md: a QoS 0 reader that takes every tiny chunk burns the broker's CPU in syscalls.
    if (w.readDelay && chunk.length < 16384) {
      socket.pause();
      setTimeout(resume, 1);
    }
  });
}

async function runSubscribers(): Promise<void> {
  const subs: Sub[] = [];
  await Promise.all(init.indexes.map(async (i) => {
    const conn = await connect(`lt-${w.runId}-s${i}`);
    await subscribe(conn, w.subscribers[i]!);
    const s: Sub = { conn, trackers: [], received: 0 };
    watch(conn, `subscriber ${i}`);
    attachSubscriber(s);
    subs.push(s);
  }));
  const ping = setInterval(() => { for (const s of subs) s.conn.socket.write(PINGREQ_BYTES); }, (KEEPALIVE_S / 3) * 1000);
  report({ type: 'ready' });
  port.on('message', (m: DriverCommand) => {
    if (m.type !== 'stop') return;
    closing = true;
    clearInterval(ping);
    let unique = 0, duplicates = 0, outOfOrder = 0, received = 0;
    for (const s of subs) {
      received += s.received;
      for (const t of s.trackers) {
        if (t === undefined) continue;
        unique += t.unique;
        duplicates += t.duplicates;
        outOfOrder += t.outOfOrder;
      }
      s.conn.socket.end(DISCONNECT_BYTES);
    }
    report({ type: 'subDone', unique, duplicates, outOfOrder, received, latencyUs });
  });
}

// ---------------------------------------------------------------- publisher

interface Pub {
  index: number;
  conn: Conn;
  /** One pre-encoded batch; patched copies of its prefix are written. */
  template: Buffer;
  /** Per message k in the batch: end offset in template, payload offset, packet-id offset. */
  ends: number[];
  payloadOffs: number[];
  pidOffs: number[];
  seq: number;
  inflight: number;
  nextPid: number;
  blocked: boolean;
}

function buildPub(index: number, conn: Conn): Pub {
  const topics = w.publishers[index]!;
  const batch = Math.ceil(Math.max(1, w.batch) / topics.length) * topics.length;
  const payload = Buffer.alloc(Math.max(PAYLOAD_MIN, w.payloadSize), 0x78);
  payload.writeUInt32BE(index, 0);
  const parts: Buffer[] = [];
  const ends: number[] = [], payloadOffs: number[] = [], pidOffs: number[] = [];
  let off = 0;
  for (let k = 0; k < batch; k++) {
    const t = encodePublish(topics[k % topics.length]!, w.qos, payload);
    parts.push(t.bytes);
    payloadOffs.push(off + t.payloadOffset);
    pidOffs.push(t.packetIdOffset < 0 ? -1 : off + t.packetIdOffset);
    off += t.bytes.length;
    ends.push(off);
  }
  return { index, conn, template: Buffer.concat(parts), ends, payloadOffs, pidOffs, seq: 0, inflight: 0, nextPid: 1, blocked: false };
}

/** Writes the next n (<= batch) messages of p as one buffer; returns socket.write's verdict. */
function writeBatch(p: Pub, n: number): boolean {
  const len = p.ends[n - 1]!;
  const out = Buffer.allocUnsafe(len);
  p.template.copy(out, 0, 0, len);
  const stamp = w.latency ? process.hrtime.bigint() : 0n;
  for (let k = 0; k < n; k++) {
    const po = p.payloadOffs[k]!;
    out.writeUInt32BE(p.seq++ >>> 0, po + 4);
    if (w.latency) out.writeBigUInt64BE(stamp, po + 8);
    const io = p.pidOffs[k]!;
    if (io >= 0) {
      out[io] = p.nextPid >> 8;
      out[io + 1] = p.nextPid & 0xff;
      p.nextPid = p.nextPid === 65535 ? 1 : p.nextPid + 1;
    }
  }
  if (w.qos > 0) p.inflight += n;
  Atomics.add(counters, C_SENT, n);
  return p.conn.socket.write(out);
}

async function runPublishers(): Promise<void> {
  const pubs: Pub[] = await Promise.all(init.indexes.map(async (i) => {
    const conn = await connect(`lt-${w.runId}-p${i}`);
    watch(conn, `publisher ${i}`);
    return buildPub(i, conn);
  }));
  let running = false;
  let pumpQueued = false;
  let acked = 0;
  let doneWaiter: (() => void) | null = null;
  const batchOf = (p: Pub): number => p.ends.length;
  const subsPerMsg = Math.max(1, w.subscribers.length);

  const pump = (): void => {
    pumpQueued = false;
    if (!running || w.rate > 0) return;
    for (let round = 0; round < 64; round++) {
      let wrote = false;
      for (const p of pubs) {
        if (p.blocked) continue;
        let n = batchOf(p);
        if (w.qos > 0) {
          n = Math.min(n, w.inflightWindow - p.inflight);
          if (n < Math.min(batchOf(p), w.inflightWindow) / 2) continue; // wait for acks, avoid tiny writes
        } else {
          const delivered = Atomics.load(counters, C_DELIVERED);
          if (Atomics.load(counters, C_SENT) - delivered / subsPerMsg >= w.flowWindow) {
            // Sleep until a subscriber reports deliveries (or 5 ms), without spinning.
            const r = waitAsync(counters, C_DELIVERED, delivered, 5);
            if (r.async) void r.value.then(schedule);
            else schedule();
            return;
          }
        }
        if (!writeBatch(p, n)) {
          p.blocked = true;
          p.conn.socket.once('drain', () => { p.blocked = false; schedule(); });
        }
        wrote = true;
      }
      if (!wrote) return;
    }
    schedule();
  };
  function schedule(): void {
    if (pumpQueued) return;
    pumpQueued = true;
    setImmediate(pump);
  }

  for (const p of pubs) {
    p.conn.socket.on('data', (chunk: Buffer) => {
      let n = 0;
      p.conn.reader.feed(chunk, (buf, start) => {
        if (buf[start]! >> 4 === PUBACK) n++;
      });
      if (n === 0) return;
      p.inflight -= n;
      acked += n;
      Atomics.add(counters, C_ACKED, n);
      if (doneWaiter !== null && pubs.every((q) => q.inflight <= 0)) doneWaiter();
      schedule();
    });
  }

  // Fixed-rate mode: every ms, send what is due so far (total rate spread over all publishers).
  let rateTimer: NodeJS.Timeout | null = null;
  const startRate = (): void => {
    const t0 = process.hrtime.bigint();
    const perPub = w.rate / Math.max(1, w.publishers.length);
    const sentAt0 = pubs.map((p) => p.seq);
    rateTimer = setInterval(() => {
      const el = Number(process.hrtime.bigint() - t0) / 1e9;
      pubs.forEach((p, k) => {
        let due = Math.floor(el * perPub) - (p.seq - sentAt0[k]!);
        while (due > 0) {
          const n = Math.min(due, batchOf(p));
          writeBatch(p, n);
          due -= n;
        }
      });
    }, 1);
  };

  const ping = setInterval(() => { for (const p of pubs) p.conn.socket.write(PINGREQ_BYTES); }, (KEEPALIVE_S / 3) * 1000);
  report({ type: 'ready' });
  port.on('message', (m: DriverCommand) => {
    if (m.type === 'start') {
      running = true;
      if (w.rate > 0) startRate();
      else schedule();
    } else if (m.type === 'stop') {
      running = false;
      if (rateTimer !== null) clearInterval(rateTimer);
      const finish = (): void => {
        doneWaiter = null;
        closing = true;
        clearInterval(ping);
        for (const p of pubs) p.conn.socket.end(DISCONNECT_BYTES);
        report({ type: 'pubDone', sent: pubs.map((p) => p.seq), acked });
      };
      if (w.qos === 0 || pubs.every((p) => p.inflight <= 0)) finish();
      else {
        doneWaiter = finish;
        setTimeout(() => { if (doneWaiter !== null) finish(); }, 2000);
      }
    }
  });
}

(init.role === 'pub' ? runPublishers() : runSubscribers()).catch((e: unknown) => {
  fail(e instanceof Error ? e.message : String(e));
});
