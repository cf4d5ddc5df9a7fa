// Test helper: certificates made by openssl for the TLS suites (a self-signed server certificate; a CA and certificates it signs). Imports node builtins only.
//
// Files land in `dir` as <name>.pem (certificate) and <name>.key (private key). The self-signed certificate is RSA
// 2048 for CN=localhost with subjectAltName IP:127.0.0.1 and DNS:localhost, so clients can verify it against
// itself; CA-signed ones use EC P-256 keys (fast to make). Valid one day.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LOOPBACK_SAN = 'subjectAltName=IP:127.0.0.1,DNS:localhost';

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore', timeout: 30_000 });
}

export interface CertFiles {
  certFile: string;
  keyFile: string;
  /** The certificate's PEM bytes (a client's `ca` when it is self-signed). */
  cert: Buffer;
}

/** A self-signed RSA server certificate for localhost / 127.0.0.1: `<dir>/<name>.pem` and `.key`. */
export function selfSignedCert(dir: string, name = 'cert'): CertFiles {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', LOOPBACK_SAN, '-keyout', keyFile, '-out', certFile);
  return { certFile, keyFile, cert: readFileSync(certFile) };
}

/** A CA: `<dir>/<name>.pem` and `.key`. */
export function makeCa(dir: string, name: string): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`));
}

/** A certificate for `cn` signed by the CA `ca` (made by makeCa in the same dir), with optional extension lines (e.g. LOOPBACK_SAN). */
export function makeCert(dir: string, ca: string, name: string, cn: string, ext?: string): void {
  const f = (n: string): string => join(dir, n);
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${cn}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
  const args = ['x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${ca}.pem`), '-CAkey', f(`${ca}.key`), '-CAcreateserial', '-days', '1', '-out', f(`${name}.pem`)];
  if (ext) {
    writeFileSync(f(`${name}.ext`), `${ext}\n`);
    args.push('-extfile', f(`${name}.ext`));
  }
  openssl(...args);
}
