// Aedes 1.x on plain TCP with TCP_NODELAY, as a comparison peer for the load test. Imports node builtins and aedes.
//
// Prints one JSON line {"msg":"listening","protocol":"mqtt","port":N} on stdout once listening
// (same contract as the gateway), runs until SIGTERM/SIGINT. In-memory persistence (Aedes default).
// Usage: node --import tsx loadtest/peers/aedes-server.ts [--port N]
import net from 'node:net';
import { Aedes } from 'aedes';
import { answerHelp } from '../help.ts';

answerHelp(`usage: node --import tsx loadtest/peers/aedes-server.ts [--port N]
Aedes on TCP (TCP_NODELAY, in-memory) as a load-test peer; prints {"msg":"listening","protocol":"mqtt","port":N}
and runs until SIGTERM / SIGINT. --port 0 (default) picks a free port.`);
const i = process.argv.indexOf('--port');
const port = i > 0 ? Number(process.argv[i + 1]) : 0;
const broker = await Aedes.createBroker();
const server = net.createServer((socket) => {
  // BENCHMARKS.md: with Nagle on, Aedes QoS 1 ran ~3x slower.
  socket.setNoDelay(true);
  broker.handle(socket);
});
server.listen(port, '127.0.0.1', () => {
  const addr = server.address() as net.AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', protocol: 'mqtt', port: addr.port })}\n`);
});
const stop = (): void => {
  server.close();
  broker.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
