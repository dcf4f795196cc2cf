// Certificates for the TLS tests, made with openssl into a temp dir the test owns (never committed):
// a CA, a server certificate for 127.0.0.1/localhost, a client certificate, one from another CA, an
// expired one, and a client key that matches none of them.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** The client key, signed by another CA. */
  otherCaCert: string;
  otherCa: string;
  /** The client key, signed by the CA, expired yesterday. */
  expiredCert: string;
  /** A key matching no certificate here. */
  strayKey: string;
  /** The server key and certificate, expired. */
  expiredServerCert: string;
}

function openssl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('openssl', args, (err, _out, stderr) => (err ? reject(new Error(`openssl ${args[0]}: ${stderr || err.message}`)) : resolve())),
  );
}

export async function hasOpenssl(): Promise<boolean> {
  return openssl(['version']).then(
    () => true,
    () => false,
  );
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export async function makePki(dir: string): Promise<Pki> {
  const p = (n: string) => join(dir, n);
  const selfSigned = (name: string) => openssl(['req', '-x509', ...EC, '-keyout', p(`${name}.key`), '-out', p(`${name}.pem`), '-days', '2', '-subj', `/CN=${name}`]);
  const csr = (name: string) => openssl(['req', ...EC, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${name}`]);
  const sign = (name: string, out: string, ca: string, ext: string, days: string) =>
    openssl(['x509', '-req', '-in', p(`${name}.csr`), '-CA', p(`${ca}.pem`), '-CAkey', p(`${ca}.key`), '-days', days, '-out', p(out), '-extfile', p(ext)]);
  writeFileSync(p('server.ext'), 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(p('client.ext'), 'extendedKeyUsage=clientAuth\n');
  await Promise.all([selfSigned('ca'), selfSigned('ca2'), csr('server'), csr('client'), csr('stray')]);
  await Promise.all([
    sign('server', 'server.pem', 'ca', 'server.ext', '2'),
    sign('server', 'server-expired.pem', 'ca', 'server.ext', '-1'),
    sign('client', 'client.pem', 'ca', 'client.ext', '2'),
    sign('client', 'client-ca2.pem', 'ca2', 'client.ext', '2'),
    sign('client', 'client-expired.pem', 'ca', 'client.ext', '-1'),
  ]);
  return {
    dir,
    ca: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    otherCaCert: p('client-ca2.pem'),
    otherCa: p('ca2.pem'),
    expiredCert: p('client-expired.pem'),
    strayKey: p('stray.key'),
    expiredServerCert: p('server-expired.pem'),
  };
}
