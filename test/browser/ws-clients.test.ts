// Real-browser clients: mqtt.js and @stomp/stompjs browser builds (served by the gateway) over /mqtt and /stomp, and a browser MQTT client talking to a TCP STOMP client. Imports the gateway, browser and STOMP test helpers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gotoGatewayOrigin, launchBrowser, openPage, waitInPage, type WatchedPage } from '../helpers/browser.ts';
import { readBody, stompitConnect, waitFor } from '../helpers/stomp-clients.ts';

// In-page harness (plain JS, passed as a string: functions compiled by tsx are not safe to serialize into a page).
// Messages from either client land in harness.received as { via, topic, body }.
const HARNESS = `
window.harness = {
  received: [],
  mqtt: null,
  stomp: null,
  connectMqtt(url, clientId) {
    return new Promise((resolve, reject) => {
      const c = mqtt.connect(url, { clientId, reconnectPeriod: 0, connectTimeout: 3000, protocolVersion: 5 });
      c.on('message', (topic, payload) => harness.received.push({ via: 'mqtt', topic, body: new TextDecoder().decode(payload) }));
      c.once('connect', () => { harness.mqtt = c; resolve(true); });
      c.once('error', (e) => reject(String(e)));
    });
  },
  sub(filter) {
    return new Promise((resolve, reject) =>
      harness.mqtt.subscribe(filter, { qos: 1 }, (err, granted) => (err ? reject(String(err)) : resolve(granted.map((g) => g.qos)))));
  },
  pub(topic, body) {
    return new Promise((resolve, reject) => harness.mqtt.publish(topic, body, { qos: 1 }, (err) => (err ? reject(String(err)) : resolve(true))));
  },
  connectStomp(url) {
    return new Promise((resolve, reject) => {
      const c = new StompJs.Client({ brokerURL: url, reconnectDelay: 0, heartbeatIncoming: 0, heartbeatOutgoing: 0, connectHeaders: { host: 'localhost' } });
      c.onConnect = (frame) => { harness.stomp = c; resolve(frame.headers.version); };
      c.onStompError = (f) => reject('STOMP ERROR ' + f.headers.message);
      c.onWebSocketError = () => reject('websocket error');
      c.activate();
    });
  },
  withReceipt(send) {
    return new Promise((resolve) => {
      const receipt = 'r-' + Math.random().toString(36).slice(2);
      harness.stomp.watchForReceipt(receipt, () => resolve(true));
      send(receipt);
    });
  },
  stompSub(destination) {
    return harness.withReceipt((receipt) => harness.stomp.subscribe(destination,
      (m) => harness.received.push({ via: 'stomp', topic: m.headers.destination, body: m.body }), { receipt }));
  },
  stompSend(destination, body) {
    return harness.withReceipt((receipt) => harness.stomp.publish({ destination, body, headers: { receipt } }));
  },
};`;

let tg: TestGateway;
let browser: Browser;
let origin: string;

before(async () => {
  tg = await startGateway({ persistence: { enabled: false } });
  origin = `http://127.0.0.1:${tg.httpPort}`;
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await tg?.close();
});

/** A gateway-served page with the served bundle(s) and the harness loaded. */
async function harnessPage(bundles: ('mqtt.min.js' | 'stomp.umd.min.js')[]): Promise<WatchedPage> {
  const w = await openPage(browser);
  await gotoGatewayOrigin(w.page, origin);
  for (const b of bundles) await w.page.addScriptTag({ url: `/dashboard/vendor/${b}` });
  await w.page.addScriptTag({ content: HARNESS });
  return w;
}

const js = (v: unknown): string => JSON.stringify(v);
/** Waits in the page until harness.received has a message with this body. */
async function received(w: WatchedPage, via: string, body: string): Promise<{ via: string; topic: string; body: string }> {
  const cond = `harness.received.find((m) => m.via === ${js(via)} && m.body === ${js(body)})`;
  await waitInPage(w.page, cond, 3000, `${via} message ${js(body)}`);
  return (await w.page.evaluate(cond)) as { via: string; topic: string; body: string };
}

