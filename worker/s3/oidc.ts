/**
 * OIDC authentication: the caller presents a JWT from the identity provider, either as
 * `Authorization: Bearer <JWT>` or as the session token of an AWS credential
 * (`x-amz-security-token` header, or `X-Amz-Security-Token` in a presigned URL) — boto3 and the
 * SDKs send a session token beside their SigV4 signature, and in this mode the token is what is
 * verified, never the signature. The JWT's signature is checked against the issuer's JWKS (a
 * file, re-read when a token names an unknown key, or a URL, fetched again on an unknown key),
 * then iss, aud (when configured), exp and nbf with a small clock tolerance; the user is the
 * first configured claim the token carries.
 *
 * No token at all is the anonymous identity (authorization decides what it may read); a token
 * that fails any check is refused before anything is read or written.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../../common/config/config.js';
import type { Logger } from '../../common/log.js';
import type { Authenticator, Identity } from './auth.js';
import { S3Error } from './errors.js';

export interface OidcOptions {
  /** A JWKS document on disk; exactly one of jwksFile and jwksUrl. */
  jwksFile: string;
  jwksUrl: string;
  issuer: string;
  /** Accepted audiences; empty skips the aud check. */
  audiences: readonly string[];
  /** Claims tried in order for the user name. */
  userClaims: readonly string[];
  clockToleranceSec: number;
  /** Shortest time between two loads of the key set prompted by unknown key ids. */
  jwksCooldownMs: number;
}

/** The JWT a request carries, if any (Bearer first, then the AWS session token). */
export function requestToken(req: IncomingMessage): string | undefined {
  const raw = req.headers.authorization;
  const auth = (Array.isArray(raw) ? raw[0] : raw) ?? '';
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(auth);
  if (bearer) return bearer[1];
  const header = req.headers['x-amz-security-token'];
  const token = Array.isArray(header) ? header[0] : header;
  if (token) return token.trim();
  const q = req.url?.indexOf('?') ?? -1;
  if (q >= 0) {
    const fromQuery = new URLSearchParams(req.url!.slice(q + 1)).get('X-Amz-Security-Token');
    if (fromQuery) return fromQuery;
  }
  return undefined;
}

/** A JWKS file, read again (at most once per cooldown) when a token names a key it lacks. */
class FileKeySet {
  private keys!: JWTVerifyGetKey;
  private loadedAt = 0;

  private constructor(private readonly file: string, private readonly cooldownMs: number) {}

  static async open(file: string, cooldownMs: number): Promise<FileKeySet> {
    const set = new FileKeySet(file, cooldownMs);
    await set.load();
    return set;
  }

  private async load(): Promise<void> {
    let doc: JSONWebKeySet;
    try {
      doc = JSON.parse(await readFile(this.file, 'utf8')) as JSONWebKeySet;
      this.keys = createLocalJWKSet(doc);
    } catch (err) {
      throw new Error(`cannot use the JWKS file ${this.file}: ${(err as Error).message}`, { cause: err });
    }
    this.loadedAt = Date.now();
  }

  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await this.keys(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || Date.now() - this.loadedAt < this.cooldownMs) throw err;
      await this.load();
      return this.keys(header, token);
    }
  };
}

const REFUSED = [errors.JWTClaimValidationFailed, errors.JWSSignatureVerificationFailed, errors.JWKSNoMatchingKey, errors.JWKSMultipleMatchingKeys, errors.JOSEAlgNotAllowed, errors.JOSENotSupported];

/** A failed verification as the S3 error the client sees. */
function refusal(err: unknown, log: Logger): S3Error {
  if (err instanceof S3Error) return err;
  if (err instanceof errors.JWTExpired) return new S3Error('ExpiredToken');
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return new S3Error('InvalidToken');
  if (REFUSED.some((cls) => err instanceof cls)) {
    const claim = err instanceof errors.JWTClaimValidationFailed ? ` (${err.claim}: ${err.reason})` : '';
    return new S3Error('AccessDenied', `The OIDC token was not accepted${claim}.`);
  }
  // The key set could not be loaded: our problem, not the caller's.
  log.warn({ err: (err as Error).message }, 'cannot verify OIDC tokens: the key set is unavailable');
  return new S3Error('ServiceUnavailable', 'The OIDC key set is unavailable; please try again.');
}

