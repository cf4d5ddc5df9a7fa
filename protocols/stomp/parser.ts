// Streaming, resumable STOMP 1.0/1.1/1.2 frame parser with limits enforced while bytes arrive. Imports ./frame.ts, ./escape.ts, src/core/errors.ts.
//
// Grammar: see ./frame.ts. The parser is a state machine over pushed chunks:
//
//   IDLE --byte A-Z--> COMMAND --EOL--> HEADERS --empty line--> BODY_LENGTH --n bytes--> EXPECT_NUL --NUL--> IDLE
//    ^  \--EOL: onHeartbeat                      \--no content-length--> BODY_TO_NUL ---------NUL---------> IDLE
//
// Contracts:
// - push() is synchronous; onFrame runs inside it, once per frame, in wire order. setVersion()
//   may be called from inside onFrame (after CONNECT/CONNECTED) and applies to the next frame,
//   even one already sitting in the same chunk.
// - EOL is LF or CR LF in every version (a 1.2 client's CONNECT arrives before the version is
//   known). A CR not followed by LF between frames or in the command is malformed; inside a 1.2
//   header it is malformed too (1.2 must escape it as \r); in 1.0/1.1 header text it is data.
// - Errors are sticky: after a throw (StompParseError, or anything onFrame threw) every later
//   push() throws the same error. The connection closes; the parser is not reset.
// - Limits (all checked as bytes arrive, never after buffering a whole frame):
//     maxFrameBytes  command line through the NUL, EOLs included, heart-beats excluded
//     maxHeaders     header entries per frame, repeats included
//     maxHeaderBytes one header line (or the command line) without its EOL
//     maxBodyBytes   body bytes; a larger content-length fails as soon as its header line ends
// - Zero-copy: a body that starts and ends in one pushed chunk is a subarray of that chunk (do not reuse
//   pushed buffers). A body split across chunks is copied into one buffer: with content-length it is
//   allocated once, at exactly that size, when its first piece arrives; without, it grows by doubling up
//   to maxBodyBytes. Every byte is copied at most once per allocation, so tiny segments cost linear time;
//   an unfinished frame never pins a whole read chunk. A split header line is assembled in one reusable
//   scratch buffer of maxHeaderBytes + 1 bytes.
// - Budget (optional, shared by all connections): header bytes and body allocations of the unfinished frame
//   are reserved before they are held; a refusal throws STOMP_LIMIT_EXCEEDED ("unfinished frames across all
//   connections"). Everything is released when the frame is emitted, on a parse error and on dispose().

import { isUtf8 } from 'node:buffer';
import { GatewayError } from '../../src/core/errors.ts';
import type { ByteBudget } from '../../src/core/limits.ts';
import { escapeModeFor, unescapeHeaderText, type EscapeMode } from './escape.ts';
import type { StompFrame, StompVersion } from './frame.ts';

export interface StompLimits {
  maxFrameBytes: number;
  maxHeaders: number;
  maxHeaderBytes: number;
  maxBodyBytes: number;
}

export type StompParseErrorCode = 'STOMP_FRAME_INVALID' | 'STOMP_LIMIT_EXCEEDED';

/** A malformed frame or a limit breach. A GatewayError, so adapters map it like any other. */
export class StompParseError extends GatewayError {
  declare readonly code: StompParseErrorCode;
  constructor(code: StompParseErrorCode, detail: string) {
    super(code, detail);
    this.name = 'StompParseError';
  }
}

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const UPPER_A = 0x41;
const UPPER_Z = 0x5a;

const IDLE = 0;
const COMMAND = 1;
const HEADERS = 2;
const BODY_LENGTH = 3;
const EXPECT_NUL = 4;
const BODY_TO_NUL = 5;
type State = typeof IDLE | typeof COMMAND | typeof HEADERS | typeof BODY_LENGTH | typeof EXPECT_NUL | typeof BODY_TO_NUL;

/** content-length digits we accept before calling the number absurd (>= 1e15 bytes). */
const MAX_LENGTH_DIGITS = 15;

