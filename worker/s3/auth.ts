/**
 * Who is asking. Every request passes an Authenticator before dispatch; SIMPLE mode (the seeds'
 * default) trusts the access key named in the credential, or the process user when there is
 * none, and accepts `x-amz-security-token` without checking it. Signature verification (SigV4,
 * presigned URLs, OIDC) slots in here as another Authenticator.
 */
import type { IncomingMessage } from 'node:http';
import os from 'node:os';

export interface Identity {
  user: string;
  /**
   * How the identity was established: 'simple' (named, not verified), 'sigv4' (a verified AWS
   * signature, SigV4 or SigV2), 'oidc' (a verified JWT), 'anonymous' (no credentials at all in a
   * verifying mode; user is '').
   */
  method: 'simple' | 'sigv4' | 'oidc' | 'anonymous';
}

export interface Authenticator {
  authenticate(req: IncomingMessage): Promise<Identity> | Identity;
  /**
   * Headers that authenticate a bodiless request a worker sends to a peer on its caller's behalf
   * (the per-key DELETEs of DeleteObjects), given the caller's credential headers. Modes whose
   * credentials are not bound to one request (SIMPLE, OIDC tokens) pass those headers on as
   * they are; SIGV4 re-signs, since the caller's signature covers only the caller's request.
   */
  peerHeaders?(callerHeaders: Readonly<Record<string, string>>, method: string, hostPort: string, path: string): Record<string, string> | undefined;
}

/** The access key of a SigV4/SigV2 credential (header or presigned query), if any. */
export function credentialUser(req: IncomingMessage): string | undefined {
  const raw = req.headers.authorization;
  return accessKeyOf(Array.isArray(raw) ? raw[0] : raw, req.url);
}

/** The access key named by an Authorization header value, else by a presigned URL's query. */
export function accessKeyOf(authorization: string | undefined, url?: string): string | undefined {
  const auth = authorization ?? '';
  const v4 = /Credential\s*=\s*([^/,\s]+)\//.exec(auth);
  if (v4) return v4[1];
  const v2 = /^AWS\s+([^:]+):/.exec(auth);
  if (v2) return v2[1];
  const q = new URLSearchParams(url?.split('?')[1] ?? '');
  return q.get('X-Amz-Credential')?.split('/')[0] || q.get('AWSAccessKeyId') || undefined;
}

export class SimpleAuthenticator implements Authenticator {
  private readonly processUser = os.userInfo().username;

  authenticate(req: IncomingMessage): Identity {
    return { user: credentialUser(req) ?? this.processUser, method: 'simple' };
  }
}