test('mqtt.js in a page publishes and receives over /mqtt (QoS 1, MQTT 5)', async () => {
  const w = await harnessPage(['mqtt.min.js']);
  try {
    assert.equal(await w.page.evaluate(`harness.connectMqtt(${js(`ws://127.0.0.1:${tg.httpPort}/mqtt`)}, 'browser-mqtt-1')`), true);
    assert.deepEqual(await w.page.evaluate(`harness.sub('browser/echo/+')`), [1]);
    await w.page.evaluate(`harness.pub('browser/echo/1', 'hello from the page')`);
    const m = await received(w, 'mqtt', 'hello from the page');
    assert.equal(m.topic, 'browser/echo/1');
    assert.deepEqual(w.errors, []);
    assert.deepEqual(w.offHost, []);
  } finally {
    await w.close();
  }
});

test('@stomp/stompjs in a page sends and receives over /stomp (STOMP 1.2, receipts)', async () => {
  const w = await harnessPage(['stomp.umd.min.js']);
  try {
    assert.equal(await w.page.evaluate(`harness.connectStomp(${js(`ws://127.0.0.1:${tg.httpPort}/stomp`)})`), '1.2');
    await w.page.evaluate(`harness.stompSub('/topic/browser/stomp/#')`);
    await w.page.evaluate(`harness.stompSend('/topic/browser/stomp/a', 'stomp from the page')`);
    const m = await received(w, 'stomp', 'stomp from the page');
    assert.equal(m.topic, '/topic/browser/stomp/a');
    assert.deepEqual(w.errors, []);
    assert.deepEqual(w.offHost, []);
  } finally {
    await w.close();
  }
});

test('a browser MQTT client and a TCP STOMP client (stompit) exchange messages both ways', async () => {
  const w = await harnessPage(['mqtt.min.js']);
  const tcp = await stompitConnect(tg.stompPort);
  try {
    await w.page.evaluate(`harness.connectMqtt(${js(`ws://127.0.0.1:${tg.httpPort}/mqtt`)}, 'browser-cross-1')`);
    await w.page.evaluate(`harness.sub('cross/to-browser')`);
    const atTcp: { destination: string; body: string }[] = [];
    await new Promise<void>((resolve) => {
      tcp.subscribe({ destination: '/topic/cross/to-tcp', ack: 'auto' }, (err, msg) => {
        if (!err) void readBody(msg).then((body) => atTcp.push({ destination: msg.headers.destination ?? '', body }));
      });
      // The gateway handles one connection's frames in order, so a RECEIPT for a SEND written after the SUBSCRIBE
      // means the subscription is in place (stompit adds the receipt header itself when onReceipt is given).
      tcp.send({ destination: '/topic/cross/warmup' }, { onReceipt: () => resolve() }).end();
    });

    await new Promise<void>((resolve) => {
      const frame = tcp.send({ destination: '/topic/cross/to-browser', 'content-type': 'text/plain' }, { onReceipt: () => resolve() });
      frame.write('stomp tcp -> browser mqtt');
      frame.end();
    });
    const m = await received(w, 'mqtt', 'stomp tcp -> browser mqtt');
    assert.equal(m.topic, 'cross/to-browser');

    await w.page.evaluate(`harness.pub('cross/to-tcp', 'browser mqtt -> stomp tcp')`);
    await waitFor(() => atTcp.length > 0, 3000, 'the STOMP TCP client to receive the browser message');
    assert.deepEqual(atTcp, [{ destination: '/topic/cross/to-tcp', body: 'browser mqtt -> stomp tcp' }]);
    assert.deepEqual(w.errors, []);
  } finally {
    tcp.destroy();
    await w.close();
  }
});
