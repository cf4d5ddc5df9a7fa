// STOMP 1.0/1.1/1.2 frame model and serializer. Imports ./escape.ts and src/core/errors.ts only.
//
// Grammar (STOMP 1.2 "Augmented BNF"; 1.0/1.1 differ as noted):
//
//   NULL   = <US-ASCII null (octet 0)>
//   LF     = <US-ASCII line feed (octet 10)>
//   CR     = <US-ASCII carriage return (octet 13)>
//   EOL    = [CR] LF                       ; 1.0 and 1.1 define LF only; the parser accepts CR LF always
//   OCTET  = <any 8-bit sequence of data>
//
//   frame-stream = 1*frame
//   frame        = command EOL
//                  *( header EOL )
//                  EOL
//                  *OCTET                  ; exactly content-length octets if that header is present,
//                                          ; else every octet up to the first NULL
//                  NULL
//                  *( EOL )                ; heart-beats
//   command      = 1*( "A".."Z" )         ; which commands exist is the connection's business
//   header       = header-name ":" header-value
//   header-name  = 1*<any OCTET except CR or LF or ":">
//   header-value = *<any OCTET except CR or LF>   ; the first ':' separates; later ones belong to
//                                                 ; the value (lenient, as brokers are, for 1.0 to 1.2)
//
// Header text is UTF-8 and escaped per ./escape.ts. Headers keep wire order and repeats;
// "only the first header entry SHOULD be used" (1.2 "Repeated Header Entries"): see header().
//
// Serializer contract (encodeFrame): headers are written in the given order, escaped for the
// version (never for CONNECT/STOMP/CONNECTED); if the body is non-empty a correct content-length
// is written (replacing the first caller-supplied one in place, appended otherwise) so bodies may
// contain NUL; repeated content-length entries are dropped; an empty body keeps a caller's
// content-length only as "0". Text the version cannot carry throws STOMP_FRAME_INVALID.

import { gatewayError } from '../../src/core/errors.ts';
import { escapeHeaderText, escapeModeFor } from './escape.ts';

export type StompVersion = '1.0' | '1.1' | '1.2';

/** One STOMP frame. headers are [name, value] in wire order, repeated names kept; body is raw bytes. */
export interface StompFrame {
  command: string;
  headers: [string, string][];
  body: Buffer;
}

/** Commands a client may send (1.2 "Client Frames" plus CONNECT/STOMP). For the connection layer. */
export const CLIENT_COMMANDS: ReadonlySet<string> = new Set([
  'CONNECT', 'STOMP', 'SEND', 'SUBSCRIBE', 'UNSUBSCRIBE', 'ACK', 'NACK', 'BEGIN', 'COMMIT', 'ABORT', 'DISCONNECT',
]);

/** Commands a server may send (1.2 "Server Frames" plus CONNECTED). */
export const SERVER_COMMANDS: ReadonlySet<string> = new Set(['CONNECTED', 'MESSAGE', 'RECEIPT', 'ERROR']);

/** A heart-beat: a single EOL (1.2 "Heart-beating"). */
export const HEARTBEAT: Buffer = Buffer.from('\n', 'latin1');

/** The value of the first header called `name`, or undefined (1.2 "Repeated Header Entries"). */
export function header(frame: StompFrame, name: string): string | undefined {
  for (const [n, v] of frame.headers) if (n === name) return v;
  return undefined;
}

const COMMAND_RE = /^[A-Z]+$/;

/** Serializes a frame for a peer speaking `version`. Throws GatewayError STOMP_FRAME_INVALID on unencodable input. */
export function encodeFrame(frame: StompFrame, version: StompVersion): Buffer {
  const { command, headers, body } = frame;
  if (!COMMAND_RE.test(command)) throw gatewayError('STOMP_FRAME_INVALID', `command must be A-Z letters: ${JSON.stringify(command)}`);
  const mode = escapeModeFor(version, command);
  let head = command + '\n';
  let wroteLength = false;
  for (const [name, value] of headers) {
    if (name === 'content-length') {
      if (wroteLength) continue;
      wroteLength = true;
      head += `content-length:${body.length}\n`;
      continue;
    }
    if (name.length === 0) throw gatewayError('STOMP_FRAME_INVALID', 'empty header name');
    const n = escapeHeaderText(name, mode, true);
    const v = escapeHeaderText(value, mode, false);
    if (n === undefined || v === undefined) {
      throw gatewayError('STOMP_FRAME_INVALID', `header ${JSON.stringify(name)} cannot be encoded for STOMP ${version} ${command}`);
    }
    head += n + ':' + v + '\n';
  }
  if (!wroteLength && body.length > 0) head += `content-length:${body.length}\n`;
  head += '\n';
  const headLen = Buffer.byteLength(head, 'utf8');
  const out = Buffer.allocUnsafe(headLen + body.length + 1);
  out.write(head, 0, 'utf8');
  body.copy(out, headLen);
  out[out.length - 1] = 0;
  return out;
}
