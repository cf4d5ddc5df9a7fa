#!/usr/bin/env node
// The iot-gateway command (package.json "bin"): runs the compiled CLI from dist/, which `npm install` builds (the "prepare" script).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/src/server/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('iot-gateway: the compiled gateway (dist/) is missing: run `npm run build` in the package directory (`npm install` does it)\n');
  process.exit(1);
}
await import(cli.href);
