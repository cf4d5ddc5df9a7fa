// Aedes 1.x on plain TCP with TCP_NODELAY, as a comparison peer for the load test. Imports node builtins and aedes.
//
// Prints one JSON line {"msg":"listening","protocol":"mqtt","port":N} on stdout once listening
// (same contract as the gateway), runs until SIGTERM/SIGINT. In-memory persistence (Aedes default).
// Usage: node --import tsx loadtest/peers/aedes-server.ts [--port N]
import net from 'node:net';
import { Aedes } from 'aedes';

if (process.argv.includes('--help')) {
  process.stdout.write("usage: node --import tsx loadtest/peers/aedes-server.ts [--port N]\n  Aedes 1.x on 127.0.0.1 (TCP_NODELAY, in-memory); prints {\"msg\":\"listening\",\"protocol\":\"mqtt\",\"port\":N}; runs until SIGTERM\n");
  process.exit(0);
}
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
