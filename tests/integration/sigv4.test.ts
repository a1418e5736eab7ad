/**
 * SIGV4 mode end to end: a 3-worker cluster verifying signatures against a credentials file
 * made by `alluxio credentials`. Requests go to the owner and to a non-owner (which proxies
 * with Host unchanged); worker-2 answers GETs with 307 so that a redirect is seen to need a
 * valid signature first.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CreateBucketCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListBucketsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { runCli, startCluster, tempDir, type TestCluster, type TestWorker } from '../helpers/cluster.js';
import { expectS3Error } from '../helpers/s3.js';
import { waitFor } from '../helpers/ports.js';
import { presign, send, signRequest, type Keys } from '../helpers/sigv4.js';
import { ChunkSigner, signingKey } from '../../worker/s3/sigv4.js';

const BUCKET = 'sigv4-bucket';

function client(endpoint: string, keys: Keys): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: keys, maxAttempts: 1 });
}

async function createKey(file: string, user: string): Promise<Keys> {
  const r = await runCli(['credentials', 'create', user, '--file', file]);
  assert.equal(r.code, 0, r.stderr);
  const accessKeyId = /AccessKeyId\s+(\S+)/.exec(r.stdout)?.[1];
  const secretAccessKey = /SecretAccessKey\s+(\S+)/.exec(r.stdout)?.[1];
  assert.ok(accessKeyId && secretAccessKey, r.stdout);
  return { accessKeyId, secretAccessKey };
}

/** Every file under the data dir but the logs: what a failed upload must not add to. */
async function filesUnder(dir: string): Promise<Set<string>> {
  const out = new Set<string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) { if (e.name !== 'logs') await walk(p); } else out.add(path.relative(dir, p));
    }
  };
  await walk(dir);
  return out;
}

