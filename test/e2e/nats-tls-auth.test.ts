// The NATS backend's connection settings against a nats-server that requires TLS and a user / password: the right CA and credentials connect; a wrong password or an unknown CA is refused at open. Imports the backend and the cluster helper.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openNatsBackend } from '../../src/server/nats-backend.ts';
import { startNatsServers, type NatsCluster } from '../helpers/nats-cluster.ts';
import { selfSignedCert } from '../helpers/certs.ts';

const root = mkdtempSync(join(tmpdir(), 'nats-tls-'));
let certFile = '';
let nats: NatsCluster | undefined;

before(async () => {
  const made = selfSignedCert(root);
  certFile = made.certFile;
  const keyFile = made.keyFile;
  nats = await startNatsServers({
    count: 1,
    dir: root,
    extraConf: `tls { cert_file: "${certFile}", key_file: "${keyFile}" }\nauthorization { user: gw, password: "s3cret pass" }`,
  });
});

after(async () => { await nats?.stop(); rmSync(root, { recursive: true, force: true }); });

const base = () => ({ servers: nats!.urls.map((u) => u.replace('nats://', 'tls://')), nodeId: 'tls', prefix: 'tls', partitions: 2, replicas: 1, timeoutMs: 3000 });

test('TLS verified against the CA file, with user and password: the backend opens and writes', async () => {
  const b = await openNatsBackend({ ...base(), tls: { ca: certFile }, username: 'gw', password: 's3cret pass' });
  try {
    const ref = await b.log.append({ key: 'tls/a', timestamp: 1, headers: Buffer.from([0]), value: Buffer.from('secure') });
    await b.state.put('s/tls', Buffer.from('ok'));
    assert.equal(Buffer.from((await b.log.read(ref.partition, ref.offset, 1))[0]!.value).toString(), 'secure');
    assert.equal(b.isReady(), true);
  } finally {
    await b.close();
  }
});

test('a wrong password or a CA that did not sign the server certificate is refused at open', async () => {
  await assert.rejects(openNatsBackend({ ...base(), tls: { ca: certFile }, username: 'gw', password: 'wrong' }), /auth/i);
  await assert.rejects(openNatsBackend({ ...base(), username: 'gw', password: 's3cret pass' }), /certificate|self.signed|verify/i);
});
