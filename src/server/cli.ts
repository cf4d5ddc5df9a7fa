// The iot-gateway command: a subcommand (src/server/subcommands.ts), --help, --version, or the gateway itself from file < GATEWAY_* < flags. Imports the server's CLI parts; the gateway and the tools load only when used.
//
// Exit codes: 0 stopped cleanly (SIGINT / SIGTERM) or help/version; 2 usage or configuration error (one line on
// stderr, no stack); 1 a start failure (one line saying what to do) or a failed shutdown.
import { ConfigError } from '../../config/schema.ts';
import { ConfigFileError, loadConfig } from './config-load.ts';
import { parseFlags, UsageError } from './flags.ts';
import { helpText } from './help.ts';
import { createLogger, isPretty } from './logger.ts';
import { GATEWAY_VERSION } from './package-root.ts';
import { StartupError } from './startup-errors.ts';
import { SUBCOMMANDS } from './subcommands.ts';

function fail(code: number, message: string): never {
  process.stderr.write(`iot-gateway: ${message}\n`);
  process.exit(code);
}

async function startGateway(argv: string[]): Promise<void> {
  let loaded: ReturnType<typeof loadConfig>;
  try {
    const args = parseFlags(argv);
    if (args.help) {
      process.stdout.write(`${helpText(GATEWAY_VERSION)}\n`);
      return;
    }
    if (args.version) {
      process.stdout.write(`${GATEWAY_VERSION}\n`);
      return;
    }
    loaded = loadConfig(args.configFile, process.env, args.layer);
  } catch (err) {
    if (err instanceof UsageError) fail(2, `${err.message} (iot-gateway --help lists every option)`);
    if (err instanceof ConfigError || err instanceof ConfigFileError) fail(2, err.message);
    throw err;
  }
  const { config, warnings } = loaded;
  const log = await createLogger(config.log);
  for (const w of warnings) log.warn(w);
  const { createGateway } = await import('./gateway.ts');
  const gateway = createGateway(config, log);
  // Signals are handled from before the start: a SIGTERM right after the summary line stops cleanly (exit 0).
  let stopping = false;
  let starting: Promise<unknown> = Promise.resolve();
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    starting
      .catch(() => undefined)
      .then(() => gateway.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Password file, ACL file and certificates are read again; connections stay.
  process.on('SIGHUP', () => {
    log.info({ signal: 'SIGHUP' }, 'reloading auth and tls files');
    gateway.reload();
  });
  try {
    starting = gateway.start();
    await starting;
  } catch (err) {
    if (err instanceof ConfigError) fail(2, err.message);
    if (err instanceof StartupError) {
      // One line: on a terminal the stderr line says it; in JSON mode the log gets it too, for collectors.
      if (!isPretty(config.log.format, process.stdout.isTTY === true)) log.fatal({ code: (err.cause as NodeJS.ErrnoException | undefined)?.code }, err.message);
      fail(1, err.message);
    }
    log.fatal({ err }, 'gateway failed to start');
    process.exit(1);
  }
}

async function main(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  if (first === 'help') return startGateway(['--help']);
  if (first === 'version') return startGateway(['--version']);
  const sub = first === undefined ? undefined : SUBCOMMANDS[first];
  if (sub) {
    process.exitCode = await sub.run(rest);
    return;
  }
  if (first !== undefined && !first.startsWith('-')) {
    fail(2, `unknown command ${JSON.stringify(first)}; commands: ${Object.keys(SUBCOMMANDS).join(', ')}, help, version (iot-gateway --help)`);
  }
  return startGateway(argv);
}

await main(process.argv.slice(2));
