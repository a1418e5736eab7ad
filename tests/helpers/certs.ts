/**
 * Test certificates made with the openssl CLI: a self-signed CA and a server certificate it
 * signs for 127.0.0.1 and localhost (SAN IP and DNS). A missing openssl fails the test.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { runCommand } from './cluster.js';

export interface TestCerts {
  dir: string;
  ca: string;
  cert: string;
  key: string;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const r = await runCommand('openssl', args, { cwd: dir, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
}

export async function makeCerts(dir: string): Promise<TestCerts> {
  await fs.mkdir(dir, { recursive: true });
  await openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=alluxio-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  await fs.writeFile(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n');
  await openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext']);
  return { dir, ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key') };
}
