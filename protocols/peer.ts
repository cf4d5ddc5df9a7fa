// What the socket under a connection says about its peer: addresses and a verified TLS client certificate's CN. Imports node:tls types only.
import type { TLSSocket } from 'node:tls';

export interface PeerInfo {
  remoteAddress?: string;
  localAddress?: string;
  /** CN of the client certificate, only when the handshake verified it against tls.ca. */
  certificateCN?: string;
}

/** Reads a TCP / TLS socket, or a WebSocket stream that copied these fields from its HTTP socket. */
export function peerInfo(stream: object): PeerInfo {
  const s = stream as Partial<TLSSocket> & PeerInfo;
  const out: PeerInfo = { remoteAddress: s.remoteAddress, localAddress: s.localAddress };
  if (s.certificateCN !== undefined) out.certificateCN = s.certificateCN;
  else {
    const cn = certificateCN(s);
    if (cn !== undefined) out.certificateCN = cn;
  }
  return out;
}

/** The CN of a TLS socket's verified peer certificate; undefined for plain sockets or unverified certificates. */
export function certificateCN(socket: Partial<TLSSocket>): string | undefined {
  if (typeof socket.getPeerCertificate !== 'function' || socket.authorized !== true) return undefined;
  const cn = socket.getPeerCertificate().subject?.CN;
  if (Array.isArray(cn)) return cn[0];
  return typeof cn === 'string' && cn !== '' ? cn : undefined;
}