function invalid(detail: string): StompParseError {
  return new StompParseError('STOMP_FRAME_INVALID', detail);
}
function tooBig(detail: string): StompParseError {
  return new StompParseError('STOMP_LIMIT_EXCEEDED', detail);
}

export class StompParser {
  readonly #limits: StompLimits;
  #version: StompVersion;
  #failed: unknown = undefined;
  #state: State = IDLE;
  /** IDLE: a CR seen, its LF not yet. COMMAND: same, inside the command line. */
  #cr = false;

  // frame under construction
  #frameBytes = 0;
  #command = '';
  #mode: EscapeMode = 'none';
  #frameVersion: StompVersion;
  #headers: [string, string][] = [];
  #contentLength = -1;
  /** Scratch for a header line split across chunks; allocated on first need, reused. */
  #lineBuf: Buffer | undefined = undefined;
  #lineLen = 0;
  /** The body so far while it lies in one chunk (zero-copy view)... */
  #bodyView: Buffer | undefined = undefined;
  /** ...or, once split, the buffer it is copied into (#bodyLen bytes used). */
  #bodyAcc: Buffer | undefined = undefined;
  #bodyLen = 0;
  #remaining = 0;
  readonly #budget: ByteBudget | undefined;
  /** Bytes of the current unfinished frame reserved in the budget. */
  #reserved = 0;

  /** version: the one in force before negotiation; '1.0' (no unescaping) unless told. */
  constructor(limits: StompLimits, version: StompVersion = '1.0', budget?: ByteBudget) {
    this.#limits = { ...limits };
    this.#version = version;
    this.#frameVersion = version;
    this.#budget = budget;
  }

  /** Gives back whatever the unfinished frame holds (the connection closed). */
  dispose(): void {
    this.#releaseAll();
    this.#bodyView = undefined;
    this.#bodyAcc = undefined;
    this.#headers = [];
  }

