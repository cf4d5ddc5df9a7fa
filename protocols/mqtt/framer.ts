// Splits an MQTT byte stream into whole packets, enforcing the maximum packet size while reading, in linear time. Imports core errors and the core byte budget only.
//
// Wire format [MQTT 2.1]: byte 1 = type and flags; then Remaining Length as a Variable Byte Integer of
// at most 4 bytes [MQTT-1.5.5-1] (a 5th continuation byte is malformed); then that many bytes.
//
// Cost contract: every byte is copied at most once. A packet that lies whole inside one pushed chunk is
// a zero-copy subarray of it. A packet split across chunks is allocated once, at its full size, as soon
// as its fixed header is known, and each later chunk is copied into it at its offset; a fixed header
// itself split across chunks waits in a 5-byte scratch. So a 1 MB packet in 20-byte pieces costs
// 52,429 small copies into one buffer, never a re-concatenation.
//
// Memory contract: the bytes of an unfinished packet are reserved in the shared ByteBudget (if given)
// before they are allocated; a refused reservation throws GatewayError QUOTA_EXCEEDED and allocates
// nothing. reset() (on close) gives the reservation back.
import { GatewayError } from '../../src/core/errors.ts';
import type { ByteBudget } from '../../src/core/limits.ts';

export class MqttFramer {
  /** The packet being filled (exactly its total size) and how much of it has arrived. */
  private partial: Buffer | undefined;
  private filled = 0;
  /** A fixed header split across chunks: up to 5 bytes. */
  private readonly head = Buffer.alloc(5);
  private headLen = 0;
  private reserved = 0;

  constructor(
    private maxPacketSize: number,
    private readonly budget?: ByteBudget,
  ) {}

  setMaxPacketSize(n: number): void {
    this.maxPacketSize = n;
  }

  /** Bytes held for the unfinished packet (0 when none). */
  get holding(): number {
    return this.partial ? this.partial.length : this.headLen;
  }

  /** Drops any unfinished packet and returns its bytes to the budget. */
  reset(): void {
    this.partial = undefined;
    this.filled = 0;
    this.headLen = 0;
    if (this.reserved) this.budget?.release(this.reserved);
    this.reserved = 0;
  }

  /**
   * Calls onPacket with each complete packet (header included) in order.
   * Throws GatewayError MALFORMED_PACKET or PACKET_TOO_LARGE as soon as the header shows it, QUOTA_EXCEEDED
   * when the global budget for unfinished packets cannot hold this one.
   * onPacket returning false stops the loop (the connection closed); the rest is dropped.
   */
  push(chunk: Buffer, onPacket: (packet: Buffer) => boolean): void {
    let pos = 0;
    const end = chunk.length;
    if (this.partial) {
      const take = Math.min(this.partial.length - this.filled, end);
      if (take < 32) {
        // Tiny pieces (a trickling client): a JS loop is cheaper than a native copy call.
        const dst = this.partial;
        for (let i = 0, o = this.filled; i < take; i++) dst[o + i] = chunk[i]!;
      } else chunk.copy(this.partial, this.filled, 0, take);
      this.filled += take;
      pos = take;
      if (this.filled < this.partial.length) return;
      const done = this.partial;
      this.reset();
      if (!onPacket(done)) return;
    } else if (this.headLen > 0) {
      // Complete the split fixed header from this chunk, one byte at a time (at most 4 more).
      while (pos < end) {
        this.head[this.headLen++] = chunk[pos++]!;
        const r = this.readHeader(this.head, 0, this.headLen);
        if (r === undefined) continue;
        const headBytes = this.headLen;
        this.headLen = 0;
        if (!this.begin(r, this.head.subarray(0, headBytes))) return;
        // begin() copied the header; continue filling from this chunk.
        const take = Math.min(this.partial!.length - this.filled, end - pos);
        chunk.copy(this.partial!, this.filled, pos, pos + take);
        this.filled += take;
        pos += take;
        if (this.filled < this.partial!.length) return;
        const done = this.partial!;
        this.reset();
        if (!onPacket(done)) return;
        break;
      }
      if (this.headLen > 0) return;
    }
    while (pos < end) {
      const r = this.readHeader(chunk, pos, end);
      if (r === undefined) {
        // Header incomplete: keep its bytes (fewer than 5, or readHeader would have decided).
        chunk.copy(this.head, 0, pos, end);
        this.headLen = end - pos;
        return;
      }
      if (pos + r > end) {
        if (!this.begin(r, chunk.subarray(pos, end))) return;
        return;
      }
      if (!onPacket(chunk.subarray(pos, pos + r))) return;
      pos += r;
    }
  }

  /**
   * Total packet size from a fixed header at buf[pos, end), or undefined when the header is not complete yet.
   * Throws on a 5-byte length [MQTT-1.5.5-1] or a size over the limit (known from the header alone).
   */
  private readHeader(buf: Buffer, pos: number, end: number): number | undefined {
    if (end - pos < 2) return undefined;
    let len = 0;
    let mul = 1;
    let i = pos + 1;
    for (let n = 0; n < 4; n++) {
      if (i >= end) return undefined;
      const b = buf[i++]!;
      len += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) {
        const total = i - pos + len;
        if (total > this.maxPacketSize) throw new GatewayError('PACKET_TOO_LARGE', `${total} bytes, limit ${this.maxPacketSize}`);
        return total;
      }
    }
    throw new GatewayError('MALFORMED_PACKET', 'remaining length longer than 4 bytes');
  }

  /** Starts an unfinished packet of `total` bytes with its first bytes `first`: reserve, allocate once, copy. */
  private begin(total: number, first: Buffer): boolean {
    if (this.budget && !this.budget.reserve(total)) {
      throw new GatewayError('QUOTA_EXCEEDED', `unfinished packets across all connections exceed ${this.budget.limit} bytes`);
    }
    this.reserved = this.budget ? total : 0;
    // allocUnsafeSlow: its own memory (not the shared pool), freed as soon as the packet is dropped.
    this.partial = Buffer.allocUnsafeSlow(total);
    first.copy(this.partial, 0);
    this.filled = first.length;
    return true;
  }
}
