// Unit: the MQTT bridge config parser (Mosquitto `topic` lines, pasted `connection` blocks, the structured form), its errors naming the key, and the topic mapping by prefixes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMosquittoBlock, parseMqttBridges, parseTopicLine, protocolLevel, tokenize, BridgeConfigProblem } from '../../src/bridges/mqtt/config.ts';
import { mapInbound, mapOutbound, remoteSubscriptions } from '../../src/bridges/mqtt/topic-map.ts';
import { resolveConfig, ConfigError } from '../../config/schema.ts';
import { parseLogFilter } from '../../src/core/log-subscriptions.ts';
import { validQueueName } from '../../src/core/queue-registry.ts';
import { bridgeGroup } from '../../src/bridges/mqtt/bridge.ts';

function problem(fn: () => unknown, key: string, detail?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BridgeConfigProblem, `BridgeConfigProblem, got ${String(err)}`);
    assert.equal(err.key, key);
    if (detail) assert.match(err.detail, detail);
    return true;
  });
}

test('tokenize: "..." is one token and "" the empty one', () => {
  assert.deepEqual(tokenize('topic # in 1 "" cloud/'), ['topic', '#', 'in', '1', '', 'cloud/']);
  assert.deepEqual(tokenize('  topic  a/b   out '), ['topic', 'a/b', 'out']);
});

test('topic line: Mosquitto defaults (out, QoS 0, no prefixes)', () => {
  const r = parseTopicLine('k', 'topic sensors/#');
  assert.deepEqual(
    { pattern: r.pattern, direction: r.direction, qos: r.qos, localPrefix: r.localPrefix, remotePrefix: r.remotePrefix, localFilter: r.localFilter, remoteFilter: r.remoteFilter },
    { pattern: 'sensors/#', direction: 'out', qos: 0, localPrefix: '', remotePrefix: '', localFilter: 'sensors/#', remoteFilter: 'sensors/#' },
  );
  assert.equal(parseTopicLine('k', 'topic a in').direction, 'in');
  assert.equal(parseTopicLine('k', 'topic a both 2').qos, 2);
});

test('topic line: prefixes (local-prefix + pattern here, remote-prefix + pattern there), "" for empty, without the leading keyword', () => {
  const r = parseTopicLine('k', 'topic sensors/# both 2 site1/ cloud/site1/');
  assert.equal(r.localFilter, 'site1/sensors/#');
  assert.equal(r.remoteFilter, 'cloud/site1/sensors/#');
  const e = parseTopicLine('k', '# in 1 "" cloud/');
  assert.equal(e.localPrefix, '');
  assert.equal(e.remoteFilter, 'cloud/#');
  // An empty pattern makes the prefixes whole topics (Mosquitto's remapping of one topic).
  const w = parseTopicLine('k', 'topic "" out 1 local/exact remote/other');
  assert.equal(w.localFilter, 'local/exact');
  assert.equal(w.remoteFilter, 'remote/other');
});

