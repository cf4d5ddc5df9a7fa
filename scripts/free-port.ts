// A TCP port on 127.0.0.1 for a child process (nats-server, mosquitto, a peer broker) to bind: the one copy shared by scripts, tests and the loadtest. Imports node builtins only.
//
// Contract: the port was free when probed and is not handed out twice by this process. It is drawn at random from
// 20000-32767, below Linux's ephemeral range (32768-60999), because a port from bind(0) is an ephemeral port: between
// the probe and the child's own bind, any outgoing connection of a suite running in parallel could take it (the CI
// saw a three-server NATS start fail that way). Outside that range only another explicit bind can, and the random
// draw makes two parallel suites picking the same port unlikely (1 in 12,768 per pair of picks).
import { createServer } from 'node:net';

const LOW = 20000;
const HIGH = 32767;
const given = new Set<number>();

function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (given.has(port)) continue;
    if (await probe(port)) {
      given.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${LOW}-${HIGH} after 200 tries`);
}
