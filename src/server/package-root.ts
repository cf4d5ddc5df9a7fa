// The gateway package's root directory and version, found from this file whether it runs from src/ (tsx) or from the compiled dist/src/. Imports node builtins only.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error(`cannot find the gateway's package.json above ${fileURLToPath(import.meta.url)}`);
}

/** The directory holding package.json, config/, docs/ and src/server/dashboard/. */
export const PACKAGE_ROOT: string = findRoot();

/** The package version ($SYS/broker/version, --version). */
export const GATEWAY_VERSION: string = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
