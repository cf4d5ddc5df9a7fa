// Prometheus metrics of the HTTP sinks, read at scrape time from each sink's status(). Imports prom-client and ./sink.ts types.
//
//   gateway_bridge_http_messages_total{bridge}            messages the endpoint acknowledged (2xx)
//   gateway_bridge_http_batches_total{bridge}             requests acknowledged (2xx)
//   gateway_bridge_http_bytes_total{bridge}               request body bytes acknowledged
//   gateway_bridge_http_retries_total{bridge}             requests sent again after a failure
//   gateway_bridge_http_errors_total{bridge,class}        failed requests: 5xx | 4xx | network (connect error, reset, timeout) | other (1xx/3xx)
//   gateway_bridge_http_dead_lettered_total{bridge}       messages sent to the dead-letter topic after a 4xx
//   gateway_bridge_http_expired_total{bridge}             messages skipped because their expiry passed in the log
//   gateway_bridge_http_lag_messages{bridge}              log records between the committed position and the log end
//   gateway_bridge_http_state{bridge,state}               1 for the sink's current state, 0 for the others
import { Counter, Gauge, type Registry } from 'prom-client';
import { SINK_STATES, type SinkStatus } from './sink.ts';

export function registerHttpSinkMetrics(registry: Registry, read: () => SinkStatus[]): void {
  const r = [registry];
  const counter = (name: string, help: string, value: (s: SinkStatus) => number): void => {
    new Counter({
      name, help, labelNames: ['bridge'], registers: r,
      collect() {
        this.reset();
        for (const s of read()) this.inc({ bridge: s.name }, value(s));
      },
    });
  };
  counter('gateway_bridge_http_messages_total', 'Messages an HTTP sink delivered (the endpoint answered 2xx)', (s) => s.delivered);
  counter('gateway_bridge_http_batches_total', 'Requests an HTTP sink delivered (2xx)', (s) => s.batches);
  counter('gateway_bridge_http_bytes_total', 'Request body bytes an HTTP sink delivered (2xx)', (s) => s.bytes);
  counter('gateway_bridge_http_retries_total', 'Requests an HTTP sink sent again after a 5xx, 408, 429, network error or timeout', (s) => s.retries);
  counter('gateway_bridge_http_dead_lettered_total', 'Messages an HTTP sink sent to its dead-letter topic after a 4xx', (s) => s.deadLettered);
  counter('gateway_bridge_http_expired_total', 'Messages an HTTP sink skipped because their message expiry passed', (s) => s.expired);
  new Counter({
    name: 'gateway_bridge_http_errors_total',
    help: 'Failed HTTP sink requests by class: 5xx, 4xx, network (connect error, reset, timeout), other (1xx/3xx)',
    labelNames: ['bridge', 'class'],
    registers: r,
    collect() {
      this.reset();
      for (const s of read()) for (const [cls, n] of Object.entries(s.errors)) this.inc({ bridge: s.name, class: cls }, n);
    },
  });
  new Gauge({
    name: 'gateway_bridge_http_lag_messages',
    help: 'Log records between an HTTP sink\'s committed position and the log end (all partitions)',
    labelNames: ['bridge'],
    registers: r,
    collect() {
      this.reset();
      for (const s of read()) if (s.lag >= 0) this.set({ bridge: s.name }, s.lag);
    },
  });
  new Gauge({
    name: 'gateway_bridge_http_state',
    help: 'HTTP sink state: 1 for the current one (starting, idle, sending, retrying, stopped, failed)',
    labelNames: ['bridge', 'state'],
    registers: r,
    collect() {
      this.reset();
      for (const s of read()) for (const st of SINK_STATES) this.set({ bridge: s.name, state: st }, s.state === st ? 1 : 0);
    },
  });
}
