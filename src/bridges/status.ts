// What every bridge reports for /metrics, $SYS and the dashboard. Imports nothing.

export type BridgeState = 'connecting' | 'connected' | 'down' | 'stopped';

/** One bridge's status, read at scrape / publish time. */
export interface BridgeStatus {
  /** 'mqtt' | 'http' */
  kind: string;
  name: string;
  state: BridgeState;
  /** Log records between the bridge's committed position and the log's end (outbound), summed over partitions. */
  lag: number;
  /** Messages sent to the far side and acknowledged (QoS 0: written). */
  messagesOut: number;
  /** Messages received from the far side and made durable here. */
  messagesIn: number;
  /** Connection failures, refusals and local publish failures. */
  errors: number;
  /** Successful connections since start. */
  connects: number;
}
