// `npm run passwd -- [-c] [-b] [-D] FILE USER [PASSWORD]`: adds, changes or deletes a user in a Mosquitto password file. Imports node:fs/readline and src/core/password.ts.
//
// Writes `$7$` PBKDF2-SHA512 hashes exactly as mosquitto_passwd 2.x does (101 iterations, 12-byte salt), so
// the file stays usable by Mosquitto too. Flags as mosquitto_passwd: -c creates (overwrites) the file,
// -b takes the password from the command line, -D deletes USER. Without -b the password is asked twice on
// the terminal (not echoed), or read as one line from a non-terminal stdin. The file is replaced atomically
// (write to FILE.tmp, rename), mode 0600. Exit codes: 0 done, 1 refused (bad arguments, no such user), 2 I/O error.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { formatPasswordFile, hashPassword, parsePasswordFile } from '../core/password.ts';

const USAGE = 'usage: npm run passwd -- [-c] [-b] [-D] FILE USER [PASSWORD]\n  -c create (overwrite) FILE   -b password on the command line   -D delete USER';

interface PasswdArgs {
  create: boolean;
  batch: boolean;
  del: boolean;
  file: string;
  user: string;
  password?: string;
}

/** Parses argv (flags first, as mosquitto_passwd); returns a message string on error. */
function parsePasswdArgs(argv: readonly string[]): PasswdArgs | string {
  const flags = new Set<string>();
  let i = 0;
  for (; i < argv.length && /^-[cbD]+$/.test(argv[i]!); i++) for (const ch of argv[i]!.slice(1)) flags.add(ch);
  const rest = argv.slice(i);
  const create = flags.has('c');
  const batch = flags.has('b');
  const del = flags.has('D');
  if (create && del) return '-c and -D cannot be combined';
  const want = batch ? 3 : 2;
  if (rest.length !== want) return USAGE;
  const [file, user, password] = rest as [string, string, string | undefined];
  if (user === '' || user.includes(':')) return 'a username may not be empty or contain ":"';
  if (del && batch) return '-b and -D cannot be combined';
  if (password !== undefined && password.length === 0) return 'empty password';
  return { create, batch, del, file, user, password };
}

/** Applies the change to the file's text (pure apart from the random salt); returns the new text or an error message. */
function applyPasswd(current: string | undefined, a: PasswdArgs & { password?: string }): string | { error: string } {
  const users = a.create || current === undefined ? new Map<string, string>() : parsePasswordFile(current).users;
  if (a.del) {
    if (!users.delete(a.user)) return { error: `user ${a.user} not in ${a.file}` };
  } else {
    users.set(a.user, hashPassword(a.password!));
  }
  return formatPasswordFile(users);
}

async function askPassword(): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const rl = createInterface({ input: stdin });
    for await (const line of rl) {
      rl.close();
      return line;
    }
    return '';
  }
  const ask = (prompt: string): Promise<string> =>
    new Promise((resolve) => {
      process.stderr.write(prompt);
      stdin.setRawMode(true);
      stdin.resume();
      let buf = '';
      const onData = (d: Buffer): void => {
        for (const ch of d.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            stdin.setRawMode(false);
            stdin.pause();
            process.stderr.write('\n');
            return resolve(buf);
          }
          if (ch === '\u0003') process.exit(1);
          if (ch === '\u007f') buf = buf.slice(0, -1);
          else buf += ch;
        }
      };
      stdin.on('data', onData);
    });
  const a = await ask('Password: ');
  const b = await ask('Reenter password: ');
  if (a !== b) throw new Error('passwords do not match');
  return a;
}

async function main(): Promise<number> {
  const args = parsePasswdArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    process.stderr.write(`${args}\n`);
    return 1;
  }
  if (!args.create && !existsSync(args.file)) {
    process.stderr.write(`${args.file} does not exist (use -c to create it)\n`);
    return 1;
  }
  if (!args.del && args.password === undefined) {
    try {
      args.password = await askPassword();
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      return 1;
    }
    if (args.password === '') {
      process.stderr.write('empty password\n');
      return 1;
    }
  }
  try {
    const current = args.create ? undefined : readFileSync(args.file, 'utf8');
    const next = applyPasswd(current, args);
    if (typeof next !== 'string') {
      process.stderr.write(`${next.error}\n`);
      return 1;
    }
    const tmp = `${args.file}.tmp`;
    writeFileSync(tmp, next, { mode: 0o600 });
    renameSync(tmp, args.file);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  return 0;
}

void main().then((code) => process.exit(code));
