// Unit + tool interop: Mosquitto password files made by Debian's mosquitto_passwd ($6$ and $7$) verify here, and
// files written by `npm run passwd` are read by a real mosquitto 2. Imports src/core/password.ts, node:child_process.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { freePort } from '../../scripts/free-port.ts';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hashPassword, isKnownHash, parsePasswordFile, verifyPassword } from '../../src/core/password.ts';

const root = resolve(import.meta.dirname, '../..');
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'gw-passwd-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const pw = (s: string): Buffer => Buffer.from(s, 'utf8');

function passwd(...args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/server/cli.ts', 'passwd', ...args], { cwd: root, encoding: 'utf8', timeout: 30_000, input: '' });
  return { status: r.status, stderr: r.stderr };
}

test('mosquitto_passwd -b (default $7$ PBKDF2-SHA512) and -H sha512 ($6$) files verify; wrong passwords do not', async () => {
  const file = join(dir, 'mosq.pw');
  execFileSync('mosquitto_passwd', ['-c', '-b', file, 'alice', 'alice-secret'], { timeout: 10_000 });
  execFileSync('mosquitto_passwd', ['-H', 'sha512', '-b', file, 'bob', 'bob secret with spaces'], { timeout: 10_000 });
  const { users, badLines } = parsePasswordFile(readFileSync(file, 'utf8'));
  assert.deepEqual(badLines, []);
  assert.match(users.get('alice')!, /^\$7\$101\$/);
  assert.match(users.get('bob')!, /^\$6\$/);
  assert.equal(await verifyPassword(users.get('alice')!, pw('alice-secret')), true);
  assert.equal(await verifyPassword(users.get('bob')!, pw('bob secret with spaces')), true);
  assert.equal(await verifyPassword(users.get('alice')!, pw('alice-secreT')), false);
  assert.equal(await verifyPassword(users.get('bob')!, pw('bob')), false);
  assert.equal(await verifyPassword(users.get('alice')!, pw('')), false);
});

test('parse: comments and blank lines skipped, lines without a user reported; unknown hash forms never verify', async () => {
  const { users, badLines } = parsePasswordFile('# c\n\nalice:$7$101$AAAA$BBBB\n:nouser\nplain:secret\n');
  assert.deepEqual([...users.keys()], ['alice', 'plain']);
  assert.deepEqual(badLines, [4]);
  assert.equal(isKnownHash('secret'), false);
  assert.equal(await verifyPassword('secret', pw('secret')), false, 'a plain-text password file is not accepted as-is');
  assert.equal(await verifyPassword('$7$999999999$AAAA$BBBB', pw('x')), false, 'absurd iteration counts are refused');
});

test('hashPassword writes $7$ with 101 iterations and a fresh 12-byte salt; it verifies', async () => {
  const a = hashPassword('pw');
  const b = hashPassword('pw');
  assert.notEqual(a, b);
  const [, kind, iter, salt] = a.split('$');
  assert.equal(kind, '7');
  assert.equal(iter, '101');
  assert.equal(Buffer.from(salt!, 'base64').length, 12);
  assert.equal(await verifyPassword(a, pw('pw')), true);
  assert.equal(await verifyPassword(a, pw('pW')), false);
});

test('npm run passwd: -c -b creates, -b adds/changes, -D deletes, errors exit 1; file mode 0600', async () => {
  const file = join(dir, 'ours.pw');
  assert.equal(passwd('-c', '-b', file, 'alice', 'one').status, 0);
  assert.equal(passwd('-b', file, 'bob', 'two').status, 0);
  assert.equal(passwd('-b', file, 'alice', 'three').status, 0);
  let users = parsePasswordFile(readFileSync(file, 'utf8')).users;
  assert.deepEqual([...users.keys()], ['alice', 'bob']);
  assert.equal(await verifyPassword(users.get('alice')!, pw('three')), true, 'changed');
  assert.equal(passwd('-D', file, 'bob').status, 0);
  users = parsePasswordFile(readFileSync(file, 'utf8')).users;
  assert.deepEqual([...users.keys()], ['alice']);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const missing = passwd('-D', file, 'nobody');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /nobody/);
  assert.equal(passwd('-b', join(dir, 'absent.pw'), 'x', 'y').status, 1, 'no -c and no file');
  assert.equal(passwd(file).status, 1, 'usage');
});

test('a file written by npm run passwd is read by a real mosquitto 2: the right password connects, a wrong one is refused', async () => {
  const file = join(dir, 'for-mosquitto.pw');
  assert.equal(passwd('-c', '-b', file, 'dave', 'dave-pw').status, 0);
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  // Started as root, mosquitto would switch to the `mosquitto` user, which cannot read a 0600 file in a private temp dir.
  const asRoot = process.getuid?.() === 0 ? 'user root\n' : '';
  writeFileSync(conf, `${asRoot}listener ${port} 127.0.0.1\npassword_file ${file}\nallow_anonymous false\n`);
  const broker = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  try {
    // Wait (bounded) until mosquitto accepts connections.
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((r) => {
        const c = net.connect(port, '127.0.0.1', () => (c.destroy(), r(true)));
        c.once('error', () => r(false));
      });
      if (up) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const pub = (password: string): number | null =>
      spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-u', 'dave', '-P', password, '-t', 't', '-m', 'm'], { timeout: 5000 }).status;
    assert.equal(pub('dave-pw'), 0);
    assert.notEqual(pub('wrong'), 0);
  } finally {
    broker.kill('SIGTERM');
  }
});
