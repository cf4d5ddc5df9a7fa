// E2E restart: retained messages, persistent sessions (subscriptions + queued messages) survive a SIGTERM and a SIGKILL restart of a real gateway process; clean sessions do not; session expiry keeps running across a restart. Imports node:test, the process helper and the mqtt client helper.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IClientOptions } from 'mqtt';
import { GatewayProcess } from '../helpers/gateway-process.ts';
import { connectClient, sleep, waitUntil, type TestClient } from '../helpers/mqtt-clients.ts';

// flush `never` promises only a clean restart, so it runs with SIGTERM alone.
const CASES = [
  { how: 'term', flush: 'interval' },
  { how: 'kill9', flush: 'interval' },
  { how: 'kill9', flush: 'always' },
  { how: 'term', flush: 'never' },
] as const;

for (const { how, flush } of CASES) {
  describe(`restart after ${how === 'term' ? 'SIGTERM (graceful)' : 'SIGKILL'} with flush ${flush}`, () => {
    test('retained, persistent subscriptions and queued messages survive; a clean session does not; expiry continues', async () => {
      const gp = new GatewayProcess({ flush });
      const clients: TestClient[] = [];
      const connect = async (url: string, opts: IClientOptions): Promise<TestClient> => {
        const c = await connectClient(url, opts, 6000);
        clients.push(c);
        return c;
      };
      const tag = `${how}-${flush}-${process.pid}`;
      const p4: IClientOptions = { protocolVersion: 4, clientId: `p4-${tag}`, clean: false };
      const p5: IClientOptions = { protocolVersion: 5, clientId: `p5-${tag}`, clean: false, properties: { sessionExpiryInterval: 600 } };
      const e5: IClientOptions = { protocolVersion: 5, clientId: `e5-${tag}`, clean: false, properties: { sessionExpiryInterval: 2 } };
      const c4: IClientOptions = { protocolVersion: 4, clientId: `c4-${tag}`, clean: true };
      try {
        let g = await gp.start();
        // Persistent sessions subscribe and go offline; the clean one subscribes and stays connected until the stop.
        for (const [opts, qos] of [[p4, 1], [p5, 2], [e5, 1]] as const) {
          const c = await connect(g.url, opts);
          await c.client.subscribeAsync('q/#', { qos });
          await c.end();
        }
        const clean = await connect(g.url, c4);
        await clean.client.subscribeAsync('q/#', { qos: 1 });
        const pub = await connect(g.url, { protocolVersion: 4 });
        await pub.client.publishAsync('r/a', 'keep', { qos: 1, retain: true });
        await pub.client.publishAsync('r/gone', 'x', { qos: 1, retain: true });
        await pub.client.publishAsync('r/gone', '', { qos: 1, retain: true }); // empty retained payload deletes [MQTT-3.3.1-10]
        const n = 10;
        for (let i = 0; i < n; i++) await pub.client.publishAsync('q/x', `m${i}`, { qos: i % 2 === 0 ? 1 : 2 });
        await clean.waitFor(n, 5000);

        if (how === 'term') assert.equal(await gp.terminate(), 0, 'graceful stop exits 0');
        else await gp.kill9(); // right after the last ack: nothing gets time to flush later
        for (const c of clients.splice(0)) c.client.end(true);
        const restartedAt = Date.now();
        g = await gp.start();
        assert.ok(g.recovered.sessions === 3, `p4, p5, e5 images loaded and no clean one (got ${JSON.stringify(g.recovered)})`);

        // Retained: present with RETAIN 1 [MQTT-3.3.1-9]; the deleted one stays deleted.
        const r = await connect(g.url, { protocolVersion: 4 });
        await r.client.subscribeAsync('r/#', { qos: 1 });
        await r.waitFor(1, 5000);
        await sleep(200);
        assert.deepEqual(r.received.map((m) => [m.topic, m.payload, m.packet.retain]), [['r/a', 'keep', true]]);

        // Persistent sessions: resumed [MQTT-3.2.2-2], queued messages arrive once each, in order.
        const want = Array.from({ length: n }, (_, i) => `m${i}`);
        const s4 = await connect(g.url, p4);
        assert.equal(s4.connack.sessionPresent, true, 'v4 clean=false session present');
        const s5 = await connect(g.url, p5);
        assert.equal(s5.connack.sessionPresent, true, 'v5 expiry 600 session present');
        await s4.waitFor(n, 5000);
        await s5.waitFor(n, 5000);
        await sleep(200);
        const firsts = (c: TestClient): string[] => [...new Set(c.received.map((m) => m.payload))];
        assert.deepEqual(firsts(s4), want, 'v4 queued messages (QoS 1 may repeat, never reorder)');
        // mqtt.js emits a QoS 2 message only at PUBREL, so QoS 1 ones overtake it in 'message' order:
        // exactly once overall, and in order within each QoS [MQTT-4.6.0-6].
        const got5 = s5.received.map((m) => m.payload);
        assert.deepEqual([...got5].sort(), [...want].sort(), 'v5 queued QoS 1/2 messages exactly once');
        for (const q of [1, 2]) {
          const ofQos = (i: number): boolean => (i % 2 === 0 ? 1 : 2) === q;
          assert.deepEqual(got5.filter((p) => ofQos(Number(p.slice(1)))), want.filter((_, i) => ofQos(i)), `v5 QoS ${q} in order`);
        }

        // Their subscriptions survived: a live publish reaches them without a new SUBSCRIBE.
        const pub2 = await connect(g.url, { protocolVersion: 4 });
        await pub2.client.publishAsync('q/live', 'live', { qos: 1 });
        const hasLive = (c: TestClient): boolean => c.received.some((m) => m.payload === 'live');
        await waitUntil(() => hasLive(s4) && hasLive(s5), 3000, 'live message on both resumed sessions').catch(() => undefined);
        assert.ok(s4.received.some((m) => m.payload === 'live'), 'v4 subscription survived');
        assert.ok(s5.received.some((m) => m.payload === 'live'), 'v5 subscription survived');

        // The clean session is gone: no session, no subscription, nothing queued [MQTT-3.1.2-6].
        const again = await connect(g.url, { ...c4, clean: false });
        assert.equal(again.connack.sessionPresent, false, 'clean session not restored');
        await pub2.client.publishAsync('q/after', 'after', { qos: 1 });
        await sleep(300);
        assert.deepEqual(again.received, [], 'no subscription or queue survived for the clean session');

        // Expiry continues: 2 s from its disconnect, measured across the restart [MQTT-3.1.2-23].
        const wait = restartedAt + 3000 - Date.now();
        if (wait > 0) await sleep(wait);
        const e = await connect(g.url, e5);
        assert.equal(e.connack.sessionPresent, false, 'a v5 session with expiry 2 s is gone 3 s after the restart');
        await sleep(200);
        assert.deepEqual(e.received, [], 'the expired session queued nothing');
      } finally {
        for (const c of clients) c.client.end(true);
        await gp.dispose();
      }
    });
  });
}