  #reserve(n: number): void {
    if (!this.#budget || n <= 0) return;
    if (!this.#budget.reserve(n)) throw tooBig(`unfinished frames across all connections exceed ${this.#budget.limit} bytes`);
    this.#reserved += n;
  }

  #releaseAll(): void {
    if (this.#reserved) this.#budget?.release(this.#reserved);
    this.#reserved = 0;
  }

  get version(): StompVersion {
    return this.#version;
  }

  /** Switches header unescaping for frames that start after this call. */
  setVersion(v: StompVersion): void {
    this.#version = v;
  }

  /**
   * Feed bytes; calls onFrame for each complete frame, onHeartbeat for each EOL between frames.
   * Throws StompParseError on malformed input or a limit breach; the parser is then unusable.
   */
  push(chunk: Buffer, onFrame: (f: StompFrame) => void, onHeartbeat?: () => void): void {
    if (this.#failed !== undefined) throw this.#failed;
    try {
      this.#run(chunk, onFrame, onHeartbeat);
    } catch (err) {
      this.#failed = err;
      this.#releaseAll();
      this.#lineBuf = undefined;
      this.#bodyView = undefined;
      this.#bodyAcc = undefined;
      this.#headers = [];
      throw err;
    }
  }

  #run(chunk: Buffer, onFrame: (f: StompFrame) => void, onHeartbeat: (() => void) | undefined): void {
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      switch (this.#state) {
        case IDLE: {
          const b = chunk[pos];
          if (b === LF) {
            pos++;
            this.#cr = false;
            onHeartbeat?.();
          } else if (this.#cr) {
            throw invalid('CR not followed by LF between frames');
          } else if (b === CR) {
            pos++;
            this.#cr = true;
          } else {
            this.#startFrame();
          }
          break;
        }
        case COMMAND:
          pos = this.#readCommand(chunk, pos);
          break;
        case HEADERS:
          pos = this.#readHeaderLine(chunk, pos);
          break;
        case BODY_LENGTH: {
          const take = Math.min(this.#remaining, len - pos);
          this.#appendBody(chunk, pos, pos + take, this.#contentLength, take === this.#remaining);
          this.#remaining -= take;
          this.#frameBytes += take;
          pos += take;
          if (this.#remaining === 0) this.#state = EXPECT_NUL;
          break;
        }
        case EXPECT_NUL:
          if (chunk[pos] !== NUL) throw invalid('no NUL after content-length body bytes');
          pos++;
          this.#frameBytes++;
          this.#emit(onFrame);
          break;
        case BODY_TO_NUL: {
          const nul = chunk.indexOf(NUL, pos);
          const end = nul === -1 ? len : nul;
          const take = end - pos;
          if (this.#bodyLen + take > this.#limits.maxBodyBytes) {
            throw tooBig(`body exceeds ${this.#limits.maxBodyBytes} bytes`);
          }
          this.#countFrameBytes(take + (nul === -1 ? 0 : 1));
          if (take > 0) this.#appendBody(chunk, pos, end, -1, nul !== -1);
          if (nul === -1) {
            pos = len;
          } else {
            pos = nul + 1;
            this.#emit(onFrame);
          }
          break;
        }
      }
    }
  }

  #startFrame(): void {
    this.#state = COMMAND;
    this.#frameBytes = 0;
    this.#command = '';
    this.#cr = false;
    this.#frameVersion = this.#version;
    this.#headers = [];
    this.#contentLength = -1;
    this.#lineLen = 0;
    this.#bodyView = undefined;
    this.#bodyAcc = undefined;
    this.#bodyLen = 0;
  }

  /**
   * Adds chunk[from, to) to the body. A body that is whole in this piece (`last`) and first is kept as a view;
   * otherwise it goes into one buffer: exactly `exact` bytes when the length is known (content-length), allocated
   * once, else grown by doubling, capped at maxBodyBytes (the caller checked the limit already).
   */
  #appendBody(chunk: Buffer, from: number, to: number, exact: number, last: boolean): void {
    const n = to - from;
    const used = this.#bodyLen;
    if (used === 0 && last) {
      this.#bodyView = chunk.subarray(from, to);
      this.#bodyLen = n;
      return;
    }
    let acc = this.#bodyAcc;
    if (acc === undefined || acc.length < used + n) {
      const cap = exact >= 0 ? exact : Math.min(Math.max(2 * (used + n), 256), this.#limits.maxBodyBytes);
      this.#reserve(cap - (acc?.length ?? 0));
      const grown = cap >= 4096 ? Buffer.allocUnsafeSlow(cap) : Buffer.alloc(cap);
      acc?.copy(grown, 0, 0, used);
      this.#bodyView = undefined;
      this.#bodyAcc = acc = grown;
    }
    chunk.copy(acc, used, from, to);
    this.#bodyLen = used + n;
  }

  #countFrameBytes(n: number): void {
    this.#frameBytes += n;
    if (this.#frameBytes > this.#limits.maxFrameBytes) {
      throw tooBig(`frame exceeds ${this.#limits.maxFrameBytes} bytes`);
    }
  }

