/**
 * OIDC authentication and bucket authorization through a real 3-worker cluster. Keys are made
 * here; workers 0 and 1 read the JWKS from a file, worker 2 fetches it from a small HTTP server
 * (so rotation to a new kid is seen there). Tokens for alice, bob and an admin go out as
 * `Authorization: Bearer` (a JS SDK middleware), as the SDK's session token
 * (x-amz-security-token), from boto3 and from curl. Every refusal is checked against the UFS:
 * a refused request wrote and deleted nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand,
  ListBucketsCommand, ListObjectsV2Command, PutBucketTaggingCommand, PutObjectCommand, S3Client, CopyObjectCommand,
} from '@aws-sdk/client-s3';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { runCli, runCommand, startCluster, tempDir, type TestCluster } from '../helpers/cluster.js';
import { expectS3Error } from '../helpers/s3.js';
import { waitFor } from '../helpers/ports.js';

const ISSUER = 'https://idp.authz.test';
const AUDIENCE = 'alluxio';

interface Key { kid: string; privateKey: CryptoKey; jwk: JWK }
async function newKey(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

function mint(key: Key, user: string, opts: { issuer?: string; exp?: number | string } = {}): Promise<string> {
  return new SignJWT({ preferred_username: user, sub: `id-${user}` })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid })
    .setIssuedAt()
    .setIssuer(opts.issuer ?? ISSUER)
    .setAudience(AUDIENCE)
    .setExpirationTime(opts.exp ?? '1h')
    .sign(key.privateKey);
}

const clients: S3Client[] = [];
function sdk(endpoint: string, sessionToken?: string): S3Client {
  const c = new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1,
    credentials: { accessKeyId: 'oidc', secretAccessKey: 'unused', ...(sessionToken ? { sessionToken } : {}) },
  });
  clients.push(c);
  return c;
}

/** The token as `Authorization: Bearer`, replacing the SigV4 header after signing. */
function bearer(endpoint: string, token: string): S3Client {
  const c = sdk(endpoint);
  c.middlewareStack.add((next) => async (args) => {
    (args.request as { headers: Record<string, string> }).headers.authorization = `Bearer ${token}`;
    return next(args);
  }, { step: 'deserialize', name: 'oidcBearer' });
  return c;
}

async function text(c: S3Client, bucket: string, key: string): Promise<string> {
  const r = await c.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return r.Body!.transformToString();
}

async function denied(p: Promise<unknown>): Promise<void> {
  await expectS3Error(p, 'AccessDenied', 403);
}

