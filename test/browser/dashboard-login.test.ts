// The dashboard behind http.adminToken in a real browser: anonymous is refused so it asks for the token; with the token
// (form or #token=) its WebSocket client logs in as `$admin` and shows $SYS/gateway/clients. Imports the gateway and browser helpers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { launchBrowser, openPage, waitInPage } from '../helpers/browser.ts';

const TOKEN = 'dashboard-admin-token-0123';
let tg: TestGateway;
let browser: Browser;
let origin: string;

before(async () => {
  tg = await startGateway({ http: { adminToken: TOKEN }, auth: { allowAnonymous: false }, sys: { intervalMs: 200 } });
  origin = `http://127.0.0.1:${tg.httpPort}`;
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await tg?.close();
});

test('without the token the page asks for it; the form logs in and the live view appears', async () => {
  const w = await openPage(browser);
  await w.page.goto(`${origin}/`);
  await w.page.waitForSelector('#login:not([hidden])', { timeout: 5000 });
  assert.match(await w.page.locator('#conn').innerText(), /log in/);
  await w.page.fill('#login-token', TOKEN);
  await w.page.click('#login button');
  await w.page.waitForSelector('#conn.live', { timeout: 5000 });
  await waitInPage(w.page, `document.querySelectorAll('#clients-table tbody tr').length >= 1`, 5000, 'the clients table from $SYS/gateway/clients');
  assert.equal(await w.page.locator('#login').isHidden(), true);
  await w.page.close();
});

test('#token=<token> logs in and is removed from the address; a wrong token is refused', async () => {
  const w = await openPage(browser);
  await w.page.goto(`${origin}/#token=${encodeURIComponent(TOKEN)}`);
  await w.page.waitForSelector('#conn.live', { timeout: 5000 });
  assert.doesNotMatch(w.page.url(), /token/);
  await w.page.close();
  const bad = await openPage(browser);
  await bad.page.goto(`${origin}/#token=wrong-token-0123456789`);
  await bad.page.waitForSelector('#login:not([hidden])', { timeout: 5000 });
  assert.match(await bad.page.locator('#conn').innerText(), /refused/);
  await bad.page.close();
});
