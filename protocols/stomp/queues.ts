// `/queue/<name>` consumers: a STOMP SUBSCRIBE as a consumer of the core's log-backed queue (src/core/queue.ts), settled through its one settle call. Imports core queue types and ./subscription.ts.
//
// The queue itself (its records, committed offset, modes, redelivery counts and dead-letter policy) lives in
// the core and is shared with MQTT consumers of `$queue/<name>`; this file only maps STOMP to it:
//   SUBSCRIBE ack:client / client-individual -> a consumer with prefetch = prefetch-count; each MESSAGE's ack
//                                              id is bound to the delivery handle; ACK settles 'ack', NACK 'nack',
//                                              NACK with `requeue:false` (RabbitMQ) 'reject' (dead letter now)
//   SUBSCRIBE ack:auto                       -> an autoAck consumer that takes a message only while the
//                                              connection's write buffer is under half its limit (never dropped)
//   SUBSCRIBE x-queue-mode: shared | key-shared | failover -> the queue's mode (default: stomp.queueModes /
//                                              stomp.queueMode); another mode than the running one while the
//                                              queue has consumers is an ERROR
//   UNSUBSCRIBE / disconnect                 -> close(): unsettled messages go back, marked redelivered
// A delivery's redelivery count becomes `redelivered:true` and `x-redelivery-count` on the MESSAGE.
import type { LogQueue, QueueConsumer } from '../../src/core/queue.ts';
import { QUEUE_PREFIX } from './mapping.ts';
import type { AckMode, DeliverySink, StompSubscription } from './subscription.ts';

export class QueueSubscription implements StompSubscription {
  readonly destination: string;
  private readonly consumer: QueueConsumer;
  private waitingForDrain = false;

  constructor(
    readonly id: string,
    readonly ackMode: AckMode,
    prefetch: number,
    private readonly sink: DeliverySink,
    queue: LogQueue,
  ) {
    this.destination = QUEUE_PREFIX + queue.name;
    const auto = ackMode === 'auto';
    this.consumer = queue.addConsumer({
      id,
      prefetch,
      autoAck: auto,
      ready: () => this.writable(),
      deliver: (d) => this.sink.deliver(this, d.msg, auto ? undefined : d.handle, d.redeliveries),
    });
  }

  /** The socket can take more; when it cannot, the consumer is pulled again once it drained. */
  private writable(): boolean {
    if (this.sink.canWrite()) return true;
    if (!this.waitingForDrain) {
      this.waitingForDrain = true;
      void this.sink.whenWritable().then(() => {
        this.waitingForDrain = false;
        this.consumer.pull();
      });
    }
    return false;
  }

  ack(token: number): void {
    this.consumer.settle(token, 'ack');
  }

  nack(token: number, requeue = true): void {
    this.consumer.settle(token, requeue ? 'nack' : 'reject');
  }

  end(): void {
    this.consumer.close();
  }
}
