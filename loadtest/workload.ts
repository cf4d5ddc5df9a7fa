// Shapes exchanged between the load-test driver and its worker threads, and the shared-counter layout. Imports nothing.

/** What one run asks of the workers. Every publisher's topics match every subscriber's filter. */
export interface Workload {
  host: string;
  port: number;
  /** Unique per run so client ids never collide across rounds. */
  runId: string;
  qos: 0 | 1;
  /** publishers[i] = topics publisher i cycles through, one per message. */
  publishers: string[][];
  /** One entry per subscriber connection: its topic filter. */
  subscribers: string[];
  payloadSize: number;
  /** QoS 1: max unacknowledged PUBLISHes per publisher connection. */
  inflightWindow: number;
  /**
   * QoS 0 flow control: publishers stop while (published - delivered / subscribers) exceeds this,
   * so the figure measured is what subscribers receive, not what fills socket buffers.
   */
  flowWindow: number;
  /** Total publish rate in msg/s across publishers; 0 = as fast as flow control allows. */
  rate: number;
  /** Messages per pre-encoded batch write. */
  batch: number;
  /** QoS 0 only: after a small read, pause the subscriber ~1 ms to get bigger reads. */
  readDelay: boolean;
  /** Write a monotonic timestamp into each payload and record latency at subscribers. */
  latency: boolean;
  /** Publisher workers / subscriber workers to spread connections over. */
  pubWorkers: number;
  subWorkers: number;
}

/** Per-worker init data: the workload, which role and which slice of connections. */
export interface WorkerInit {
  workload: Workload;
  role: 'pub' | 'sub';
  /** Indexes into workload.publishers or workload.subscribers handled by this worker. */
  indexes: number[];
  counters: SharedArrayBuffer;
}

/** Int32 slots in the shared counter buffer (Atomics only). */
export const C_PHASE = 0; // Phase below
export const C_DELIVERED = 1; // PUBLISH packets received by all subscribers (incl. duplicates)
export const C_SENT = 2; // PUBLISH packets written by all publishers
export const C_ACKED = 3; // PUBACKs received by publishers
export const C_ERRORS = 4; // connection errors / unexpected closes
export const COUNTER_SLOTS = 8;

export const PHASE_IDLE = 0;
export const PHASE_WARMUP = 1;
export const PHASE_MEASURE = 2;
export const PHASE_DRAIN = 3;

/** Payload layout: [0..4) publisher index u32BE, [4..8) sequence u32BE, [8..16) hrtime ns u64BE (latency runs), rest filler. */
export const PAYLOAD_MIN = 16;

/** Messages from worker to driver. */
export type WorkerReport =
  | { type: 'ready' }
  | { type: 'error'; message: string }
  | { type: 'pubDone'; sent: number[]; acked: number }
  | {
      type: 'subDone';
      /** Per subscriber handled: totals over every publisher. */
      unique: number;
      duplicates: number;
      outOfOrder: number;
      received: number;
      /** Latency samples in microseconds (measure phase only), empty unless workload.latency. */
      latencyUs: number[];
    };

/** Messages from driver to worker. */
export type DriverCommand = { type: 'start' } | { type: 'stop' } | { type: 'close' };
