// The dashboard at / in a real browser, fed by the gateway's own $SYS topics: loads with no request leaving the machine, shows clients coming and going, the topic tree, partitions and the rate chart; saves a screenshot to test-artifacts/. Imports the gateway, browser, MQTT and STOMP test helpers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { Browser } from 'playwright-core';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { artifactsDir, launchBrowser, openPage, waitInPage, type WatchedPage } from '../helpers/browser.ts';
import { RawStomp } from '../helpers/stomp-clients.ts';
import { offsetKey } from '../../src/core/consumer-group.ts';

const SYS_INTERVAL_MS = 200; // $SYS every 200 ms keeps each wait short

let tg: TestGateway;
let browser: Browser;
let origin: string;

before(async () => {
  tg = await startGateway({ sys: { intervalMs: SYS_INTERVAL_MS } });
  origin = `http://127.0.0.1:${tg.httpPort}`;
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await tg?.close();
});

/** Opens / and waits until the page's MQTT connection is live and the first $SYS/gateway/stats was rendered. */
async function openDashboard(): Promise<WatchedPage> {
  const w = await openPage(browser);
  const res = await w.page.goto(`${origin}/`);
  assert.equal(res?.status(), 200);
  await w.page.waitForSelector('#conn.live', { timeout: 5000 });
  await waitInPage(w.page, `/^\\d+$/.test(document.getElementById('clients-connected').textContent)`, 5000, 'the first $SYS/gateway/stats');
  return w;
}

const text = (w: WatchedPage, selector: string): Promise<string> => w.page.locator(selector).first().innerText();
const js = (v: unknown): string => JSON.stringify(v);
/** In-page expression: the clients-table row for this client id (or null). */
const clientRow = (id: string): string => `document.querySelector(${js(`#clients-table tr[data-key=${js(id)}]`)})`;

test('the handler serves the page, its assets and the vendored bundles; other paths fall through', async () => {
  const page = await fetch(`${origin}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  const html = await page.text();
  assert.match(html, /src="\/dashboard\/vendor\/mqtt\.min\.js"/);
  assert.doesNotMatch(html, /https?:\/\//, 'the page references no other host');
  for (const [path, type] of [
    ['/dashboard/app.js', /^text\/javascript/],
    ['/dashboard/style.css', /^text\/css/],
    ['/dashboard/vendor/mqtt.min.js', /^text\/javascript/],
    ['/dashboard/vendor/stomp.umd.min.js', /^text\/javascript/],
  ] as const) {
    const r = await fetch(`${origin}${path}`);
    assert.equal(r.status, 200, path);
    assert.match(r.headers.get('content-type') ?? '', type, path);
    assert.ok((await r.arrayBuffer()).byteLength > 500, `${path} has a body`);
  }
  const head = await fetch(`${origin}/dashboard/app.js`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal((await fetch(`${origin}/`, { method: 'POST' })).status, 405);
  assert.equal((await fetch(`${origin}/dashboard/nope.js`)).status, 404);
  assert.equal((await fetch(`${origin}/healthz`)).status, 200, 'earlier routes still answer');
});

test('the dashboard goes live from the gateway alone: no request leaves 127.0.0.1, no errors, partitions from $SYS', async () => {
  const w = await openDashboard();
  try {
    // The dashboard is itself an MQTT-over-WebSocket client: it counts itself.
    assert.ok(Number(await text(w, '#clients-connected')) >= 1);
    assert.ok(Number(await text(w, '#clients-ws')) >= 1);
    await waitInPage(w.page, `document.querySelector('#clients-table tr[data-key^="dashboard-"]') !== null`, 3000, "the dashboard's own row in the clients list");
    // persistence is on: one row per log partition, keyed by partition number
    const parts = tg.config.persistence.partitions;
    await waitInPage(w.page, `document.querySelectorAll('#partitions-table tbody tr[data-key]').length === ${parts}`, 3000, 'one row per log partition');
    assert.match(await text(w, '#version'), /^\d+\.\d+\.\d+/);
    assert.deepEqual(w.offHost, []);
    assert.deepEqual(w.errors, []);
  } finally {
    await w.close();
  }
});

test('the dashboard shows a client that connects, and the connected count falls when it leaves ($SYS data)', async () => {
  const w = await openDashboard();
  const id = `sensor-dash-${process.pid}`;
  let client: mqtt.MqttClient | undefined;
  try {
    const before = Number(await text(w, '#clients-connected'));
    client = await mqtt.connectAsync(tg.mqttUrl, { clientId: id, reconnectPeriod: 0, connectTimeout: 3000 });
    await waitInPage(w.page, `${clientRow(id)} !== null`, 4000, 'the new client in the clients list');
    const cells = await w.page.evaluate(`[...${clientRow(id)}.cells].map((c) => c.textContent)`) as string[];
    assert.equal(cells[0], id);
    assert.equal(cells[1], 'mqtt');
    assert.equal(cells[2], 'tcp');
    await waitInPage(w.page, `document.getElementById('clients-connected').textContent === ${js(String(before + 1))}`, 4000, 'the connected count to rise by one');
    assert.equal(Number(await text(w, '#clients-tcp')) >= 1, true);

    await client.endAsync();
    client = undefined;
    await waitInPage(w.page, `${clientRow(id)} === null`, 4000, 'the client to leave the clients list');
    await waitInPage(w.page, `document.getElementById('clients-connected').textContent === ${js(String(before))}`, 4000, 'the connected count to fall back');
    assert.deepEqual(w.errors, []);
  } finally {
    await client?.endAsync();
    await w.close();
  }
});

test('the topic tree shows retained and live values per topic, and its levels collapse', async () => {
  const pub = await mqtt.connectAsync(tg.mqttUrl, { reconnectPeriod: 0, connectTimeout: 3000 });
  try {
    await pub.publishAsync('plant/line1/temp', '21.5', { qos: 1, retain: true });
    const w = await openDashboard();
    try {
      const temp = `#topic-tree details[data-topic="plant/line1/temp"]`;
      await waitInPage(w.page, `document.querySelector('${temp} .value')?.textContent === '21.5'`, 3000, 'the retained value in the tree');
      assert.equal(await w.page.locator(`${temp} .badge`).count(), 1, 'retained value is marked R');

      await pub.publishAsync('plant/line1/humidity', '40 %', { qos: 0 });
      const hum = `#topic-tree details[data-topic="plant/line1/humidity"]`;
      await waitInPage(w.page, `document.querySelector('${hum} .value')?.textContent === '40 %'`, 3000, 'the live value in the tree');
      assert.equal(await w.page.locator(`${hum} .badge`).count(), 0, 'a live value is not marked retained');
      // siblings are sorted by name
      assert.deepEqual(
        await w.page.evaluate(`[...document.querySelectorAll('#topic-tree details[data-topic="plant/line1"] > div > details')].map((d) => d.dataset.topic)`),
        ['plant/line1/humidity', 'plant/line1/temp'],
      );
      // $SYS topics are in the tree too (subscribed separately: `#` does not match them [MQTT-4.7.2-1])
      assert.equal(await w.page.locator('#topic-tree details[data-topic="$SYS/gateway/stats"]').count(), 1);

      assert.equal(await w.page.locator(temp).isVisible(), true);
      await w.page.locator('#topic-tree details[data-topic="plant"] > summary').click();
      assert.equal(await w.page.locator(temp).isVisible(), false, 'closing "plant" hides its levels');
      // a new value does not reopen a level the user closed
      await pub.publishAsync('plant/line1/temp', '22.0', { qos: 1, retain: true });
      await waitInPage(w.page, `document.querySelector('${temp} .value')?.textContent === '22.0'`, 3000, 'the updated value in the tree');
      assert.equal(await w.page.locator(temp).isVisible(), false);
      assert.deepEqual(w.errors, []);
    } finally {
      await w.close();
    }
  } finally {
    await pub.publishAsync('plant/line1/temp', '', { qos: 1, retain: true }); // clear the retained value
    await pub.endAsync();
  }
});

