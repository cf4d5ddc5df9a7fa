// ACL cost per delivery: GatewayAuth.authorizeRead on repeated topics (cached) and on distinct topics (rules evaluated), with a 20-rule ACL. Imports src/core only.
// Usage: node --import tsx loadtest/acl-bench.ts [--n 1000000]
import { parseArgs } from 'node:util';
import { parseAcl } from '../src/core/acl.ts';
import { GatewayAuth, type ClientIdentity } from '../src/core/auth.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '1000000' } } });
const n = Number(values.n);
let text = 'user alice\n';
for (let i = 0; i < 18; i++) text += `topic read site/${i}/+/temp\n`;
text += 'topic deny site/3/secret/#\npattern readwrite users/%u/#\n';
const auth = new GatewayAuth({ allowAnonymous: false, useIdentityAsUsername: false, adminToken: '', acl: parseAcl(text) });
const open = new GatewayAuth({ allowAnonymous: true, useIdentityAsUsername: false, adminToken: '' });
const who: ClientIdentity = { clientId: 'c1', username: 'alice', protocol: 'mqtt' };

function run(label: string, a: GatewayAuth, topic: (i: number) => string): void {
  let ok = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (a.authorizeRead(who, topic(i))) ok++;
  const ns = Number(process.hrtime.bigint() - t0);
  console.log(`${label}: ${((n / ns) * 1e9 / 1e6).toFixed(2)} M checks/s (${(ns / n).toFixed(0)} ns each, ${ok} allowed)`);
}

const hot = Array.from({ length: 100 }, (_, i) => `site/${i % 20}/dev${i}/temp`);
run('no ACL', open, (i) => hot[i % 100]!);
run('ACL, 100 repeating topics (cache hits)', auth, (i) => hot[i % 100]!);
const distinct = Array.from({ length: 5000 }, (_, i) => `site/${i % 20}/dev${i}/temp`);
run('ACL, 5000 distinct topics (cache misses past 1024)', auth, (i) => distinct[i % 5000]!);
