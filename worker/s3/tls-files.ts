/** The PEM files of the worker's HTTPS endpoint, read once at start-up; a bad setting fails start-up with the key named. */
import { readFileSync } from 'node:fs';
import type { Config } from '../../common/config/config.js';

export interface HttpsFiles {
  cert: Buffer;
  key: Buffer;
  /** The CA bundle peers' HTTPS certificates are checked against; undefined: the system CAs. */
  peerCa?: Buffer;
}

function read(config: Config, key: string): Buffer {
  const file = config.path(key);
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read ${key} (${file}): ${(err as Error).message}`, { cause: err });
  }
}

/** undefined when HTTPS is off (neither file set); an error when only one of the pair is set. */
export function httpsFiles(config: Config): HttpsFiles | undefined {
  const cert = config.string('alluxio.worker.s3.https.cert.file');
  const key = config.string('alluxio.worker.s3.https.key.file');
  if (cert === '' && key === '') {
    if (config.bool('alluxio.worker.s3.only.https.access')) throw new Error('alluxio.worker.s3.only.https.access is true but HTTPS is not configured (alluxio.worker.s3.https.cert.file and alluxio.worker.s3.https.key.file)');
    return undefined;
  }
  if (cert === '' || key === '') throw new Error('HTTPS needs both alluxio.worker.s3.https.cert.file and alluxio.worker.s3.https.key.file');
  const caKey = config.string('alluxio.worker.s3.https.ca.file') !== '' ? 'alluxio.worker.s3.https.ca.file' : config.string('alluxio.network.tls.ca.file') !== '' ? 'alluxio.network.tls.ca.file' : undefined;
  return { cert: read(config, 'alluxio.worker.s3.https.cert.file'), key: read(config, 'alluxio.worker.s3.https.key.file'), peerCa: caKey ? read(config, caKey) : undefined };
}
