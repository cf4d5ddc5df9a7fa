// Turns the usual start failures (a port in use, a privileged port, a foreign address, an unwritable data dir) into one line that says what to do. Imports the config schema and flags.
import { CONFIG_KEYS } from '../../config/schema.ts';
import { KEY_FLAGS } from './flags.ts';

/** A start failure the operator can fix: printed as one line, exit 1. */
export class StartupError extends Error {
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'StartupError';
  }
}

/** "--mqtt-port, GATEWAY_MQTT_PORT or mqtt.port": every way to set `key`. */
export function waysToSet(key: string): string {
  const flag = KEY_FLAGS.find(([, k]) => k === key)?.[0];
  const env = CONFIG_KEYS.find((k) => k.path === key)?.env;
  return [flag ? `--${flag}` : `--set ${key}=...`, env, key].filter(Boolean).join(', ').replace(/, ([^,]+)$/, ' or $1');
}

/** Runs a listen; a known failure becomes a StartupError naming `portKey` / `hostKey` and the fix. */
export async function bindOrExplain<T>(listen: () => Promise<T>, portKey: string, port: number, hostKey: string, host: string): Promise<T> {
  try {
    return await listen();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new StartupError(`port ${port} on ${host} (${portKey}) is already in use: stop the process holding it or choose another port with ${waysToSet(portKey)} (0 picks a free port)`, err);
    }
    if (code === 'EACCES') {
      throw new StartupError(`port ${port} (${portKey}) needs privileges this user lacks: choose a port above 1023 with ${waysToSet(portKey)}, or grant CAP_NET_BIND_SERVICE`, err);
    }
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      throw new StartupError(`${host} (${hostKey}) is not an address of this machine: set ${waysToSet(hostKey)} to one of its addresses, or 0.0.0.0 for all`, err);
    }
    throw err;
  }
}

const DIR_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EEXIST', 'ENOSPC', 'EISDIR']);

/** Opens storage; a permissions / file-type / space failure becomes a StartupError about the data dir. */
export async function openOrExplain<T>(open: () => Promise<T>, dataDir: string): Promise<T> {
  try {
    return await open();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== undefined && DIR_CODES.has(code)) {
      const what = code === 'ENOSPC' ? 'has no space left' : code === 'ENOTDIR' || code === 'EEXIST' ? 'is not a directory (or a file is in the way)' : 'cannot be written by this user';
      throw new StartupError(`data dir ${dataDir} (dataDir) ${what} [${(err as Error).message}]: fix it, or choose another directory with ${waysToSet('dataDir')}`, err);
    }
    throw err;
  }
}
