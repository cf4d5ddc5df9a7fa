// Maps anything a handler throws to a registry code (src/core/errors.ts), for every protocol. Pure; imports src/core/errors.ts only.
import { GatewayError, type ErrorCode } from '../src/core/errors.ts';

export interface CodedFailure {
  code: ErrorCode;
  detail: string;
  /** True when the value was not a GatewayError: a bug, worth an error-level log line with the stack. */
  unexpected: boolean;
}

/** A GatewayError keeps its code and message; anything else is IMPLEMENTATION_SPECIFIC "internal error". */
export function errorCodeOf(err: unknown): CodedFailure {
  if (err instanceof GatewayError) return { code: err.code, detail: err.message, unexpected: false };
  return { code: 'IMPLEMENTATION_SPECIFIC', detail: 'internal error', unexpected: true };
}