  /** command = 1*("A".."Z") EOL, checked byte by byte so garbage fails at its first byte. */
  #readCommand(chunk: Buffer, pos: number): number {
    const lf = chunk.indexOf(LF, pos);
    const end = lf === -1 ? chunk.length : lf;
    for (let i = pos; i < end; i++) {
      const b = chunk[i];
      if (this.#cr) throw invalid('CR not followed by LF in command line');
      if (b === CR) this.#cr = true;
      else if (b < UPPER_A || b > UPPER_Z) throw invalid(`command byte 0x${b.toString(16)} is not A-Z`);
    }
    const letters = end - pos - (this.#cr && end > pos && chunk[end - 1] === CR ? 1 : 0);
    this.#command += chunk.toString('latin1', pos, pos + letters);
    if (this.#command.length > this.#limits.maxHeaderBytes) {
      throw tooBig(`command line exceeds ${this.#limits.maxHeaderBytes} bytes`);
    }
    this.#countFrameBytes(end - pos + (lf === -1 ? 0 : 1));
    if (lf === -1) return chunk.length;
    if (this.#command.length === 0) throw invalid('empty command line');
    this.#cr = false;
    this.#mode = escapeModeFor(this.#frameVersion, this.#command);
    this.#state = HEADERS;
    return lf + 1;
  }

  /** One header line, or the empty line that ends the headers. */
  #readHeaderLine(chunk: Buffer, pos: number): number {
    const max = this.#limits.maxHeaderBytes;
    const lf = chunk.indexOf(LF, pos);
    const end = lf === -1 ? chunk.length : lf;
    const take = end - pos;
    this.#countFrameBytes(take + (lf === -1 ? 0 : 1));
    const soFar = this.#lineLen + take;
    const last = take > 0 ? chunk[end - 1] : soFar > 0 ? this.#lineBuf?.[soFar - 1] : undefined;
    const endsWithCr = last === CR;
    // Without its LF yet, a trailing CR may be the first half of CR LF: one byte of slack.
    if (soFar - (endsWithCr ? 1 : 0) > max) throw tooBig(`header line exceeds ${max} bytes`);
    let line: Buffer;
    if (this.#lineLen === 0 && lf !== -1) {
      line = chunk.subarray(pos, end);
    } else {
      const buf = (this.#lineBuf ??= Buffer.allocUnsafe(max + 1));
      chunk.copy(buf, this.#lineLen, pos, end);
      this.#lineLen = soFar;
      if (lf === -1) return chunk.length;
      line = buf.subarray(0, soFar);
    }
    this.#lineLen = 0;
    if (endsWithCr) line = line.subarray(0, line.length - 1);
    if (line.length === 0) this.#endHeaders();
    else this.#addHeader(line); // decodes to strings at once, so the scratch buffer is free again
    return lf + 1;
  }

  #addHeader(line: Buffer): void {
    if (this.#headers.length >= this.#limits.maxHeaders) {
      throw tooBig(`more than ${this.#limits.maxHeaders} headers`);
    }
    if (!isUtf8(line)) throw invalid('header is not valid UTF-8');
    this.#reserve(line.length);
    const text = line.toString('utf8');
    if (this.#frameVersion === '1.2' && text.includes('\r')) throw invalid('bare CR in a STOMP 1.2 header');
    const colon = text.indexOf(':');
    if (colon === -1) throw invalid('header line without ":"');
    if (colon === 0) throw invalid('empty header name');
    const name = unescapeHeaderText(text.slice(0, colon), this.#mode);
    const value = unescapeHeaderText(text.slice(colon + 1), this.#mode);
    if (name === undefined || value === undefined) throw invalid('undefined escape sequence in header');
    this.#headers.push([name, value]);
    if (name === 'content-length' && this.#contentLength === -1) this.#setContentLength(value);
  }

  /** First content-length wins, like every repeated header (1.2 "Repeated Header Entries"). */
  #setContentLength(value: string): void {
    if (!/^[0-9]+$/.test(value)) throw invalid(`content-length is not a non-negative integer: ${JSON.stringify(value)}`);
    const n = value.length > MAX_LENGTH_DIGITS ? Number.POSITIVE_INFINITY : Number(value);
    if (n > this.#limits.maxBodyBytes) throw tooBig(`content-length ${value} exceeds ${this.#limits.maxBodyBytes} bytes`);
    this.#contentLength = n;
  }

  #endHeaders(): void {
    const n = this.#contentLength;
    if (n === -1) {
      this.#state = BODY_TO_NUL;
      return;
    }
    if (this.#frameBytes + n + 1 > this.#limits.maxFrameBytes) {
      throw tooBig(`frame exceeds ${this.#limits.maxFrameBytes} bytes`);
    }
    this.#remaining = n;
    this.#state = n === 0 ? EXPECT_NUL : BODY_LENGTH;
  }

  #emit(onFrame: (f: StompFrame) => void): void {
    const body = this.#bodyAcc?.subarray(0, this.#bodyLen) ?? this.#bodyView ?? Buffer.alloc(0);
    const frame: StompFrame = { command: this.#command, headers: this.#headers, body };
    this.#state = IDLE;
    this.#cr = false;
    this.#headers = [];
    this.#bodyView = undefined;
    this.#bodyAcc = undefined;
    this.#bodyLen = 0;
    this.#releaseAll(); // the frame is the connection's now
    onFrame(frame);
  }
}
