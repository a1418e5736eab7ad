/**
 * The OIDC authenticator in-process, with keys generated here: where the token is read from,
 * what is accepted and what is refused (and as which S3 error), the configuration it refuses to
 * start with, a JWKS file re-read and a JWKS URL re-fetched when a token names a new key.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { createLogger } from '../../common/log.js';
import { S3Error } from '../../worker/s3/errors.js';
import { OidcAuthenticator, requestToken, type OidcOptions } from '../../worker/s3/oidc.js';
import { waitFor } from '../helpers/ports.js';

const quiet = createLogger('oidc-test', 'fatal', new Writable({ write: (_c, _e, cb) => cb() }));
const ISSUER = 'https://idp.example.test';

interface Key { kid: string; privateKey: CryptoKey; jwk: JWK }
async function newKey(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

function mint(key: Key, claims: Record<string, unknown>, opts: { issuer?: string; audience?: string; exp?: number | string; nbf?: number } = {}): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: key.kid }).setIssuedAt().setIssuer(opts.issuer ?? ISSUER).setExpirationTime(opts.exp ?? '10m');
  if (opts.audience) jwt.setAudience(opts.audience);
  if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
  return jwt.sign(key.privateKey);
}

function request(headers: Record<string, string>, url = '/b/k'): IncomingMessage {
  return { headers, url } as unknown as IncomingMessage;
}

async function refusedWith(auth: OidcAuthenticator, req: IncomingMessage, code: string, status: number): Promise<void> {
  await assert.rejects(auth.authenticate(req), (err: unknown) => {
    assert.ok(err instanceof S3Error, String(err));
    assert.equal(err.code, code);
    assert.equal(err.status, status);
    return true;
  });
}

let dir: string;
let k1: Key;
let k2: Key;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'alluxio-oidc-'));
  k1 = await newKey('k1');
  k2 = await newKey('k2');
});
after(() => rm(dir, { recursive: true, force: true }));

function options(over: Partial<OidcOptions>): OidcOptions {
  return { jwksFile: '', jwksUrl: '', issuer: ISSUER, audiences: [], userClaims: ['preferred_username', 'sub'], clockToleranceSec: 5, jwksCooldownMs: 0, ...over };
}

describe('where the token comes from', () => {
  it('Bearer first, then x-amz-security-token, then X-Amz-Security-Token in the query', () => {
    assert.equal(requestToken(request({ authorization: 'Bearer abc.def.ghi' })), 'abc.def.ghi');
    assert.equal(requestToken(request({ authorization: 'bearer  t1 ' })), 't1');
    assert.equal(requestToken(request({ authorization: 'AWS4-HMAC-SHA256 Credential=a/2024/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00', 'x-amz-security-token': 't2' })), 't2');
    assert.equal(requestToken(request({}, '/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Security-Token=t3')), 't3');
    assert.equal(requestToken(request({ authorization: 'AWS4-HMAC-SHA256 Credential=a/2024/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00' })), undefined);
    assert.equal(requestToken(request({})), undefined);
  });
});

describe('OIDC with a JWKS file', () => {
  let file: string;
  let auth: OidcAuthenticator;
  before(async () => {
    file = path.join(dir, 'jwks.json');
    await writeFile(file, JSON.stringify({ keys: [k1.jwk] }));
    auth = await OidcAuthenticator.create(options({ jwksFile: file, audiences: ['alluxio'] }), quiet);
  });

  it('accepts a valid token and names the user from preferred_username, else sub', async () => {
    const t = await mint(k1, { preferred_username: 'alice', sub: 'u-1' }, { audience: 'alluxio' });
    assert.deepEqual(await auth.authenticate(request({ authorization: `Bearer ${t}` })), { user: 'alice', method: 'oidc' });
    const t2 = await mint(k1, { sub: 'u-2' }, { audience: 'alluxio' });
    assert.deepEqual(await auth.authenticate(request({ 'x-amz-security-token': t2 })), { user: 'u-2', method: 'oidc' });
  });

  it('no token is the anonymous identity', async () => {
    assert.deepEqual(await auth.authenticate(request({})), { user: '', method: 'anonymous' });
  });

  it('refuses expired, not-yet-valid, wrong-issuer, wrong-audience, tampered, foreign-key and malformed tokens', async () => {
    const bearer = (t: string) => request({ authorization: `Bearer ${t}` });
    await refusedWith(auth, bearer(await mint(k1, { sub: 'a' }, { audience: 'alluxio', exp: Math.floor(Date.now() / 1000) - 3600 })), 'ExpiredToken', 400);
    await refusedWith(auth, bearer(await mint(k1, { sub: 'a' }, { audience: 'alluxio', nbf: Math.floor(Date.now() / 1000) + 3600 })), 'AccessDenied', 403);
    await refusedWith(auth, bearer(await mint(k1, { sub: 'a' }, { audience: 'alluxio', issuer: 'https://evil.test' })), 'AccessDenied', 403);
    await refusedWith(auth, bearer(await mint(k1, { sub: 'a' }, { audience: 'someone-else' })), 'AccessDenied', 403);
    await refusedWith(auth, bearer(await mint(k1, { sub: 'a' })), 'AccessDenied', 403);
    const good = await mint(k1, { preferred_username: 'bob' }, { audience: 'alluxio' });
    const [h, p, s] = good.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), preferred_username: 'root' })).toString('base64url');
    await refusedWith(auth, bearer(`${h}.${forged}.${s}`), 'AccessDenied', 403);
    const other = await newKey('k1');
    await refusedWith(auth, bearer(await mint(other, { sub: 'a' }, { audience: 'alluxio' })), 'AccessDenied', 403);
    await refusedWith(auth, bearer('not-a-jwt'), 'InvalidToken', 400);
    await refusedWith(auth, bearer(await mint(k1, { email: 'x@y' }, { audience: 'alluxio' })), 'AccessDenied', 403);
  });

  it('reads the file again when a token names a key it does not hold (rotation)', async () => {
    const t = await mint(k2, { sub: 'carol' }, { audience: 'alluxio' });
    await refusedWith(auth, request({ authorization: `Bearer ${t}` }), 'AccessDenied', 403);
    await writeFile(file, JSON.stringify({ keys: [k1.jwk, k2.jwk] }));
    assert.deepEqual(await auth.authenticate(request({ authorization: `Bearer ${t}` })), { user: 'carol', method: 'oidc' });
  });

  it('refuses to start without a key set, with two, without an issuer, or with a bad file', async () => {
    await assert.rejects(OidcAuthenticator.create(options({}), quiet), /jwks\.file or alluxio\.worker\.s3\.oidc\.jwks\.url/);
    await assert.rejects(OidcAuthenticator.create(options({ jwksFile: file, jwksUrl: 'http://127.0.0.1:1/' }), quiet), /only one/);
    await assert.rejects(OidcAuthenticator.create(options({ jwksFile: file, issuer: '' }), quiet), /issuer/);
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, '{"keys": 1}');
    await assert.rejects(OidcAuthenticator.create(options({ jwksFile: bad }), quiet), /cannot use the JWKS file/);
    await assert.rejects(OidcAuthenticator.create(options({ jwksFile: path.join(dir, 'missing.json') }), quiet), /cannot use the JWKS file/);
  });
});

describe('OIDC with a JWKS URL', () => {
  let keys: JWK[];
  let fetches = 0;
  let server: http.Server;
  let url: string;
  before(async () => {
    keys = [k1.jwk];
    server = http.createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('verifies with fetched keys and picks up a new kid after rotation', async () => {
    const auth = await OidcAuthenticator.create(options({ jwksUrl: url, jwksCooldownMs: 200 }), quiet);
    assert.equal(fetches, 1, 'the key set is fetched once at start');
    const t1 = await mint(k1, { preferred_username: 'alice' });
    assert.equal((await auth.authenticate(request({ authorization: `Bearer ${t1}` }))).user, 'alice');
    keys = [k2.jwk];
    const t2 = await mint(k2, { preferred_username: 'dave' });
    const who = await waitFor('the rotated key to be fetched', async () => (await auth.authenticate(request({ authorization: `Bearer ${t2}` })).catch(() => undefined))?.user, 10_000, 100);
    assert.equal(who, 'dave');
    assert.ok(fetches >= 2);
  });

  it('answers ServiceUnavailable when the key set cannot be fetched', async () => {
    const auth = await OidcAuthenticator.create(options({ jwksUrl: 'http://127.0.0.1:9/jwks.json' }), quiet);
    await refusedWith(auth, request({ authorization: `Bearer ${await mint(k1, { sub: 'a' })}` }), 'ServiceUnavailable', 503);
  });
});
