// The one place that turns a core error (src/core/errors.ts) into a STOMP ERROR frame and its bytes. Pure; imports src/core/errors.ts and ./frame.ts only.
//
// Contract (STOMP 1.2 "ERROR"): `message` header = the registry text of the code, then any extra headers
// (e.g. `version` on a failed negotiation, 1.2 "Protocol Negotiation"), `content-type: text/plain`, and
// `receipt-id` when the failing frame asked for a receipt; the body is the detail in UTF-8.
import { ERRORS, type ErrorCode } from '../../src/core/errors.ts';
import { encodeFrame, type StompFrame, type StompVersion } from './frame.ts';

/** The full ERROR frame for a failure. */
export function errorFrame(code: ErrorCode, detail: string, receiptId?: string, extra: readonly [string, string][] = []): StompFrame {
  const headers: [string, string][] = [['message', ERRORS[code].text], ...extra, ['content-type', 'text/plain']];
  if (receiptId !== undefined) headers.push(['receipt-id', receiptId]);
  return { command: 'ERROR', headers, body: Buffer.from(detail, 'utf8') };
}

/** The fallback ERROR frame when the full one cannot be encoded for the version (e.g. a newline in a 1.0 header): `message` only. */
export function bareErrorFrame(code: ErrorCode): StompFrame {
  return { command: 'ERROR', headers: [['message', ERRORS[code].text]], body: Buffer.alloc(0) };
}

/** The ERROR frame's `version` header for a CONNECT whose accept-version we do not speak. */
export function versionsHeader(supported: readonly string[]): [string, string] {
  return ['version', supported.join(',')];
}

/** The ERROR frame's bytes for `version`; the bare frame when the full one cannot be encoded for it (e.g. a newline in a 1.0 receipt-id). */
export function encodeErrorFrame(code: ErrorCode, detail: string, version: StompVersion, receiptId?: string, extra: readonly [string, string][] = []): Buffer {
  try {
    return encodeFrame(errorFrame(code, detail, receiptId, extra), version);
  } catch {
    return encodeFrame(bareErrorFrame(code), version);
  }
}
