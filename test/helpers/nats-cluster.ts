// Test helper: the local NATS cluster module of `npm run cluster` (scripts/cluster-dev.ts), re-exported so e2e tests start nats-server and gateway nodes with the same code. Imports scripts/cluster-dev.ts.
export {
  NATS_SERVER,
  freePort,
  waitForPort,
  startNatsServers,
  waitForJetStream,
  jetStreamMeta,
  httpGet,
  startGatewayNodes,
  startDevCluster,
  gatewayNodeConfig,
  type NatsCluster,
  type NatsServer,
  type GatewayNode,
  type DevCluster,
} from '../../scripts/cluster-dev.ts';
