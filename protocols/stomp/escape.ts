// STOMP header escaping per protocol version (1.0 none, 1.1 \\ \n \c, 1.2 also \r). Imports only types from ./frame.ts.
//
// Value encoding (STOMP 1.2 "Value Encoding"; 1.1 the same minus \r):
//
//   on the wire   means      1.0   1.1   1.2
//   \r            CR         -     -     yes
//   \n            LF         -     yes   yes
//   \c            ':'        -     yes   yes
//   \\            '\'        -     yes   yes
//
// Escaping applies to header names and values alike. "Undefined escape sequences such as \t
// MUST be treated as a fatal protocol error" (1.2), as must a backslash at the end of the text.
// "The CONNECT and CONNECTED frames do not escape the carriage return, line feed or colon
// octets in order to remain backward compatible with STOMP 1.0 clients" (1.2): those frames
// (and STOMP, CONNECT's synonym) use mode 'none' whatever the version.
//
// In mode 'none' nothing can be escaped, so text the wire cannot carry is refused:
// a CR or LF anywhere, or a ':' in a header name. Mode '1.1' cannot carry a CR either
// (1.1 defines no \r, and a CR before the EOL would read as a CR LF line end).

import type { StompVersion } from './frame.ts';

export type EscapeMode = 'none' | '1.1' | '1.2';

const UNESCAPING_COMMANDS = new Set(['CONNECT', 'STOMP', 'CONNECTED']);

/** The escaping in force for one frame: by negotiated version, except CONNECT/STOMP/CONNECTED never escape. */
export function escapeModeFor(version: StompVersion, command: string): EscapeMode {
  if (version === '1.0' || UNESCAPING_COMMANDS.has(command)) return 'none';
  return version;
}

const NEEDS_ESCAPE = /[\\\r\n:]/;

/**
 * Encodes one header name (isName) or value for the wire.
 * Returns undefined when the text cannot be carried in this mode (see the module comment).
 */
export function escapeHeaderText(text: string, mode: EscapeMode, isName: boolean): string | undefined {
  if (!NEEDS_ESCAPE.test(text)) return text;
  if (mode === 'none') {
    if (text.includes('\n') || text.includes('\r')) return undefined;
    if (isName && text.includes(':')) return undefined;
    return text; // a '\' or a ':' in a value travels verbatim
  }
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    switch (ch) {
      case '\\': out += '\\\\'; break;
      case '\n': out += '\\n'; break;
      case ':': out += '\\c'; break;
      case '\r':
        if (mode !== '1.2') return undefined;
        out += '\\r';
        break;
      default: out += ch;
    }
  }
  return out;
}

/**
 * Decodes one header name or value read from the wire.
 * Returns undefined on an undefined escape sequence or a trailing '\' (a fatal protocol error).
 */
export function unescapeHeaderText(text: string, mode: EscapeMode): string | undefined {
  if (mode === 'none') return text;
  let slash = text.indexOf('\\');
  if (slash === -1) return text;
  let out = '';
  let from = 0;
  while (slash !== -1) {
    out += text.slice(from, slash);
    const next = text[slash + 1];
    if (next === '\\') out += '\\';
    else if (next === 'n') out += '\n';
    else if (next === 'c') out += ':';
    else if (next === 'r' && mode === '1.2') out += '\r';
    else return undefined;
    from = slash + 2;
    slash = text.indexOf('\\', from);
  }
  return out + text.slice(from);
}
