// Admission for STOMP queues (`/queue/<name>`, MQTT `$queue/<name>`): a total cap, a cap on queues clients create by use, and a switch that allows only declared queues. Imports core limit/error types only.
//
// Contract: the listener counts the queues that exist at start (declared in stomp.queues plus restored ones);
// a connection asks admit() before a SEND or SUBSCRIBE would create a queue that does not exist yet. A refusal
// is counted (`gateway_limit_refusals_total{limit="queues"|"queue-create"}`) and returned as an error code; the
// connection answers with an ERROR frame. Queues are never deleted, so the counts only grow.
import type { ErrorCode } from '../../src/core/errors.ts';
import type { LimitCounters, LimitName } from '../../src/core/limits.ts';

export interface QueueLimits {
  /** All queues (declared, restored and created by clients); 0 = unlimited. */
  maxQueues: number;
  /** Queues created by a client's SEND / SUBSCRIBE to an undeclared name; 0 = unlimited. */
  maxCreatedQueues: number;
  /** false = only declared (stomp.queues) and restored queues exist; a SEND / SUBSCRIBE to another is refused. */
  autoCreateQueues: boolean;
}

export class QueueAdmission {
  private total: number;
  private created = 0;

  constructor(
    private readonly limits: QueueLimits,
    existingAtStart: number,
    private readonly counters?: LimitCounters,
  ) {
    this.total = existingAtStart;
  }

  /** undefined = the queue may be created (and is counted as created); otherwise why not. */
  admit(name: string): { code: ErrorCode; detail: string } | undefined {
    const l = this.limits;
    let limit: LimitName | undefined;
    let detail = '';
    if (!l.autoCreateQueues) {
      limit = 'queue-create';
      detail = `queue ${JSON.stringify(name)} is not declared (stomp.queues) and stomp.autoCreateQueues is false`;
    } else if (l.maxQueues > 0 && this.total >= l.maxQueues) {
      limit = 'queues';
      detail = `${l.maxQueues} queues exist (stomp.maxQueues)`;
    } else if (l.maxCreatedQueues > 0 && this.created >= l.maxCreatedQueues) {
      limit = 'queue-create';
      detail = `clients created ${l.maxCreatedQueues} queues (stomp.maxCreatedQueues)`;
    }
    if (limit) {
      this.counters?.refused(limit);
      return { code: limit === 'queue-create' && !l.autoCreateQueues ? 'NOT_AUTHORIZED' : 'QUOTA_EXCEEDED', detail };
    }
    this.total++;
    this.created++;
    return undefined;
  }
}
