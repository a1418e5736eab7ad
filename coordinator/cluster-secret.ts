/**
 * The cluster secret: the key workers use to authenticate their HTTP requests to each other
 * (worker/s3/peer-auth.ts). Configured (alluxio.security.cluster.secret), or generated once and
 * kept, readable only by its owner, in the coordinator's data dir so it survives restarts.
 * Workers receive it in the RegisterWorker answer.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Config } from '../common/config/config.js';

const FILE = 'cluster.secret';

export async function loadClusterSecret(config: Config, stateDir: string): Promise<string> {
  const configured = config.string('alluxio.security.cluster.secret');
  if (configured !== '') return configured;
  const file = path.join(stateDir, FILE);
  try {
    const kept = (await fs.readFile(file, 'utf8')).trim();
    if (kept.length >= 32) return kept;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(32).toString('hex');
  await fs.mkdir(stateDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, `${secret}\n`, { mode: 0o600 });
  await fs.rename(tmp, file);
  return secret;
}