test('topic line: errors name the key and say what is wrong', () => {
  problem(() => parseTopicLine('bridges.mqtt[0].topics[2]', 'topic a sideways 1'), 'bridges.mqtt[0].topics[2]', /direction/);
  problem(() => parseTopicLine('k', 'topic a out 3'), 'k', /qos must be 0, 1 or 2/);
  problem(() => parseTopicLine('k', 'topic a out 1 lo/# re/'), 'k', /prefix may not contain/);
  problem(() => parseTopicLine('k', 'topic a out 1 l/ r/ extra'), 'k', /too many fields/);
  problem(() => parseTopicLine('k', 'topic "" out 1'), 'k', /empty pattern needs a local or remote prefix/);
  problem(() => parseTopicLine('k', 'topic a/#/b out 1'), 'k', /not a valid topic filter/);
  problem(() => parseTopicLine('k', 'topic'), 'k', /expected "topic <pattern>/);
  problem(() => parseTopicLine('k', 'topic $share/g/a out 1'), 'k', /shared subscriptions/);
});

test('mapping: outbound strips the local prefix and adds the remote one; inbound the other way; first matching rule wins', () => {
  const rules = [parseTopicLine('k', 'topic sensors/# out 1 site1/ cloud/site1/'), parseTopicLine('k', 'topic cmd/# in 2 site1/ cloud/site1/'), parseTopicLine('k', 'topic # both 0')];
  assert.deepEqual(mapOutbound(rules, 'site1/sensors/t1'), { topic: 'cloud/site1/sensors/t1', qos: 1 });
  assert.deepEqual(mapOutbound(rules, 'other/x'), { topic: 'other/x', qos: 0 });
  assert.deepEqual(mapOutbound(rules, 'site1/cmd/x'), { topic: 'site1/cmd/x', qos: 0 }, 'the in rule does not send out; the both rule does');
  assert.deepEqual(mapInbound(rules, 'cloud/site1/cmd/reboot'), { topic: 'site1/cmd/reboot', qos: 2 });
  assert.deepEqual(mapInbound(rules, 'cloud/site1/sensors/t1'), { topic: 'cloud/site1/sensors/t1', qos: 0 }, 'the out rule does not bring in; the both rule does');
  assert.deepEqual([...remoteSubscriptions(rules)], [['cloud/site1/cmd/#', 2], ['#', 0]]);
  const exact = [parseTopicLine('k', 'topic "" in 1 local/exact remote/other')];
  assert.deepEqual(mapInbound(exact, 'remote/other'), { topic: 'local/exact', qos: 1 });
  assert.equal(mapInbound(exact, 'remote/other/deeper'), undefined);
  assert.equal(mapOutbound(exact, 'local/exact'), undefined, 'an in rule sends nothing out');
});

test('protocol version: what users write', () => {
  for (const v of [3, 4, '3.1.1', 'mqttv311', '4']) assert.equal(protocolLevel('k', v), 4);
  for (const v of [5, '5', '5.0', 'mqttv50']) assert.equal(protocolLevel('k', v), 5);
  problem(() => protocolLevel('k.protocolVersion', 6), 'k.protocolVersion', /3\.1\.1 \(4\) or 5/);
});

const BLOCK = `
# pasted from mosquitto.conf
connection cloud
address broker.example.com:8883
remote_clientid site1-bridge
remote_username site1
remote_password s3cret
bridge_protocol_version mqttv50
keepalive_interval 30
bridge_cafile /etc/ssl/ca.pem
bridge_certfile /etc/ssl/site1.pem
bridge_keyfile /etc/ssl/site1.key
cleansession false
restart_timeout 2 30
notifications false
topic sensors/# out 1 site1/ cloud/site1/
topic cmd/# in 2 site1/ cloud/site1/
`;

test('Mosquitto connection block: every supported option, TLS makes mqtts, ignored options listed', () => {
  const c = parseMosquittoBlock('bridges.mqtt[0]', BLOCK);
  assert.equal(c.name, 'cloud');
  assert.equal(c.url, 'mqtts://broker.example.com:8883');
  assert.equal(c.clientId, 'site1-bridge');
  assert.equal(c.username, 'site1');
  assert.equal(c.password, 's3cret');
  assert.equal(c.protocolVersion, 5);
  assert.equal(c.keepalive, 30);
  assert.equal(c.cleanSession, false);
  assert.equal(c.reconnectMinMs, 2000);
  assert.equal(c.reconnectMaxMs, 30_000);
  assert.deepEqual(c.tls, { ca: '/etc/ssl/ca.pem', cert: '/etc/ssl/site1.pem', key: '/etc/ssl/site1.key', rejectUnauthorized: true });
  assert.deepEqual(c.topics.map((t) => [t.localFilter, t.direction, t.qos, t.remoteFilter]), [
    ['site1/sensors/#', 'out', 1, 'cloud/site1/sensors/#'],
    ['site1/cmd/#', 'in', 2, 'cloud/site1/cmd/#'],
  ]);
  assert.deepEqual(c.ignored, ['notifications']);
  const plain = parseMosquittoBlock('k', 'connection b\naddress 10.0.0.5\ntopic # out 0');
  assert.equal(plain.url, 'mqtt://10.0.0.5:1883');
  assert.equal(plain.protocolVersion, 4);
});

test('Mosquitto connection block: errors name the entry and the line', () => {
  problem(() => parseMosquittoBlock('bridges.mqtt[3]', 'connection b\naddress h\nbridge_frobnicate 1\ntopic #'), 'bridges.mqtt[3] line 3', /unknown Mosquitto bridge option "bridge_frobnicate"/);
  problem(() => parseMosquittoBlock('k', 'address h\nconnection b'), 'k line 1', /starts with "connection <name>"/);
  problem(() => parseMosquittoBlock('k', 'connection b\ntopic # out 1'), 'k', /no "address/);
  problem(() => parseMosquittoBlock('k', 'connection b\naddress h\ntopic # out 7'), 'k line 3', /qos/);
  problem(() => parseMosquittoBlock('k', 'connection b\naddress h\nbridge_protocol_version mqttv31\ntopic #'), 'k line 3', /mqttv31 is not supported/);
  problem(() => parseMosquittoBlock('k', 'connection b\naddress h'), 'k.topics', /at least one topic rule/);
});

test('structured form: defaults, Mosquitto lines mixed with objects, unknown keys and bad values named', () => {
  const [c] = parseMqttBridges([{ name: 'cloud', url: 'mqtt://127.0.0.1:1883', topics: ['topic a/# out 1', { pattern: 'b/#', direction: 'in', qos: 2, localPrefix: 'l/' }] }]);
  assert.equal(c!.protocolVersion, 4);
  assert.equal(c!.keepalive, 60);
  assert.equal(c!.cleanSession, true);
  assert.equal(c!.localUsername, 'bridge:cloud');
  assert.match(c!.clientId, /\.cloud$/);
  assert.equal(c!.topics[1]!.localFilter, 'l/b/#');
  problem(() => parseMqttBridges([{ name: 'a', url: 'mqtt://h', topics: ['topic #'] }, { name: 'b', url: 'mqtt://h', topics: [{ pattern: '#', qos: 5 }] }]), 'bridges.mqtt[1].topics[0].qos', /0 to 2/);
  problem(() => parseMqttBridges([{ name: 'a', url: 'mqtt://h', topics: ['topic #'], keepAlive: 5 }]), 'bridges.mqtt[0].keepAlive', /unknown key/);
  problem(() => parseMqttBridges([{ name: 'a b', url: 'mqtt://h', topics: ['topic #'] }]), 'bridges.mqtt[0].name', /\[A-Za-z0-9_-\]\+/);
  problem(() => parseMqttBridges([{ name: 'a', url: 'http://h', topics: ['topic #'] }]), 'bridges.mqtt[0].url', /scheme/);
  problem(() => parseMqttBridges([{ name: 'a', url: 'mqtt://h', topics: ['topic #'] }, 'connection a\naddress h\ntopic #']), 'bridges.mqtt[1].name', /used twice/);
  problem(() => parseMqttBridges([{ name: 'a', url: 'mqtt://h', topics: ['topic #'], tls: { cert: '/c.pem' } }]), 'bridges.mqtt[0].tls.key', /set together/);
  problem(() => parseMqttBridges([42]), 'bridges.mqtt[0]');
  problem(() => parseMqttBridges([{ name: 'a', url: 'mqtt://h', cleanSession: false, topics: ['topic # both 2'] }]), 'bridges.mqtt[0].cleanSession', /QoS 2/);
  assert.equal(parseMqttBridges([{ name: 'a', url: 'mqtt://h', cleanSession: false, topics: ['topic # in 2', 'topic x/# out 1'] }])[0]!.cleanSession, false);
});

test('the gateway config validates bridges.mqtt at start, naming the bad key', () => {
  const ok = resolveConfig({ bridges: { mqtt: [{ name: 'x', url: 'mqtt://127.0.0.1:1883', topics: ['topic # out 1'] }] } });
  assert.equal(ok.bridges.mqtt.length, 1);
  assert.deepEqual(resolveConfig({}).bridges.mqtt, []);
  assert.throws(
    () => resolveConfig({ bridges: { mqtt: [{ name: 'x', url: 'mqtt://127.0.0.1:1883', topics: ['topic # upwards 1'] }] } }),
    (err: unknown) => err instanceof ConfigError && /bridges\.mqtt\[0\]\.topics\[0\]/.test(err.message) && /direction/.test(err.message),
  );
  assert.throws(() => resolveConfig({ bridges: { mqtt: [7] } }), (err: unknown) => err instanceof ConfigError && /bridges\.mqtt/.test(err.message));
});

test('a bridge position is an internal consumer group no client can name: $group/ and queue names refuse U+0000', () => {
  const g = bridgeGroup('cloud');
  assert.equal(g, '\u0000bridge-mqtt-cloud');
  const parsed = parseLogFilter(`$group/${g}/#`);
  assert.ok(parsed && 'error' in parsed, 'MQTT $group/ with U+0000 in the name is refused');
  assert.equal(validQueueName(g), false, 'STOMP /queue/ and $queue/ names refuse U+0000');
  const plain = parseLogFilter('$group/bridge-mqtt-cloud/#');
  assert.ok(plain && !('error' in plain) && plain.kind === 'group' && plain.group !== g, 'the same name without U+0000 is a different group');
});

test('out rules need the log: persistence.enabled false is refused at start, naming the key', () => {
  assert.throws(
    () => resolveConfig({ persistence: { enabled: false }, bridges: { mqtt: [{ name: 'x', url: 'mqtt://h', topics: ['topic # in 1', 'topic a/# out 1'] }] } }),
    (err: unknown) => err instanceof ConfigError && /bridges\.mqtt\[0\]\.topics/.test(err.message) && /persistence\.enabled/.test(err.message),
  );
  assert.equal(resolveConfig({ persistence: { enabled: false }, bridges: { mqtt: [{ name: 'x', url: 'mqtt://h', topics: ['topic # in 1'] }] } }).bridges.mqtt.length, 1);
});

test('a bridge name is unique across bridges.mqtt and bridges.http (they share $SYS/broker/bridges/<name>/)', () => {
  const http = [{ name: 'same', url: 'http://127.0.0.1:1/x' }];
  assert.throws(
    () => resolveConfig({ bridges: { http, mqtt: [{ name: 'same', url: 'mqtt://127.0.0.1:1', topics: ['topic # out 1'] }] } }),
    (err: unknown) => err instanceof ConfigError && /bridges\.mqtt\[0\]\.name/.test(err.message) && /bridges\.http/.test(err.message),
  );
  assert.doesNotThrow(() => resolveConfig({ bridges: { http, mqtt: [{ name: 'other', url: 'mqtt://127.0.0.1:1', topics: ['topic # out 1'] }] } }));
});