test('with traffic on both protocols the chart moves; a screenshot is saved to test-artifacts/dashboard.png', async () => {
  const w = await openDashboard();
  const pub = await mqtt.connectAsync(tg.mqttUrl, { clientId: 'sensor-line-1', reconnectPeriod: 0, connectTimeout: 3000 });
  const sub = await mqtt.connectAsync(`ws://127.0.0.1:${tg.httpPort}/mqtt`, { clientId: 'ws-viewer', reconnectPeriod: 0, connectTimeout: 3000 });
  const stomp = await RawStomp.connect(tg.stompPort, { login: 'ops-console' });
  try {
    await sub.subscribeAsync('sensors/#', { qos: 1 });
    await stomp.withReceipt('SUBSCRIBE', { id: '1', destination: '/topic/sensors/#', ack: 'auto' });
    await pub.publishAsync('sensors/boiler/pressure', '1.8 bar', { qos: 1, retain: true });
    await pub.publishAsync('sensors/boiler/state', JSON.stringify({ on: true, setpoint: 70 }), { qos: 1, retain: true });
    // ~2 s of traffic, bounded in count: 40 rounds of 5 publishes
    for (let i = 0; i < 40; i++) {
      await Promise.all([1, 2, 3, 4, 5].map((n) => pub.publishAsync(`sensors/room${n}/temp`, (20 + ((i * n) % 7) / 2).toFixed(1), { qos: 1 })));
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitInPage(w.page, `document.getElementById('rate-line-in').getAttribute('points').split(' ').length >= 5`, 4000, 'five chart samples');
    await waitInPage(w.page, `${clientRow('sensor-line-1')} && ${clientRow('ws-viewer')} && Number(document.getElementById('clients-stomp').textContent) >= 1`, 4000, 'TCP, WebSocket and STOMP clients in the lists');
    assert.notEqual(await text(w, '#rate-max'), '0');
    // A consumer group 'billing' that committed 10 records in its busiest partition: $SYS reports end - committed as lag.
    const log = tg.gateway.broker.log!;
    const busiest = Array.from({ length: log.partitions }, (_, p) => p).sort((a, b) => log.endOffset(b) - log.endOffset(a))[0]!;
    await tg.gateway.broker.state!.put(offsetKey('billing', busiest), Buffer.from(JSON.stringify({ offset: 10, at: Date.now() })));
    const row = `#groups-table tr[data-key="billing/${busiest}"]`;
    await waitInPage(w.page, `document.querySelector(${js(row)}) !== null`, 3000, 'the billing group in the groups table');
    const lag = (await w.page.locator(`${row} td`).last().innerText()).replace(/,/g, '');
    assert.equal(Number(lag), log.endOffset(busiest) - 10);

    assert.ok(Number((await text(w, '#messages-in')).replace(/,/g, '')) >= 200);

    const file = join(artifactsDir(), 'dashboard.png');
    await w.page.screenshot({ path: file, fullPage: true });
    assert.ok(statSync(file).size > 20_000, 'the screenshot has content');
    assert.deepEqual(w.errors, []);
    assert.deepEqual(w.offHost, []);
  } finally {
    stomp.close();
    await sub.endAsync();
    await pub.endAsync();
    await w.close();
  }
});
