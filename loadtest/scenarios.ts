// The load-test scenarios: each name maps to a Workload shape. Imports ./workload.ts only.
import type { Workload } from './workload.ts';

export const SCENARIOS = ['qos0', 'qos1', 'fanout', 'fanin', 'latency'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export function isScenario(s: string): s is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(s);
}

/** One line per scenario for --help and the report. */
export const DESCRIPTIONS: Record<ScenarioName, string> = {
  qos0: 'QoS 0, 1 publisher -> 1 subscriber, 64 B payload; msg/s delivered',
  qos1: 'QoS 1, 1 -> 1, 1000 unacked PUBLISHes in flight, subscriber acks each; msg/s delivered',
  fanout: '1 publisher -> 100 subscribers of sensors/+/temp (publishing sensors/<i>/temp), QoS 0; deliveries/s',
  fanin: '100 publishers (fanin/<i>) -> 1 subscriber on #, QoS 0; msg/s delivered',
  latency: 'QoS 0 at a fixed 2000 msg/s, 1 -> 1; p50/p99/max publish-to-delivery latency in us',
};

// flowWindow per scenario: large enough that Mosquitto's Nagle-delayed writes keep flowing, small
// enough that a 100-connection burst does not swamp Aedes (fanin at 100k lost ~70k messages).
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

export function buildWorkload(name: ScenarioName, host: string, port: number, runId: string): Workload {
  const base: Workload = {
    host, port, runId, qos: 0, publishers: [['bench/qos0']], subscribers: ['bench/qos0'], payloadSize: 64,
    inflightWindow: 1000, flowWindow: 100_000, rate: 0, batch: 256, readDelay: true, latency: false,
    pubWorkers: 1, subWorkers: 1,
  };
  switch (name) {
    case 'qos0':
      return base;
    case 'qos1':
      // No read delay: the broker waits for our acks [BENCHMARKS.md].
      return { ...base, qos: 1, publishers: [['bench/qos1']], subscribers: ['bench/qos1'], batch: 100, readDelay: false };
    case 'fanout':
      return {
        ...base, publishers: [range(100).map((i) => `sensors/${i}/temp`)],
        subscribers: range(100).map(() => 'sensors/+/temp'), batch: 100, flowWindow: 2000,
      };
    case 'fanin':
      return { ...base, publishers: range(100).map((i) => [`fanin/${i}`]), subscribers: ['#'], batch: 32, flowWindow: 20_000 };
    case 'latency':
      return { ...base, rate: 2000, batch: 16, readDelay: false, latency: true };
  }
}
