// TCP and TLS plumbing the protocol listeners share: start a server on a port (0 = any free one) and stop it. Imports node:net and node:tls only.
import net from 'node:net';
import tls from 'node:tls';

/** How a connection reached the gateway (metrics, $SYS, admin API). */
export type Transport = 'tcp' | 'tls' | 'ws';

/** PEM certificate chain and private key for TLS listeners, and how client certificates and suites are handled. */
export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  /** CA bundle client certificates are verified against; set = a client certificate is asked for. */
  ca?: Buffer;
  /** Refuse the handshake without a valid client certificate. */
  requireCertificate?: boolean;
  /** Lowest protocol version accepted (default TLSv1.2). */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are Node's defaults, all forward-secret). */
  ciphers?: string;
}

/** node:tls options for TlsFiles (server side). */
export function secureOptions(files: TlsFiles): tls.SecureContextOptions & tls.TlsOptions {
  return {
    cert: files.cert,
    key: files.key,
    ca: files.ca,
    requestCert: files.ca !== undefined,
    rejectUnauthorized: files.ca !== undefined && files.requireCertificate === true,
    minVersion: files.minVersion ?? 'TLSv1.2',
    ciphers: files.ciphers,
    honorCipherOrder: true,
  };
}

/** Swaps the certificate / key / CA of a running TLS or HTTPS server: new handshakes use them, open connections stay. */
export function reloadTls(server: net.Server, files: TlsFiles): void {
  const s = server as Partial<tls.Server>;
  if (typeof s.setSecureContext === 'function') s.setSecureContext(secureOptions(files));
}

/** Starts a TCP server with Nagle off on every socket (small acks must not wait) and resolves with the bound port. */
export function listenTcp(onSocket: (socket: net.Socket) => void, port: number, host: string): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.setNoDelay(true);
    onSocket(socket);
  });
  return listenOn(server, port, host).then((bound) => ({ server, port: bound }));
}

/** Starts a TLS server (same socket options as TCP); the adapters see the decrypted stream. */
export function listenTlsServer(onSocket: (socket: tls.TLSSocket) => void, port: number, host: string, files: TlsFiles): Promise<{ server: net.Server; port: number }> {
  const server = tls.createServer(secureOptions(files), (socket) => {
    socket.setNoDelay(true);
    onSocket(socket);
  });
  return listenOn(server, port, host).then((bound) => ({ server, port: bound }));
}

/** Binds any net.Server (also http.Server) and resolves with the port it got. */
export function listenOn(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** Stops accepting and resolves once every connection of the server has closed. */
export function closeServer(server: net.Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise((resolve) => server.close(() => resolve()));
}
