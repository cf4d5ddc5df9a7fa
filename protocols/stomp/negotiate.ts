// What a STOMP CONNECT / STOMP frame asks for and what the server grants: version, heart-beats, client-id, the CONNECTED headers. Pure; imports src/core/errors.ts and ./frame.ts types only.
import { GatewayError } from '../../src/core/errors.ts';
import type { StompVersion } from './frame.ts';

/** The versions we speak, best first. */
export const SUPPORTED: readonly StompVersion[] = ['1.2', '1.1', '1.0'];

/**
 * The version of a CONNECT (1.2 "Protocol Negotiation"): absent accept-version means 1.0; otherwise the
 * highest we share; undefined when we share none (then: an ERROR with our versions, and close).
 */
export function negotiateVersion(acceptVersion: string | undefined): StompVersion | undefined {
  if (acceptVersion === undefined) return '1.0';
  const offered = acceptVersion.split(',').map((s) => s.trim());
  return SUPPORTED.find((v) => offered.includes(v));
}

/** The client's heart-beat header `cx,cy` (absent = 0,0); anything else is STOMP_HEADER_INVALID. */
export function parseHeartBeat(value: string | undefined): { cx: number; cy: number } {
  const hb = value ?? '0,0';
  const m = /^\s*(\d{1,9})\s*,\s*(\d{1,9})\s*$/.exec(hb);
  if (!m) throw new GatewayError('STOMP_HEADER_INVALID', `heart-beat header ${JSON.stringify(hb)}`);
  return { cx: Number(m[1]), cy: Number(m[2]) };
}

/**
 * Negotiated intervals in ms, 0 = off (1.2 "Heart-beating"): we send every max(sx, cy) and expect every
 * max(cx, sy), each only when both sides want it.
 */
export function heartbeats(client: { cx: number; cy: number }, sx: number, sy: number): { out: number; in: number } {
  return {
    out: sx === 0 || client.cy === 0 ? 0 : Math.max(sx, client.cy),
    in: client.cx === 0 || sy === 0 ? 0 : Math.max(client.cx, sy),
  };
}

/** CONNECT `client-id` (names durable subscriptions): absent, or 1..256 characters. */
export function validateClientName(name: string | undefined): string | undefined {
  if (name !== undefined && (name === '' || name.length > 256)) throw new GatewayError('STOMP_HEADER_INVALID', 'client-id must be 1..256 characters');
  return name;
}

/** The CONNECTED frame's headers: 1.1+ get version and our heart-beat `sx,sy`; all get session and server. */
export function connectedHeaders(version: StompVersion, sx: number, sy: number, session: string, server: string): [string, string][] {
  const headers: [string, string][] = [];
  if (version !== '1.0') headers.push(['version', version], ['heart-beat', `${sx},${sy}`]);
  headers.push(['session', session], ['server', server]);
  return headers;
}
