// Test helper for real-browser suites: launches Debian's chromium through playwright-core and opens pages that record errors and any request leaving 127.0.0.1. Imports node builtins and playwright-core.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** test-artifacts/ at the repository root (git-ignored); created on demand. */
export function artifactsDir(): string {
  const dir = join(fileURLToPath(new URL('../../', import.meta.url)), 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Launches headless chromium. Throws (the test fails, it does not skip) when /usr/bin/chromium is missing. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing: install Debian's chromium (bash test/install-system-deps.sh, run by npm test)`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 20_000 });
}

/** A page plus what it did wrong: console errors, uncaught exceptions, HTTP errors (but a missing /favicon.ico), and requests (HTTP or WebSocket) to any host but 127.0.0.1. */
export interface WatchedPage {
  page: Page;
  errors: string[];
  offHost: string[];
  close(): Promise<void>;
}

/** Opens a page in a fresh context; every request to another host is recorded. */
export async function openPage(browser: Browser): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(5000);
  const errors: string[] = [];
  const offHost: string[] = [];
  // HTTP failures are recorded by URL from the responses; the console's copy of them says no URL.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && new URL(r.url()).pathname !== '/favicon.ico') errors.push(`http ${r.status()}: ${r.url()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('websocket', (ws) => {
    if (new URL(ws.url()).hostname !== '127.0.0.1') offHost.push(ws.url());
  });
  // Observed, not intercepted: a context-wide route() also captures WebSocket upgrades and breaks them.
  context.on('request', (req) => {
    const url = new URL(req.url());
    const network = ['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol); // data: and blob: never leave the page
    if (network && url.hostname !== '127.0.0.1') offHost.push(url.href);
  });
  return { page, errors, offHost, close: () => context.close() };
}

/**
 * Navigates to a document the gateway itself serves (/healthz, plain text), so scripts added afterwards run with the
 * gateway's origin. It must come from the gateway: Chrome's Local Network Access checks refuse WebSockets to
 * 127.0.0.1 from a document that was not loaded from a loopback address (e.g. one fulfilled by page.route).
 */
export async function gotoGatewayOrigin(page: Page, origin: string): Promise<void> {
  const res = await page.goto(`${origin}/healthz`);
  if (res?.status() !== 200) throw new Error(`GET ${origin}/healthz answered ${res?.status()}`);
}

/**
 * Polls the in-page expression `expr` every 25 ms until it is truthy; fails with `what` after `ms`.
 * Used instead of page.waitForFunction, whose string predicates are eval'ed in the page and so refused by the
 * dashboard's Content-Security-Policy (no 'unsafe-eval'); page.evaluate goes through DevTools and is not.
 */
export async function waitInPage(page: Page, expr: string, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    last = await page.evaluate(expr);
    if (last) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what} (${expr} was ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
