// cluster.* config keys: defaults, and the cross-key rules naming the key to fix. Imports config/schema.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DEFAULT_CONFIG, resolveConfig } from '../../config/schema.ts';

test('cluster defaults: the local backend, replicas 3, prefix iotgw', () => {
  assert.equal(DEFAULT_CONFIG.cluster.backend, 'local');
  assert.deepEqual(DEFAULT_CONFIG.cluster.servers, []);
  assert.equal(DEFAULT_CONFIG.cluster.replicas, 3);
  assert.equal(DEFAULT_CONFIG.cluster.prefix, 'iotgw');
  assert.equal(DEFAULT_CONFIG.cluster.nodeId, '');
  const c = resolveConfig({ cluster: { backend: 'nats', servers: ['nats://10.0.0.1:4222', 'tls://n2:4222'], nodeId: 'gw-1.eu', replicas: 1, tls: { ca: 'ca.pem' } } });
  assert.equal(c.cluster.backend, 'nats');
  assert.equal(c.cluster.tls.ca, 'ca.pem');
});

test('bad cluster settings name the key to fix', () => {
  const bad: [unknown, string][] = [
    [{ cluster: { backend: 'nats' } }, 'cluster.servers'],
    [{ cluster: { backend: 'kafka' } }, 'cluster.backend'],
    [{ cluster: { servers: ['http://x:4222'] } }, 'cluster.servers[0]'],
    [{ cluster: { prefix: 'a.b' } }, 'cluster.prefix'],
    [{ cluster: { nodeId: 'a b' } }, 'cluster.nodeId'],
    [{ cluster: { replicas: 0 } }, 'cluster.replicas'],
    [{ cluster: { tls: { cert: 'c.pem' } } }, 'cluster.tls.key'],
    [{ cluster: { password: 'p' } }, 'cluster.username'],
    [{ cluster: { username: 'u', token: 't' } }, 'cluster.token'],
  ];
  for (const [input, key] of bad) {
    assert.throws(() => resolveConfig(input), (e: unknown) => e instanceof ConfigError && e.key === key, `${JSON.stringify(input)} names ${key}`);
  }
});
