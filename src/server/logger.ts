// Makes the gateway's pino logger: pretty one-line events on a terminal (or log.format: pretty), JSON lines otherwise. Imports pino; pino-pretty only when used.
import pino, { type Logger } from 'pino';
import type { GatewayConfig } from '../../config/schema.ts';

/** Whether the logs come out pretty for this config and stdout. */
export function isPretty(format: GatewayConfig['log']['format'], stdoutIsTTY: boolean): boolean {
  return format === 'pretty' || (format === 'auto' && stdoutIsTTY);
}

/**
 * Pretty mode hides pid/hostname and the `ready` object of the startup summary (its message says it all);
 * JSON mode keeps every field. Writes are synchronous in both, so a fatal line is out before exit.
 */
export async function createLogger(log: GatewayConfig['log'], stdoutIsTTY = process.stdout.isTTY === true): Promise<Logger> {
  if (!isPretty(log.format, stdoutIsTTY)) return pino({ level: log.level });
  const { default: pretty } = await import('pino-pretty');
  const stream = pretty({
    colorize: stdoutIsTTY,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,ready',
    sync: true,
  });
  return pino({ level: log.level }, stream);
}
