/**
 * Cold reads from an S3 under storage (moto): a first GET is one request to the store (its
 * status taken from the GET itself, no HEAD before it), streamed to the client as it arrives
 * and cached; the requests are counted from moto's own access log. An object changed in the
 * store behind the cache is never served as a mix of two versions, and a client that goes away
 * mid-read leaves no partial page behind.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3Client } from '../helpers/s3.js';
import { startCluster, runCli, type TestCluster, type TestWorker } from '../helpers/cluster.js';
import { startMoto, createMotoBucket, type Moto } from '../helpers/moto.js';
import { waitFor } from '../helpers/ports.js';

const MiB = 1024 * 1024;

/**
 * A GET read to its end: the status, the bytes, and whether the body arrived whole. A
 * connection cut before the answer is status 0.
 */
function get(w: TestWorker, bucket: string, key: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; whole: boolean }> {
  return new Promise((resolve) => {
    let answered = false;
    http.get(`${w.endpoint}/${bucket}/${key}`, { headers }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const done = (whole: boolean) => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), whole });
      res.on('end', () => done(res.complete));
      res.on('error', () => done(false));
    }).on('error', () => { if (!answered) resolve({ status: 0, body: Buffer.alloc(0), whole: false }); });
  });
}

describe('cold reads from an S3 mount', () => {
  let moto: Moto;
  let c: TestCluster;
  let direct: S3Client;
  const mount = 'cold';
  const ufsBucket = 'coldunder';
  /** moto's requests for one key of the mount (the mount root is the store's bucket root), as "METHOD /path". */
  const requestsFor = (key: string) => moto.requests.map((r) => r.split('?')[0]).filter((r) => r.split(' ')[1] === `/${ufsBucket}/${key}`);

  before(async () => {
    moto = await startMoto();
    await createMotoBucket(moto.endpoint, ufsBucket);
    c = await startCluster();
    const add = await runCli(['mount', 'add', `/${mount}`, `s3://${ufsBucket}`,
      '--option', 'aws.accessKeyId=test', '--option', 'aws.secretKey=test',
      '--option', `alluxio.underfs.s3.endpoint=${moto.endpoint}`, '--option', 'alluxio.underfs.s3.disable.dns.buckets=true'], { conf: c.cliConf() });
    assert.equal(add.code, 0, add.stderr);
    direct = s3Client(moto.endpoint, 'test');
  });
  after(async () => {
    direct?.destroy();
    await c?.close();
    await moto?.close();
  });

  it('a first GET is one request to the store and returns the object whole; the next GET is none', async () => {
    const key = 'first/eight.bin';
    const data = randomBytes(8 * MiB + 321);
    await direct.send(new PutObjectCommand({ Bucket: ufsBucket, Key: key, Body: data }));
    const owner = c.owner(mount, key);
    const before = requestsFor(key).length;
    const r = await get(owner, mount, key);
    assert.equal(r.status, 200);
    assert.ok(r.whole && r.body.equals(data), 'the cold GET returns the object whole');
    // moto logs a request once it has answered it.
    await waitFor('moto to log the GET', async () => requestsFor(key).length > before, 10_000);
    assert.deepEqual(requestsFor(key).slice(before), [`GET /${ufsBucket}/${key}`], 'one GET, no HEAD before it');
    const again = await get(owner, mount, key);
    assert.ok(again.whole && again.body.equals(data));
    assert.equal(requestsFor(key).length, before + 1, 'the second GET is served from the cache');
  });

  it('an object changed in the store behind the cache is never served as a mix of versions', async () => {
    const key = 'changed/obj.bin';
    const v1 = randomBytes(3 * MiB + 17);
    const v2 = randomBytes(v1.length);
    await direct.send(new PutObjectCommand({ Bucket: ufsBucket, Key: key, Body: v1 }));
    const owner = c.owner(mount, key);
    // The first page of v1 is cached, and v1's metadata is fresh.
    const head = await get(owner, mount, key, { Range: 'bytes=0-99' });
    assert.equal(head.status, 206);
    assert.ok(head.body.equals(v1.subarray(0, 100)));
    await direct.send(new PutObjectCommand({ Bucket: ufsBucket, Key: key, Body: v2 }));
    // The cached metadata still names v1: page 0 comes from the cache, the rest is asked for
    // as v1 and the store answers with v2. The answer breaks off rather than mix them.
    const mixed = await get(owner, mount, key);
    // Cut off after the headers (200 and a short body) or before them (no answer at all).
    assert.ok(mixed.status === 200 || mixed.status === 0, `status ${mixed.status}`);
    assert.ok(!mixed.whole, 'the answer is cut short, not completed with the new version');
    assert.ok(mixed.body.length < v1.length);
    assert.ok(mixed.body.equals(v1.subarray(0, mixed.body.length)), 'what was sent is all v1');
    // The change was noticed: the next GET serves v2 whole.
    const fresh = await get(owner, mount, key);
    assert.equal(fresh.status, 200);
    assert.ok(fresh.whole && fresh.body.equals(v2), 'the next GET is the new version, whole');
  });

  it('a client that goes away mid-read leaves no partial page cached as whole', async () => {
    const key = 'abandoned/obj.bin';
    const data = randomBytes(6 * MiB + 5);
    await direct.send(new PutObjectCommand({ Bucket: ufsBucket, Key: key, Body: data }));
    const owner = c.owner(mount, key);
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${owner.endpoint}/${mount}/${key}`, (res) => {
        assert.equal(res.statusCode, 200);
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => { if (!req.destroyed) reject(err); });
    });
    // Whatever was cached before the read stopped, the object reads back exactly.
    for (let i = 0; i < 2; i++) {
      const r = await get(owner, mount, key);
      assert.ok(r.whole && r.body.equals(data), `read ${i + 1} after the abandoned one is the object`);
    }
  });
});
