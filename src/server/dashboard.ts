// HTTP handler for the dashboard: serves `/`, its static files (src/server/dashboard/) and the browser builds of mqtt.js and @stomp/stompjs from node_modules. Imports node builtins, the request-path helper and package-root.ts.
//
// Routes (GET and HEAD; any other method on these paths gets 405):
//   /                                   -> dashboard/index.html
//   /dashboard/app.js, /dashboard/style.css
//   /dashboard/vendor/mqtt.min.js       -> node_modules/mqtt/dist/mqtt.min.js (global `mqtt`)
//   /dashboard/vendor/stomp.umd.min.js  -> node_modules/@stomp/stompjs/bundles/stomp.umd.min.js (global `StompJs`)
// Every other path returns false so the next handler (or the 404) answers. Nothing the page loads comes from
// another host: the Content-Security-Policy only allows this origin (scripts, styles, images, fetch and WebSocket).
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { requestPath } from '../../protocols/ws/request-path.ts';
import { PACKAGE_ROOT } from './package-root.ts';

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

interface Asset {
  file: string;
  type: string;
}

// The page's files stay in the source tree (src/server/dashboard/); the compiled dist/ finds them from the package root.
const here = join(PACKAGE_ROOT, 'src', 'server');
const require = createRequire(import.meta.url);

/** The root directory of an installed package: walks up from its resolved entry point to `node_modules/<name>`. */
function packageRoot(name: string): string {
  let dir = dirname(require.resolve(name));
  const tail = `${sep}node_modules${sep}${name.split('/').join(sep)}`;
  for (let i = 0; i < 10 && !dir.endsWith(tail); i++) dir = dirname(dir);
  if (!dir.endsWith(tail)) throw new Error(`cannot locate the package directory of ${name}`);
  return dir;
}

function assets(): Map<string, Asset> {
  const js = 'text/javascript; charset=utf-8';
  return new Map<string, Asset>([
    ['/', { file: join(here, 'dashboard', 'index.html'), type: 'text/html; charset=utf-8' }],
    ['/dashboard/app.js', { file: join(here, 'dashboard', 'app.js'), type: js }],
    ['/dashboard/style.css', { file: join(here, 'dashboard', 'style.css'), type: 'text/css; charset=utf-8' }],
    ['/dashboard/vendor/mqtt.min.js', { file: join(packageRoot('mqtt'), 'dist', 'mqtt.min.js'), type: js }],
    ['/dashboard/vendor/stomp.umd.min.js', { file: join(packageRoot('@stomp/stompjs'), 'bundles', 'stomp.umd.min.js'), type: js }],
  ]);
}

const CSP = [
  "default-src 'self'",
  "connect-src 'self' ws: wss:", // the page is an MQTT-over-WebSocket client of this same gateway
  "img-src 'self' data:",
  "worker-src 'self' blob:", // mqtt.js runs its keepalive timers in a blob: worker
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Creates the dashboard route. Files are read on first request and kept in memory (a few hundred KB);
 * with `cache: false` they are re-read on every request (for editing the page while the gateway runs).
 */
export function dashboardHandler(opts: { cache?: boolean } = {}): HttpHandler {
  const cache = opts.cache ?? true;
  const routes = assets();
  const bodies = new Map<string, Buffer>();
  return (req, res) => {
    const path = requestPath(req.url);
    if (path === undefined) return false;
    const key = path === '/index.html' ? '/' : path;
    const asset = routes.get(key);
    if (!asset) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return true;
    }
    let body = cache ? bodies.get(key) : undefined;
    if (!body) {
      try {
        body = readFileSync(asset.file);
      } catch {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`dashboard asset missing: ${path}\n`);
        return true;
      }
      if (cache) bodies.set(key, body);
    }
    res.writeHead(200, {
      'content-type': asset.type,
      'content-length': body.length,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      'content-security-policy': CSP,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
