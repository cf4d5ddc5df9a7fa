// startHttpSinks(broker, config, deps) -> { stop, status }: starts one HttpSink per `bridges.http` entry over the broker's log and state store, and publishes their $SYS topics. Imports core and ./ modules, pino types.
//
// Contract: `config` is the `bridges.http` list as config validation left it (config/schema.ts runs
// checkHttpSinks); tokenFile and tls.ca are read here, at start, and a file that cannot be read stops the start
// with a CONFIG_INVALID error naming the key. Needs persistence (a sink is a cursor in the log).
// stop() ends every sink (in-flight requests aborted, their batches stay uncommitted) and the $SYS timer; call it
// before the broker and the store close.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Broker } from '../../core/broker.ts';
import { gatewayError } from '../../core/errors.ts';
import { httpSinkOptions, type HttpSinkOptions } from './options.ts';
import type { SinkStatus } from './sink.ts';
import { sysMessages } from './sys.ts';

export { registerHttpSinkMetrics } from './metrics.ts';
export { checkHttpSinks, type HttpSinkOptions } from './options.ts';
export type { SinkStatus } from './sink.ts';

export interface HttpSinksDeps {
  logger: Logger;
  /** $SYS/broker/bridges/<name>/... every this many ms; 0 / undefined = not published (config sys.intervalMs). */
  sysIntervalMs?: number;
}

export interface HttpSinks {
  stop(): Promise<void>;
  status(): SinkStatus[];
}

function readKeyFile(path: string, key: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw gatewayError('CONFIG_INVALID', `${key}: cannot read ${JSON.stringify(path)}: ${(err as Error).message}`);
  }
}

export async function startHttpSinks(broker: Broker, config: readonly unknown[], deps: HttpSinksDeps): Promise<HttpSinks> {
  const options: HttpSinkOptions[] = config.map(httpSinkOptions);
  if (options.length === 0) return { stop: async () => undefined, status: () => [] };
  const log = broker.log;
  const store = broker.state;
  if (!log || !store) throw gatewayError('CONFIG_INVALID', 'bridges.http: needs persistence.enabled: true (a sink is a cursor in the durable log)');
  // Loaded only when a sink is configured: the HTTP client (undici) costs start time a gateway without sinks need not pay.
  const { displayUrl, HttpSink } = await import('./sink.ts');
  const sinks = options.map((o, i) => {
    const token = o.tokenFile ? readKeyFile(o.tokenFile, `bridges.http[${i}].tokenFile`).trim() : undefined;
    if (token !== undefined && (token === '' || /[\r\n\u0000]/.test(token))) {
      throw gatewayError('CONFIG_INVALID', `bridges.http[${i}].tokenFile: ${JSON.stringify(o.tokenFile)} must hold one non-empty line`);
    }
    const ca = o.tls.ca ? readKeyFile(o.tls.ca, `bridges.http[${i}].tls.ca`) : undefined;
    return new HttpSink(o, { log, store, publish: (m) => broker.publish(m), logger: deps.logger, token, ca });
  });
  await Promise.all(sinks.map((s) => s.start())); // start points committed: 'next' = published after this
  deps.logger.info({ sinks: options.map((o) => ({ name: o.name, url: displayUrl(o.url), filter: o.filter, format: o.format })) }, 'http sinks started');
  const status = (): SinkStatus[] => sinks.map((s) => s.status());
  let timer: NodeJS.Timeout | undefined;
  if (deps.sysIntervalMs && deps.sysIntervalMs > 0) {
    const publish = (): void => {
      for (const m of sysMessages(status())) broker.publishTransient(m);
    };
    publish();
    timer = setInterval(publish, deps.sysIntervalMs);
    timer.unref();
  }
  return {
    status,
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await Promise.all(sinks.map((s) => s.stop()));
    },
  };
}