export class OidcAuthenticator implements Authenticator {
  private constructor(private readonly opts: OidcOptions, private readonly getKey: JWTVerifyGetKey, private readonly log: Logger) {}

  /** Refuses a configuration without a key set or an issuer, and an unreadable JWKS file. */
  static async create(opts: OidcOptions, log: Logger): Promise<OidcAuthenticator> {
    if (opts.jwksFile === '' && opts.jwksUrl === '') {
      throw new Error('OIDC authentication needs the issuer\'s key set: set alluxio.worker.s3.oidc.jwks.file or alluxio.worker.s3.oidc.jwks.url');
    }
    if (opts.jwksFile !== '' && opts.jwksUrl !== '') {
      throw new Error('set only one of alluxio.worker.s3.oidc.jwks.file and alluxio.worker.s3.oidc.jwks.url');
    }
    if (opts.issuer === '') throw new Error('OIDC authentication needs alluxio.worker.s3.oidc.issuer (the iss every token must carry)');
    if (opts.userClaims.length === 0) throw new Error('alluxio.worker.s3.oidc.user.claim names no claim');
    let getKey: JWTVerifyGetKey;
    if (opts.jwksFile !== '') {
      getKey = (await FileKeySet.open(opts.jwksFile, opts.jwksCooldownMs)).getKey;
    } else {
      let url: URL;
      try {
        url = new URL(opts.jwksUrl);
      } catch {
        throw new Error(`alluxio.worker.s3.oidc.jwks.url is not a URL: ${opts.jwksUrl}`);
      }
      const remote = createRemoteJWKSet(url, { cooldownDuration: opts.jwksCooldownMs, timeoutDuration: 5000 });
      // Warm the cache; an identity provider that is down now is retried on the first token.
      await remote.reload().catch((err: Error) => log.warn({ url: opts.jwksUrl, err: err.message }, 'cannot fetch the OIDC key set yet'));
      getKey = remote;
    }
    log.info({ jwks: opts.jwksFile || opts.jwksUrl, issuer: opts.issuer, audiences: opts.audiences, user_claims: opts.userClaims }, 'OIDC authentication on');
    return new OidcAuthenticator(opts, getKey, log);
  }

  async authenticate(req: IncomingMessage): Promise<Identity> {
    const token = requestToken(req);
    if (token === undefined) return { user: '', method: 'anonymous' };
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.getKey, {
        issuer: this.opts.issuer,
        ...(this.opts.audiences.length ? { audience: [...this.opts.audiences] } : {}),
        clockTolerance: this.opts.clockToleranceSec,
      }));
    } catch (err) {
      throw refusal(err, this.log);
    }
    for (const claim of this.opts.userClaims) {
      const v = payload[claim];
      if (typeof v === 'string' && v !== '') return { user: v, method: 'oidc' };
    }
    throw new S3Error('AccessDenied', `The OIDC token names no user (claims ${this.opts.userClaims.join(', ')}).`);
  }
}

/** The OIDC keys of the registry, as options. */
export function oidcOptionsFrom(config: Config): OidcOptions {
  const list = (key: string) => config.string(key).split(',').map((s) => s.trim()).filter(Boolean);
  return {
    jwksFile: config.string('alluxio.worker.s3.oidc.jwks.file').trim() === '' ? '' : config.path('alluxio.worker.s3.oidc.jwks.file'),
    jwksUrl: config.string('alluxio.worker.s3.oidc.jwks.url').trim(),
    issuer: config.string('alluxio.worker.s3.oidc.issuer').trim(),
    audiences: list('alluxio.worker.s3.oidc.audience'),
    userClaims: list('alluxio.worker.s3.oidc.user.claim'),
    clockToleranceSec: Math.ceil(config.durationMs('alluxio.worker.s3.oidc.clock.tolerance') / 1000),
    jwksCooldownMs: config.durationMs('alluxio.worker.s3.oidc.jwks.cooldown'),
  };
}