describe('OIDC authentication and bucket permissions (3 workers)', () => {
  let cluster: TestCluster;
  let dir: string;
  let k1: Key;
  let k2: Key;
  let jwksServer: http.Server;
  let servedKeys: JWK[];
  let alice: string;
  let bob: string;
  let root: string;
  const ufs = (bucket: string, key: string) => path.join(cluster.ufsRoot, bucket, key);
  const cli = (...args: string[]) => runCli(['bucket', ...args], { conf: cluster.cliConf() });

  before(async () => {
    dir = tempDir('authz');
    k1 = await newKey('k1');
    k2 = await newKey('k2');
    const jwksFile = path.join(dir, 'jwks.json');
    await writeFile(jwksFile, JSON.stringify({ keys: [k1.jwk] }));
    servedKeys = [k1.jwk];
    jwksServer = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: servedKeys })));
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    cluster = await startCluster({
      workers: 3,
      dataDir: path.join(dir, 'cluster'),
      conf: {
        'alluxio.worker.s3.authentication': 'OIDC',
        'alluxio.worker.s3.oidc.issuer': ISSUER,
        'alluxio.worker.s3.oidc.audience': AUDIENCE,
        'alluxio.worker.s3.oidc.jwks.cooldown': '500ms',
        'alluxio.security.admin.users': 'root',
      },
      workerConf: (i): Record<string, string> => (i === 2 ? { 'alluxio.worker.s3.oidc.jwks.url': jwksUrl } : { 'alluxio.worker.s3.oidc.jwks.file': jwksFile }),
    });
    alice = await mint(k1, 'alice');
    bob = await mint(k1, 'bob');
    root = await mint(k1, 'root');
  });

  after(async () => {
    for (const c of clients) c.destroy();
    await cluster?.close();
    await new Promise<void>((r) => jwksServer?.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  it('a worker in OIDC mode without a JWKS refuses to start', async () => {
    const r = await runCli(['worker'], { conf: { ...cluster.cliConf(), 'alluxio.data.dir': path.join(dir, 'nojwks'), 'alluxio.worker.s3.authentication': 'OIDC', 'alluxio.worker.s3.oidc.issuer': ISSUER, 'alluxio.worker.s3.port': '0', 'alluxio.worker.rpc.port': '0' }, timeoutMs: 60_000 });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /alluxio\.worker\.s3\.oidc\.jwks\.file or alluxio\.worker\.s3\.oidc\.jwks\.url/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'one line, no stack trace');
  });

  it('the creator owns the bucket and may do everything on it', async () => {
    const a = bearer(cluster.workers[0].endpoint, alice);
    await a.send(new CreateBucketCommand({ Bucket: 'team' }));
    await a.send(new PutObjectCommand({ Bucket: 'team', Key: 'doc.txt', Body: 'hello' }));
    assert.equal(await text(a, 'team', 'doc.txt'), 'hello');
    await a.send(new PutBucketTaggingCommand({ Bucket: 'team', Tagging: { TagSet: [{ Key: 'k', Value: 'v' }] } }));
    const list = await a.send(new ListObjectsV2Command({ Bucket: 'team' }));
    assert.deepEqual(list.Contents?.map((o) => o.Key), ['doc.txt']);
    // DeleteObjects reaches keys owned by every worker, each checked there.
    const keys = ['d0', 'd1', 'd2', 'd3', 'd4', 'd5'];
    for (const k of keys) await a.send(new PutObjectCommand({ Bucket: 'team', Key: k, Body: k }));
    const del = await a.send(new DeleteObjectsCommand({ Bucket: 'team', Delete: { Objects: keys.map((Key) => ({ Key })) } }));
    assert.deepEqual(del.Errors ?? [], []);
    for (const k of keys) assert.ok(!existsSync(ufs('team', k)), `${k} deleted`);
    const show = await cli('show', 'team');
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /owner:\s+alice/);
  });

  it('bob is denied until granted read, then reads only, then writes after a write grant', async () => {
    const b = sdk(cluster.workers[1].endpoint, bob);
    await denied(text(b, 'team', 'doc.txt'));
    await denied(b.send(new ListObjectsV2Command({ Bucket: 'team' })));
    await denied(b.send(new PutObjectCommand({ Bucket: 'team', Key: 'bob.txt', Body: 'x' })));
    assert.ok(!existsSync(ufs('team', 'bob.txt')));

    const g = await cli('grant', 'team', 'bob', 'read');
    assert.equal(g.code, 0, g.stderr);
    await waitFor('bob\'s read grant on every worker', async () => {
      for (const w of cluster.workers) if (await text(sdk(w.endpoint, bob), 'team', 'doc.txt').catch(() => undefined) !== 'hello') return false;
      return true;
    }, 10_000, 100);
    await denied(b.send(new PutObjectCommand({ Bucket: 'team', Key: 'bob.txt', Body: 'x' })));
    await denied(b.send(new DeleteObjectCommand({ Bucket: 'team', Key: 'doc.txt' })));
    await denied(b.send(new DeleteBucketCommand({ Bucket: 'team' })));
    await denied(b.send(new CopyObjectCommand({ Bucket: 'team', Key: 'copy.txt', CopySource: 'team/doc.txt' })));
    assert.ok(!existsSync(ufs('team', 'bob.txt')));
    assert.ok(!existsSync(ufs('team', 'copy.txt')));
    assert.equal(await readFile(ufs('team', 'doc.txt'), 'utf8'), 'hello');

    assert.equal((await cli('grant', 'team', 'bob', 'write')).code, 0);
    await waitFor('bob\'s write grant', () => b.send(new PutObjectCommand({ Bucket: 'team', Key: 'bob.txt', Body: 'from bob' })).then(() => true, () => false), 10_000, 100);
    assert.equal(await readFile(ufs('team', 'bob.txt'), 'utf8'), 'from bob');
    // Writing is not owning: deleting the bucket and its tagging stay the owner's.
    await denied(b.send(new PutBucketTaggingCommand({ Bucket: 'team', Tagging: { TagSet: [] } })));
    await denied(b.send(new DeleteBucketCommand({ Bucket: 'team' })));
  });

  it('requests that land on a non-owner worker are checked too', async () => {
    const key = cluster.keyOwnedBy(cluster.workers[2], 'team', 'routed-');
    const via = cluster.nonOwner('team', key);
    const eve = await mint(k1, 'eve');
    await denied(bearer(via.endpoint, eve).send(new PutObjectCommand({ Bucket: 'team', Key: key, Body: 'x' })));
    assert.ok(!existsSync(ufs('team', key)));
    await bearer(via.endpoint, alice).send(new PutObjectCommand({ Bucket: 'team', Key: key, Body: 'routed' }));
    await denied(text(bearer(via.endpoint, eve), 'team', key));
    await denied(bearer(via.endpoint, eve).send(new DeleteObjectCommand({ Bucket: 'team', Key: key })));
    assert.equal(await readFile(ufs('team', key), 'utf8'), 'routed');
  });

  it('a revoke takes effect', async () => {
    assert.equal((await cli('revoke', 'team', 'bob')).code, 0);
    await waitFor('bob\'s grant gone everywhere', async () => {
      for (const w of cluster.workers) if (await text(sdk(w.endpoint, bob), 'team', 'doc.txt').then(() => true, () => false)) return false;
      return true;
    }, 10_000, 100);
    await denied(sdk(cluster.workers[0].endpoint, bob).send(new PutObjectCommand({ Bucket: 'team', Key: 'late.txt', Body: 'x' })));
    assert.ok(!existsSync(ufs('team', 'late.txt')));
  });

  it('anonymous callers read only with the anonymous grant (curl, no credentials)', async () => {
    const url = `${cluster.workers[0].endpoint}/team/doc.txt`;
    const curl = (...args: string[]) => runCommand('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', ...args]);
    assert.equal((await curl(url)).stdout, '403');
    assert.equal((await cli('grant', 'team', '--anonymous', 'read')).code, 0);
    await waitFor('anonymous read', async () => (await curl(url)).stdout === '200', 10_000, 100);
    const body = await runCommand('curl', ['-s', url]);
    assert.equal(body.stdout, 'hello');
    assert.equal((await curl('-X', 'PUT', '--data-binary', 'anon', `${cluster.workers[0].endpoint}/team/anon.txt`)).stdout, '403');
    assert.equal((await curl('-X', 'DELETE', url)).stdout, '403');
    assert.ok(!existsSync(ufs('team', 'anon.txt')));
    assert.ok(existsSync(ufs('team', 'doc.txt')));
    assert.equal((await curl('-X', 'PUT', `${cluster.workers[0].endpoint}/anon-bucket`)).stdout, '403');
    assert.ok(!existsSync(path.join(cluster.ufsRoot, 'anon-bucket')));
    assert.equal((await cli('revoke', 'team', '--anonymous')).code, 0);
    await waitFor('anonymous read revoked', async () => (await curl(url)).stdout === '403', 10_000, 100);
  });

  it('ListBuckets shows each user the buckets they may read; admins see all', async () => {
    await sdk(cluster.workers[2].endpoint, bob).send(new CreateBucketCommand({ Bucket: 'bobs' }));
    const names = async (c: S3Client) => ((await c.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name).sort();
    assert.deepEqual(await names(bearer(cluster.workers[0].endpoint, alice)), ['team']);
    assert.deepEqual(await names(bearer(cluster.workers[1].endpoint, bob)), ['bobs']);
    assert.deepEqual(await names(bearer(cluster.workers[1].endpoint, root)), ['bobs', 'team']);
    assert.deepEqual(await names(sdk(cluster.workers[0].endpoint)), []);
    await denied(bearer(cluster.workers[0].endpoint, alice).send(new PutObjectCommand({ Bucket: 'bobs', Key: 'x', Body: 'x' })));
    await bearer(cluster.workers[0].endpoint, root).send(new PutObjectCommand({ Bucket: 'bobs', Key: 'by-admin', Body: 'x' }));
    assert.ok(existsSync(ufs('bobs', 'by-admin')));
  });

  it('expired, wrong-issuer and tampered tokens are refused and change nothing', async () => {
    const expired = await mint(k1, 'alice', { exp: Math.floor(Date.now() / 1000) - 3600 });
    const wrongIssuer = await mint(k1, 'alice', { issuer: 'https://other-idp.test' });
    const [h, p, s] = (await mint(k1, 'eve')).split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), preferred_username: 'alice' })).toString('base64url')}.${s}`;
    const cases: [string, string, string, number][] = [['expired', expired, 'ExpiredToken', 400], ['wrong issuer', wrongIssuer, 'AccessDenied', 403], ['tampered', tampered, 'AccessDenied', 403]];
    for (const [what, token, code, status] of cases) {
      for (const w of cluster.workers) {
        for (const c of [bearer(w.endpoint, token), sdk(w.endpoint, token)]) {
          await expectS3Error(c.send(new PutObjectCommand({ Bucket: 'team', Key: `bad-${what}`, Body: 'x' })), code, status);
          await expectS3Error(c.send(new GetObjectCommand({ Bucket: 'team', Key: 'doc.txt' })), code, status);
          await expectS3Error(c.send(new DeleteObjectCommand({ Bucket: 'team', Key: 'doc.txt' })), code, status);
          await expectS3Error(c.send(new CreateBucketCommand({ Bucket: `bad-${what.replace(' ', '-')}` })), code, status);
        }
      }
      assert.ok(!existsSync(ufs('team', `bad-${what}`)), `${what}: nothing written`);
      assert.ok(!existsSync(path.join(cluster.ufsRoot, `bad-${what.replace(' ', '-')}`)), `${what}: no bucket made`);
    }
    assert.equal(await readFile(ufs('team', 'doc.txt'), 'utf8'), 'hello', 'nothing deleted');
  });

  it('a JWKS URL is fetched again when a token names a new key (rotation)', async () => {
    const rotated = await mint(k2, 'alice');
    const w2 = cluster.workers[2];
    // Bucket-level requests are served by the worker they reach: worker 2 verifies these.
    await denied(bearer(w2.endpoint, rotated).send(new ListObjectsV2Command({ Bucket: 'team' })));
    servedKeys = [k1.jwk, k2.jwk];
    await waitFor('worker 2 to fetch the rotated key set', () => bearer(w2.endpoint, rotated).send(new ListObjectsV2Command({ Bucket: 'team' })).then(() => true, () => false), 15_000, 200);
  });

  it('boto3 sends the token as its session token', async () => {
    const script = `