/** A STREAMING-AWS4-HMAC-SHA256-PAYLOAD PUT, signed by the SDK signer (seed) and chained per chunk. */
async function signedChunkPut(endpoint: string, key: string, keys: Keys, data: Buffer, chunkSize: number, flipByte?: number): Promise<{ status: number; code: string }> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunkSize) chunks.push(data.subarray(i, i + chunkSize));
  chunks.push(Buffer.alloc(0));
  const sigLen = ';chunk-signature='.length + 64 + 4;
  const encodedLength = chunks.reduce((n, c) => n + c.length.toString(16).length + sigLen + c.length, 0);
  const url = `${endpoint}/${BUCKET}/${key}`;
  const seed = await signRequest(keys, 'PUT', url, {
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': String(data.length),
    'content-length': String(encodedLength),
  });
  const amzDate = seed.headers['x-amz-date'];
  const seedSig = /Signature=([0-9a-f]{64})/.exec(seed.headers.authorization)![1];
  const scope = `${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`;
  const chain = new ChunkSigner(signingKey(keys.secretAccessKey, amzDate.slice(0, 8), 'us-east-1', 's3'), amzDate, scope, seedSig);
  const body = Buffer.concat(chunks.flatMap((c) => [Buffer.from(`${c.length.toString(16)};chunk-signature=${chain.next(createHash('sha256').update(c).digest('hex'))}\r\n`), c, Buffer.from('\r\n')]));
  assert.equal(body.length, encodedLength);
  if (flipByte !== undefined) {
    // The flipped byte lies in the data of a chunk (not in its header line).
    const at = chunks[0].length.toString(16).length + sigLen - 2 + flipByte;
    body[at] ^= 0x20;
  }
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, method: 'PUT', path: u.pathname, headers: seed.headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? '' }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('SIGV4 mode on a 3-worker cluster', () => {
  let cluster: TestCluster;
  let credFile: string;
  let alice: Keys;
  let owner: TestWorker;
  let other: TestWorker;
  let key: string;

  before(async () => {
    const dataDir = tempDir('sigv4');
    credFile = path.join(dataDir, 'security', 's3-credentials');
    alice = await createKey(credFile, 'alice');
    assert.equal((await fs.stat(credFile)).mode & 0o777, 0o600);
    cluster = await startCluster({
      dataDir,
      conf: {
        'alluxio.worker.s3.authentication': 'SIGV4',
        'alluxio.worker.s3.credentials.file': credFile,
        'alluxio.worker.s3.credentials.reload.interval': '200ms',
      },
      // worker-2 redirects GETs to owners instead of proxying them.
      workerConf: (i): Record<string, string> => (i === 2 ? { 'alluxio.worker.s3.redirect.enabled': 'true' } : {}),
    });
    owner = cluster.workers[0];
    other = cluster.workers[1];
    key = cluster.keyOwnedBy(owner, BUCKET, 'obj-');
    await client(owner.endpoint, alice).send(new CreateBucketCommand({ Bucket: BUCKET }));
  });

  after(async () => {
    await cluster?.close();
  });

  it('the right keys write and read through the owner and through a non-owner', async () => {
    await client(other.endpoint, alice).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'hello via a non-owner' }));
    const viaOwner = await client(owner.endpoint, alice).send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    assert.equal(await viaOwner.Body!.transformToString(), 'hello via a non-owner');
    const k2 = cluster.keyOwnedBy(owner, BUCKET, 'second-');
    await client(owner.endpoint, alice).send(new PutObjectCommand({ Bucket: BUCKET, Key: k2, Body: 'via the owner' }));
    const viaOther = await client(other.endpoint, alice).send(new GetObjectCommand({ Bucket: BUCKET, Key: k2 }));
    assert.equal(await viaOther.Body!.transformToString(), 'via the owner');
  });

  it('a wrong secret is SignatureDoesNotMatch, and nothing is written or read', async () => {
    const wrong = { ...alice, secretAccessKey: `${alice.secretAccessKey}x` };
    const k = cluster.keyOwnedBy(owner, BUCKET, 'wrong-');
    for (const w of [owner, other]) {
      await expectS3Error(client(w.endpoint, wrong).send(new PutObjectCommand({ Bucket: BUCKET, Key: k, Body: 'must not land' })), 'SignatureDoesNotMatch', 403);
      await expectS3Error(client(w.endpoint, wrong).send(new GetObjectCommand({ Bucket: BUCKET, Key: key })), 'SignatureDoesNotMatch', 403);
    }
    await expectS3Error(client(owner.endpoint, alice).send(new HeadObjectCommand({ Bucket: BUCKET, Key: k })), 'NotFound', 404);
  });

  it('an unknown access key is InvalidAccessKeyId', async () => {
    await expectS3Error(client(other.endpoint, { accessKeyId: 'AKNOSUCHKEY000000000', secretAccessKey: 'whatever-secret' }).send(new GetObjectCommand({ Bucket: BUCKET, Key: key })), 'InvalidAccessKeyId', 403);
  });

  it('a clock 20 minutes off is RequestTimeTooSkewed with ServerTime', async () => {
    const r = await send(await signRequest(alice, 'GET', `${other.endpoint}/${BUCKET}/${key}`, {}, { signingDate: new Date(Date.now() - 20 * 60_000) }));
    assert.equal(r.status, 403);
    assert.equal(r.code, 'RequestTimeTooSkewed');
    assert.match(r.body, /<ServerTime>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ<\/ServerTime>/);
    assert.match(r.body, /<RequestTime>\d{8}T\d{6}Z<\/RequestTime>/);
  });

  it('a tampered header or query is SignatureDoesNotMatch; the untampered request works', async () => {
    const url = `${owner.endpoint}/${BUCKET}/${key}`;
    const good = await signRequest(alice, 'GET', url, { range: 'bytes=0-4' });
    assert.equal((await send(good)).status, 206);
    assert.equal((await send({ ...good, headers: { ...good.headers, range: 'bytes=0-9' } })).code, 'SignatureDoesNotMatch');
    assert.equal((await send({ ...good, url: `${url}?versionId=null` })).code, 'SignatureDoesNotMatch');
    const listed = await signRequest(alice, 'GET', `${other.endpoint}/${BUCKET}?list-type=2&prefix=obj`);
    assert.equal((await send(listed)).status, 200);
    assert.equal((await send({ ...listed, url: listed.url.replace('prefix=obj', 'prefix=sec') })).code, 'SignatureDoesNotMatch');
  });

  it('a non-owner that redirects verifies first: 403 for a bad signature, 307 for a good one', async () => {
    const redirector = cluster.workers[2];
    const k = cluster.keyOwnedBy(owner, BUCKET, 'redir-');
    await client(owner.endpoint, alice).send(new PutObjectCommand({ Bucket: BUCKET, Key: k, Body: 'redirected' }));
    const url = `${redirector.endpoint}/${BUCKET}/${k}`;
    const bad = await send(await signRequest({ ...alice, secretAccessKey: 'not-the-secret' }, 'GET', url));
    assert.equal(bad.status, 403);
    assert.equal(bad.code, 'SignatureDoesNotMatch');
    const good = await signRequest(alice, 'GET', url);
    const res = await fetch(url, { headers: Object.fromEntries(Object.entries(good.headers).filter(([h]) => h !== 'host')), redirect: 'manual' });
    assert.equal(res.status, 307);
    // The owner accepts the signature with the mark the redirect added (the client keeps its Host, as s3fs does).
    const location = new URL(res.headers.get('location')!);
    const followed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      http.get({ host: location.hostname, port: location.port, path: location.pathname + location.search, headers: good.headers }, (r) => {
        let body = '';
        r.on('data', (d: Buffer) => { body += d.toString(); });
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      }).on('error', reject);
    });
    assert.equal(followed.status, 200, followed.body);
    assert.equal(followed.body, 'redirected');
  });

  it('presigned URLs work through any worker, then expire; X-Amz-Expires over 7 days is refused', async () => {
    for (const w of [owner, other]) {
      const url = await presign(alice, 'GET', `${w.endpoint}/${BUCKET}/${key}`, 3600);
      const res = await fetch(url);
      const text = await res.text();
      assert.equal(res.status, 200, `${url}\n${text}`);
      assert.equal(text, 'hello via a non-owner');
    }
    const expired = await presign(alice, 'GET', `${other.endpoint}/${BUCKET}/${key}`, 60, { signingDate: new Date(Date.now() - 120_000) });
    const r1 = await fetch(expired);
    const b1 = await r1.text();
    assert.equal(r1.status, 403);
    assert.match(b1, /<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/);
    const week = (await presign(alice, 'GET', `${owner.endpoint}/${BUCKET}/${key}`, 3600)).replace('X-Amz-Expires=3600', 'X-Amz-Expires=604801');
    const r2 = await fetch(week);
    assert.equal(r2.status, 400);
    assert.match(await r2.text(), /<Code>AuthorizationQueryParametersError<\/Code>/);
    const tampered = (await presign(alice, 'GET', `${owner.endpoint}/${BUCKET}/${key}`, 3600)).replace('X-Amz-Expires=3600', 'X-Amz-Expires=3601');
    assert.match(await (await fetch(tampered)).text(), /<Code>SignatureDoesNotMatch<\/Code>/);
  });

  it('signed chunks: a good upload lands; one flipped byte is refused and leaves no object and no temp file', async () => {
    const data = Buffer.alloc(200_000, 'x');
    for (let i = 0; i < data.length; i++) data[i] = 97 + (i % 26);
    const k = cluster.keyOwnedBy(owner, BUCKET, 'chunked-');
    for (const w of [owner, other]) {
      const ok = await signedChunkPut(w.endpoint, `${k}-${w.index}`, alice, data, 65536);
      assert.equal(ok.status, 200, ok.code);
      const got = await client(owner.endpoint, alice).send(new GetObjectCommand({ Bucket: BUCKET, Key: `${k}-${w.index}` }));
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(data));
    }
    const before = await filesUnder(cluster.dataDir);
    for (const w of [owner, other]) {
      const bad = await signedChunkPut(w.endpoint, k, alice, data, 65536, 70_000);
      assert.equal(bad.status, 403);
      assert.equal(bad.code, 'SignatureDoesNotMatch');
    }
    await expectS3Error(client(owner.endpoint, alice).send(new HeadObjectCommand({ Bucket: BUCKET, Key: k })), 'NotFound', 404);
    const added = [...await filesUnder(cluster.dataDir)].filter((f) => !before.has(f));
    assert.deepEqual(added, []);
  });

  it('the credentials file is re-read: a new key starts working and a deleted key stops', async () => {
    const bob = await createKey(credFile, 'bob');
    await waitFor('the new key to be accepted', async () => {
      try {
        await client(other.endpoint, bob).send(new ListBucketsCommand({}));
        return true;
      } catch {
        return false;
      }
    }, 30_000, 200);
    // Authenticated is not authorized: bob has no grant on alice's bucket.
    await expectS3Error(client(other.endpoint, bob).send(new GetObjectCommand({ Bucket: BUCKET, Key: key })), 'AccessDenied', 403);
    const none = await runCli(['credentials', 'delete', 'AKNOSUCHKEY', '--file', credFile]);
    assert.equal(none.code, 1);
    assert.equal(none.stderr.trim().split('\n').length, 1, none.stderr);
    assert.match(none.stderr, /^alluxio: no access key AKNOSUCHKEY in /);
    const del = await runCli(['credentials', 'delete', bob.accessKeyId, '--file', credFile]);
    assert.equal(del.code, 0, del.stderr);
    const list = await runCli(['credentials', 'list', '--file', credFile]);
    assert.match(list.stdout, new RegExp(alice.accessKeyId));
    assert.doesNotMatch(list.stdout, new RegExp(`${bob.accessKeyId}|${alice.secretAccessKey}`));
    await waitFor('the deleted key to be refused', async () => {
      try {
        await client(owner.endpoint, bob).send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
        return false;
      } catch (err) {
        return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 403;
      }
    }, 30_000, 200);
    await expectS3Error(client(owner.endpoint, bob).send(new GetObjectCommand({ Bucket: BUCKET, Key: key })), 'InvalidAccessKeyId', 403);
  });

  it('DeleteObjects through a non-owner deletes keys owned by every worker (each per-key DELETE re-signed for its owner)', async () => {
    const keys = cluster.workers.map((w) => cluster.keyOwnedBy(w, BUCKET, 'multi-'));
    const s3 = client(other.endpoint, alice);
    for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: k, Body: k }));
    const r = await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
    assert.deepEqual(r.Errors ?? [], []);
    assert.deepEqual((r.Deleted ?? []).map((d) => d.Key).sort(), [...keys].sort());
    const left = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'multi-' }));
    assert.equal(left.KeyCount, 0);
  });

  it('no secret or signature reaches the logs', async () => {
    const logs = (await Promise.all(cluster.workers.map((w) => fs.readFile(path.join(cluster.logDir, `${w.id}.log`), 'utf8')))).join('\n');
    assert.ok(logs.includes('request refused'), 'the workers logged the refusals');
    assert.ok(!logs.includes(alice.secretAccessKey), 'a secret key was logged');
    assert.doesNotMatch(logs, /X-Amz-Signature=[0-9a-f]{64}/);
  });
});
