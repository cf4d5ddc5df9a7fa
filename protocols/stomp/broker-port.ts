// The StompPort (./machine-types.ts) over the real broker: ACL, retained and session limits, queue admission and refusal counters. Imports core broker/queue/limit types and sibling stomp files.
import type { Broker } from '../../src/core/broker.ts';
import { GatewayError } from '../../src/core/errors.ts';
import type { Guards } from '../../src/core/limits.ts';
import type { QueueRegistry } from '../../src/core/queue-registry.ts';
import type { StompPort } from './machine-types.ts';
import type { QueueAdmission } from './queue-limits.ts';

export function brokerPort(broker: Broker, queues: QueueRegistry | undefined, admission: QueueAdmission | undefined, guards: Guards | undefined): StompPort {
  return {
    authorizePublish: (who, topic) => broker.auth.authorizePublish(who, topic),
    authorizeSubscribe: (who, filter) => broker.auth.authorizeSubscribe(who, filter),
    retainedOver: (topic, bytes) => broker.retained.admits(topic, bytes),
    sessionCount: () => broker.sessionCount,
    hasSession: (id) => broker.getSession(id) !== undefined,
    get hasLog() {
      return broker.hasLog;
    },
    hasQueues: queues !== undefined,
    admitQueue(name) {
      if (!queues) throw new GatewayError('IMPLEMENTATION_SPECIFIC', '/queue destinations need persistence (the durable log)');
      if (queues.has(name)) return;
      // A queue this SEND would create: stomp.maxQueues, maxCreatedQueues, autoCreateQueues (./queue-limits.ts).
      const no = admission?.admit(name);
      if (no) throw new GatewayError(no.code, no.detail);
      queues.queue(name);
    },
    prepareQueue(name, mode) {
      if (!queues) throw new GatewayError('IMPLEMENTATION_SPECIFIC', '/queue destinations need persistence (the durable log)');
      queues.queue(name, mode);
    },
    refused: (limit) => guards?.counters.refused(limit),
    connectTimedOut: () => guards?.counters.timedOut('stomp', 'connect'),
  };
}
