// Splits an MQTT byte stream into whole packets, enforcing the maximum packet size while reading. Imports core errors only.
//
// Wire format [MQTT 2.1]: byte 1 = type and flags; then Remaining Length as a Variable Byte Integer of
// at most 4 bytes [MQTT-1.5.5-1] (a 5th continuation byte is malformed); then that many bytes.
import { GatewayError } from '../../src/core/errors.ts';

export class MqttFramer {
  private pending: Buffer | undefined;

  constructor(private maxPacketSize: number) {}

  setMaxPacketSize(n: number): void {
    this.maxPacketSize = n;
  }

  /**
   * Calls onPacket with each complete packet (header included) in order. A packet that lies whole
   * inside `chunk` is a zero-copy subarray; only a packet split across reads is copied.
   * Throws GatewayError MALFORMED_PACKET or PACKET_TOO_LARGE as soon as the header shows it.
   * onPacket returning false stops the loop (the connection closed); the rest is dropped.
   */
  push(chunk: Buffer, onPacket: (packet: Buffer) => boolean): void {
    let buf = chunk;
    if (this.pending) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let pos = 0;
    const end = buf.length;
    while (pos < end) {
      if (end - pos < 2) break;
      let len = 0;
      let mul = 1;
      let i = pos + 1;
      let complete = false;
      for (let n = 0; n < 4; n++) {
        if (i >= end) break;
        const b = buf[i++]!;
        len += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
        if (n === 3) throw new GatewayError('MALFORMED_PACKET', 'remaining length longer than 4 bytes');
      }
      if (!complete) break;
      const total = i - pos + len;
      if (total > this.maxPacketSize) {
        throw new GatewayError('PACKET_TOO_LARGE', `${total} bytes, limit ${this.maxPacketSize}`);
      }
      if (pos + total > end) break;
      if (!onPacket(buf.subarray(pos, pos + total))) return;
      pos += total;
    }
    if (pos < end) this.pending = Buffer.from(buf.subarray(pos));
  }
}
