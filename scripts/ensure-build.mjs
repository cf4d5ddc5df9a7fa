// `npm start`'s prestart: rebuilds dist/ when it is missing or older than a source file, so a pull or an edit never runs stale code. Plain JS, node builtins only.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = join(root, 'dist', 'src', 'server', 'cli.js');

/** Newest mtime of the .ts files under the compiled folders, plus the build config. */
function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of ['src', 'protocols', 'config']) walk(join(root, d));
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'package.json']) newest = Math.max(newest, statSync(join(root, f)).mtimeMs);
  return newest;
}

const stale = !existsSync(built) || statSync(built).mtimeMs < newestSource();
if (stale) {
  if (!existsSync(join(root, 'node_modules', 'typescript'))) {
    if (existsSync(built)) {
      process.stderr.write('iot-gateway: dist/ is older than the sources and TypeScript is not installed (npm install without --omit=dev builds it); starting the existing build\n');
      process.exit(0);
    }
    process.stderr.write('iot-gateway: dist/ is missing and TypeScript is not installed: run `npm install` (with dev dependencies), then `npm start`\n');
    process.exit(1);
  }
  process.stderr.write('iot-gateway: building dist/ (npm run build) ...\n');
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
