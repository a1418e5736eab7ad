/**
 * How the compat tests configure the CLI clients that take their settings from files or the
 * environment (s3cmd, rclone), shared by the per-client scenarios and the nginx tests
 * (tests/integration/nginx-lb.test.ts). Nothing from the user's own configuration leaks in.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** An s3cmd config for a path-style, plain-http, SigV4 endpoint; returns the file's path. */
export async function writeS3cmdConfig(dir: string, host: string, port: number, keys = { id: 'test', secret: 'test' }): Promise<string> {
  const cfg = path.join(dir, 's3cfg');
  await fs.writeFile(cfg, [
    '[default]',
    `access_key = ${keys.id}`,
    `secret_key = ${keys.secret}`,
    `host_base = ${host}:${port}`,
    `host_bucket = ${host}:${port}`,
    'use_https = False',
    'signature_v2 = False',
    'bucket_location = us-east-1',
    'progress_meter = False',
    '',
  ].join('\n'));
  return cfg;
}

/** The environment of an rclone s3 remote named `remote` (provider Other: path-style) at `endpoint`. */
export async function rcloneEnv(dir: string, remote: string, endpoint: string, extra: Record<string, string> = {}): Promise<NodeJS.ProcessEnv> {
  await fs.writeFile(path.join(dir, 'rclone.conf'), '');
  const R = `RCLONE_CONFIG_${remote.toUpperCase()}_`;
  const env: NodeJS.ProcessEnv = {
    HOME: dir,
    XDG_CONFIG_HOME: dir,
    XDG_CACHE_HOME: path.join(dir, 'cache'),
    RCLONE_CONFIG: path.join(dir, 'rclone.conf'),
    [`${R}TYPE`]: 's3',
    [`${R}PROVIDER`]: 'Other',
    [`${R}ENDPOINT`]: endpoint,
    [`${R}ACCESS_KEY_ID`]: 'test',
    [`${R}SECRET_ACCESS_KEY`]: 'test',
    [`${R}REGION`]: 'us-east-1',
    // The AWS Go SDK inside rclone loads AWS_CA_BUNDLE when set and then fails on every
    // command ("LoadCustomCABundleError: ... unsupported transport, *fshttp.Transport").
    AWS_CA_BUNDLE: undefined,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_PROFILE: undefined,
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    // Fail fast instead of rclone's 3 × 10 retries; nothing else is changed.
    RCLONE_RETRIES: '1',
    RCLONE_LOW_LEVEL_RETRIES: '2',
  };
  for (const [k, v] of Object.entries(extra)) env[`${R}${k}`] = v;
  return env;
}

/** The environment boto3 runs in: nothing from the user's own configuration. */
export const BOTO3_ENV: NodeJS.ProcessEnv = {
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  AWS_PROFILE: undefined,
  AWS_DEFAULT_PROFILE: undefined,
  AWS_ACCESS_KEY_ID: undefined,
  AWS_SECRET_ACCESS_KEY: undefined,
  AWS_SESSION_TOKEN: undefined,
  AWS_ENDPOINT_URL: undefined,
  AWS_CA_BUNDLE: undefined,
  AWS_ENDPOINT_URL_S3: undefined,
  AWS_REQUEST_CHECKSUM_CALCULATION: undefined,
  AWS_RESPONSE_CHECKSUM_VALIDATION: undefined,
  PYTHONUNBUFFERED: '1',
  PYTHONDONTWRITEBYTECODE: '1',
};
