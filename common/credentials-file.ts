/**
 * The S3 credentials file of SIGV4 mode (alluxio.worker.s3.credentials.file): one credential a
 * line, `ACCESS_KEY_ID SECRET_ACCESS_KEY USER`, separated by spaces or tabs; blank lines and
 * lines starting with `#` are ignored. Plain lines (not JSON) so that an operator can append
 * and delete with the editor or the shell they already use; `alluxio credentials` writes the
 * same format. Shared by the worker (which reads it) and the CLI (which edits it).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Config } from './config/config.js';

export interface Credential {
  accessKeyId: string;
  secretAccessKey: string;
  user: string;
}

export class CredentialsFileError extends Error {
  override name = 'CredentialsFileError';
}

/** AWS access key ids are [A-Z0-9]{16,128}; we accept the URL-safe characters a Credential= scope can carry. */
const ACCESS_KEY = /^[A-Za-z0-9._~-]{3,128}$/;
const SECRET_KEY = /^\S{8,256}$/;
const USER = /^[A-Za-z0-9._@+=-]{1,128}$/;

/** Parses the whole file; any bad line rejects it all (a half-read table would lock users out). */
export function parseCredentials(text: string): Map<string, Credential> {
  const out = new Map<string, Credential>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    const where = `line ${i + 1}`;
    if (fields.length !== 3) throw new CredentialsFileError(`${where}: expected "ACCESS_KEY_ID SECRET_ACCESS_KEY USER", found ${fields.length} fields`);
    const [accessKeyId, secretAccessKey, user] = fields;
    if (!ACCESS_KEY.test(accessKeyId)) throw new CredentialsFileError(`${where}: the access key id must be 3-128 characters of A-Z a-z 0-9 . _ ~ -`);
    if (!SECRET_KEY.test(secretAccessKey)) throw new CredentialsFileError(`${where}: the secret key must be 8-256 non-space characters`);
    if (!USER.test(user)) throw new CredentialsFileError(`${where}: the user name must be 1-128 characters of A-Z a-z 0-9 . _ @ + = -`);
    if (out.has(accessKeyId)) throw new CredentialsFileError(`${where}: access key id ${accessKeyId} appears twice`);
    out.set(accessKeyId, { accessKeyId, secretAccessKey, user });
  });
  return out;
}

export function credentialLine(c: Credential): string {
  return `${c.accessKeyId} ${c.secretAccessKey} ${c.user}\n`;
}

export function isValidUserName(user: string): boolean {
  return USER.test(user);
}

/** A new key pair shaped like AWS's: a 20-character upper-case id and a 40-character base64 secret. */
export function generateCredential(user: string): Credential {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const id = [...randomBytes(18)].map((b) => alphabet[b & 31]).join('');
  // base64url: no '/' or '+', which some tools mishandle in a secret pasted on a command line.
  const secretAccessKey = randomBytes(30).toString('base64url');
  return { accessKeyId: `AK${id}`, secretAccessKey, user };
}

/** Where the credentials file is: alluxio.worker.s3.credentials.file, else under the data dir. */
export function s3CredentialsFile(config: Config): string {
  return config.path('alluxio.worker.s3.credentials.file', () => path.join(config.dataDir(), 'security', 's3-credentials'));
}
