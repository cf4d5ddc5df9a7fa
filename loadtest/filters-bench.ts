// Subscription-state benchmark: F filters on one persistent MQTT session in P SUBSCRIBE packets against a real gateway process; per-packet SUBACK time (linear, not quadratic), RSS, then kill -9 and restart with every filter still there. Imports node builtins, mqtt and the gateway-process test helper.
//
// Usage: node --import tsx loadtest/filters-bench.ts [--filters 10000] [--packets 10]
// Target (issue 8): 10,000 filters in 10 SUBSCRIBE packets in linear time, gateway RSS < 300 MB.
// "Linear" is checked as: the later half of the packets takes on average at most 3x the earlier half
// (+50 ms for noise); a rewrite of the whole session per filter grows with the square of the count and
// fails this by far.
// Prints one JSON line; exits 1 when a target is missed.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { GatewayProcess } from '../test/helpers/gateway-process.ts';

export interface FiltersBenchResult {
  filters: number;
  packets: number;
  packetMs: number[];
  totalMs: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  restartMs: number;
  restoredSubscriptions: boolean;
  linear: boolean;
  ok: boolean;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : -1;
}

function connect(url: string, clientId: string): Promise<{ c: MqttClient; present: boolean; got: string[] }> {
  return new Promise((resolve, reject) => {
    const got: string[] = [];
    const c = mqtt.connect(url, { clientId, clean: false, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 30_000 });
    c.on('message', (t) => got.push(t));
    c.once('connect', (ack) => resolve({ c, present: ack.sessionPresent, got }));
    c.once('error', reject);
  });
}

export async function runFiltersBench(filters: number, packets: number): Promise<FiltersBenchResult> {
  const gp = new GatewayProcess({ flush: 'interval', startTimeoutMs: 60_000 });
  try {
    let g = await gp.start();
    const rssBeforeMb = rssMb(g.pid);
    const { c } = await connect(g.url, 'fb-session');
    const per = Math.ceil(filters / packets);
    const packetMs: number[] = [];
    const t0 = Date.now();
    for (let k = 0; k < packets; k++) {
      const map: Record<string, { qos: 0 | 1 | 2 }> = {};
      for (let i = k * per; i < Math.min(filters, (k + 1) * per); i++) map[`fb/${i}/+/x`] = { qos: 1 };
      const t = Date.now();
      await c.subscribeAsync(map); // one SUBSCRIBE packet with `per` filters
      packetMs.push(Date.now() - t);
    }
    const totalMs = Date.now() - t0;
    const rssAfterMb = rssMb(g.pid);
    c.end(true);
    const killedAt = Date.now();
    await gp.kill9();
    g = await gp.start();
    const restartMs = Date.now() - killedAt;
    const back = await connect(g.url, 'fb-session');
    const pub = await connect(g.url, 'fb-pub');
    await pub.c.publishAsync(`fb/${filters - 1}/y/x`, 'last', { qos: 1 });
    await pub.c.publishAsync('fb/0/y/x', 'first', { qos: 1 });
    const end = Date.now() + 10_000;
    while (back.got.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const restoredSubscriptions = back.present && back.got.length === 2;
    back.c.end(true);
    pub.c.end(true);
    const half = Math.floor(packetMs.length / 2);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const linear = mean(packetMs.slice(packetMs.length - half)) <= 3 * mean(packetMs.slice(0, half)) + 50;
    const ok = linear && rssAfterMb < 300 && restoredSubscriptions;
    return { filters, packets, packetMs, totalMs, rssBeforeMb, rssAfterMb, restartMs, restoredSubscriptions, linear, ok };
  } finally {
    await gp.dispose();
  }
}

const USAGE = `usage: node --import tsx loadtest/filters-bench.ts [--filters 10000] [--packets 10]
  F filters on one persistent session in P SUBSCRIBE packets: per-packet time (linear), RSS (< 300 MB),
  every filter back after kill -9. Exit 1 when a target is missed.
`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { filters: { type: 'string', default: '10000' }, packets: { type: 'string', default: '10' }, help: { type: 'boolean', default: false } } });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const r = await runFiltersBench(Number(values.filters), Number(values.packets));
  console.log(JSON.stringify(r));
  process.exitCode = r.ok ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