import sys, boto3, botocore
from botocore.config import Config
def client(token):
    return boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='oidc', aws_secret_access_key='unused',
                        aws_session_token=token, config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
a = client(sys.argv[2])
a.put_object(Bucket='team', Key='boto.txt', Body=b'from boto3')
assert a.get_object(Bucket='team', Key='boto.txt')['Body'].read() == b'from boto3'
keys = [o['Key'] for o in a.list_objects_v2(Bucket='team').get('Contents', [])]
assert 'boto.txt' in keys, keys
try:
    client(sys.argv[3]).get_object(Bucket='team', Key='boto.txt')
    print('bob was allowed'); sys.exit(1)
except botocore.exceptions.ClientError as e:
    assert e.response['Error']['Code'] == 'AccessDenied', e.response
print('ok')
`;
    const r = await runCommand('python3', ['-c', script, cluster.workers[1].endpoint, alice, bob], {
      env: { AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_PROFILE: undefined, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined, AWS_ENDPOINT_URL: undefined, AWS_ENDPOINT_URL_S3: undefined },
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, `python3 with boto3 is required:\n${r.stdout}\n${r.stderr}`);
    assert.equal(r.stdout.trim(), 'ok');
    assert.equal(await readFile(ufs('team', 'boto.txt'), 'utf8'), 'from boto3');
  });

  it('the CLI names bad input in one line and exits non-zero', async () => {
    for (const args of [['show', 'no-such-bucket'], ['grant', 'no-such-bucket', 'bob', 'read'], ['grant', 'team', 'bob', 'admin'], ['grant', 'team', '--anonymous', 'write'], ['revoke', 'team'], ['set-owner', 'no-such-bucket', 'bob']]) {
      const r = await cli(...args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^alluxio: /);
    }
    assert.match((await cli('show', 'no-such-bucket')).stderr, /no such bucket: no-such-bucket/);
  });

  it('the coordinator\'s REST API shows and changes grants too', async () => {
    const api = `http://127.0.0.1:${cluster.coordinatorWebPort}/api/v1/buckets`;
    const put = (url: string, body: object) => fetch(url, { method: 'PUT', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    assert.equal((await put(`${api}/team/grants/dave`, { permission: 'write' })).status, 200);
    const shown = await (await fetch(`${api}/team/permissions`)).json() as { owner: string; grants: Record<string, string> };
    assert.equal(shown.owner, 'alice');
    assert.equal(shown.grants.dave, 'write');
    assert.equal((await put(`${api}/team/grants/dave`, { permission: 'owner' })).status, 400);
    assert.equal((await fetch(`${api}/team/grants/dave`, { method: 'DELETE' })).status, 200);
    assert.equal(((await (await fetch(`${api}/team/permissions`)).json()) as { grants: Record<string, string> }).grants.dave, undefined);
    const missing = await fetch(`${api}/no-such-bucket/permissions`);
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { error: string }).error, /no such bucket/);
  });

  it('owners and grants survive a coordinator restart', async () => {
    assert.equal((await cli('grant', 'team', 'bob', 'read')).code, 0);
    assert.equal((await cli('set-owner', 'bobs', 'carol')).code, 0);
    await cluster.restartCoordinator();
    const show = await cli('show', 'team', '--json');
    assert.equal(show.code, 0, show.stderr);
    assert.deepEqual(JSON.parse(show.stdout), { bucket: 'team', owner: 'alice', anonymousRead: false, grants: { bob: 'read' } });
    const carol = await mint(k1, 'carol');
    await waitFor('workers to have the permissions again', async () => {
      for (const w of cluster.workers) {
        if (await text(sdk(w.endpoint, bob), 'team', 'doc.txt').catch(() => undefined) !== 'hello') return false;
        if (!(await bearer(w.endpoint, carol).send(new HeadObjectCommand({ Bucket: 'bobs', Key: 'by-admin' })).then(() => true, () => false))) return false;
      }
      return true;
    }, 20_000, 200);
    await denied(sdk(cluster.workers[0].endpoint, bob).send(new PutObjectCommand({ Bucket: 'team', Key: 'after-restart', Body: 'x' })));
    // The owner deletes the (emptied) bucket; its permissions go with it.
    const c = bearer(cluster.workers[0].endpoint, carol);
    await c.send(new DeleteObjectCommand({ Bucket: 'bobs', Key: 'by-admin' }));
    await c.send(new DeleteBucketCommand({ Bucket: 'bobs' }));
    assert.match((await cli('show', 'bobs')).stderr, /no such bucket/);
  });
});
