/**
 * An S3 store as under storage: a real moto server mounted with `alluxio mount add`, then read
 * and written through the cluster with the JS SDK, and checked straight against moto with the
 * same SDK. A missing moto_server is a failure, never a skip.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand,
  S3Client, S3ServiceException,
} from '@aws-sdk/client-s3';
import { runCli, startCluster, type TestCluster } from '../helpers/cluster.js';
import { createMotoBucket, startMoto, type Moto } from '../helpers/moto.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { oneAttemptClient } from '../helpers/s3.js';

const MOUNT = 's3-mount';
const RO_MOUNT = 's3-ro';

/** One attempt per request: a broken request must show up, not be retried away. */
const sdk = (endpoint: string): S3Client => oneAttemptClient(endpoint);

function mountOptions(endpoint: string): string[] {
  return [
    '--option', 'aws.accessKeyId=test',
    '--option', 'aws.secretKey=test',
    '--option', `alluxio.underfs.s3.endpoint=${endpoint}`,
    '--option', 'alluxio.underfs.s3.endpoint.region=us-east-1',
    '--option', 'alluxio.underfs.s3.disable.dns.buckets=true',
  ];
}

async function bytesOf(res: { Body?: { transformToByteArray(): Promise<Uint8Array> } }): Promise<Buffer> {
  return Buffer.from(await res.Body!.transformToByteArray());
}

/** The S3 error a call fails with (its code and HTTP status); fails the test if the call succeeds. */
async function s3Error(p: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof S3ServiceException) return { name: err.name, status: err.$metadata.httpStatusCode };
    throw err;
  }
  assert.fail('the request succeeded but should have failed');
}

describe('moto as the S3 under storage', () => {
  let moto: Moto;
  let c: TestCluster;
  let direct: S3Client;
  let cluster: S3Client;
  const motoBucket = `ufs-${randomUUID().slice(0, 8)}`;
  const seeded: Record<string, { body: Buffer; contentType: string }> = {
    'a.txt': { body: Buffer.from('alpha\n'), contentType: 'text/plain' },
    'c.json': { body: Buffer.from('{"c":1}'), contentType: 'application/json' },
    'dir/b.bin': { body: randomBytes(3 * 1024 * 1024 + 17), contentType: 'application/octet-stream' },
  };

  const notServedRightAway: string[] = [];
  const ufsReads = async () => (await Promise.all(c.workers.map((w) => c.stats(w)))).reduce((n, s) => n + s.ufs.reads, 0);

  /** Until every worker serves the bucket (mounts reach the workers over the ring stream). */
  async function waitMounted(bucket: string): Promise<void> {
    for (const w of c.workers) {
      const client = sdk(w.endpoint);
      try {
        await waitFor(`${w.id} to serve the mount ${bucket}`, async () => {
          await client.send(new HeadBucketCommand({ Bucket: bucket }));
          return true;
        }, 10_000);
      } finally {
        client.destroy();
      }
    }
  }

  before(async () => {
    moto = await startMoto();
    c = await startCluster({ workers: 3 });
    await createMotoBucket(moto.endpoint, motoBucket);
    direct = sdk(moto.endpoint);
    cluster = sdk(c.endpoint);
    for (const [key, o] of Object.entries(seeded)) {
      await direct.send(new PutObjectCommand({ Bucket: motoBucket, Key: `pre/${key}`, Body: o.body, ContentType: o.contentType }));
    }
    // Outside the mounted prefix: must never show through the mount.
    await direct.send(new PutObjectCommand({ Bucket: motoBucket, Key: 'other/outside.txt', Body: 'outside' }));
  });
  after(async () => {
    direct?.destroy();
    cluster?.destroy();
    await c?.close();
    await moto?.close();
  });

  it('mount add of s3://bucket/pre on moto succeeds', async () => {
    const r = await runCli(['mount', 'add', `/${MOUNT}`, `s3://${motoBucket}/pre`, ...mountOptions(moto.endpoint)], { conf: c.cliConf(), timeoutMs: 60_000 });
    assert.equal(r.code, 0, `mount add exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
    assert.match(r.stdout, new RegExp(`s3://${motoBucket}/pre`));
    // What a user chaining `alluxio mount add … && aws s3 ls s3://s3-mount` would see.
    for (const w of c.workers) {
      const res = await fetch(`${w.endpoint}/${MOUNT}`, { method: 'HEAD' });
      if (res.status !== 200) notServedRightAway.push(`${w.id}: HEAD /${MOUNT} → ${res.status}`);
    }
    await waitMounted(MOUNT);
  });

  it('every worker serves the mount as soon as mount add returns', () => {
    assert.deepEqual(notServedRightAway, [], 'right after `mount add` exited 0, workers did not know the new bucket yet');
  });

  it('mount list shows the mount with its secrets redacted', async () => {
    const r = await runCli(['mount', 'list'], { conf: c.cliConf(), timeoutMs: 30_000 });
    assert.equal(r.code, 0, `mount list exited ${r.code}:\n${r.stderr}`);
    const line = r.stdout.split('\n').find((l) => l.startsWith(`/${MOUNT} `));
    assert.ok(line, `mount list does not show /${MOUNT}:\n${r.stdout}`);
    assert.match(line, new RegExp(`s3://${motoBucket}/pre`), line);
    assert.match(line, /readwrite/, line);
    assert.match(line, new RegExp(`alluxio\\.underfs\\.s3\\.endpoint=${moto.endpoint.replace(/[.]/g, '\\.')}`), line);
    assert.match(line, /aws\.secretKey=(?!test\b)\S+/, `the secret key is not shown redacted: ${line}`);
    assert.doesNotMatch(r.stdout, /aws\.secretKey=test\b/, 'mount list prints the secret key');

    const j = await runCli(['mount', 'list', '--json'], { conf: c.cliConf(), timeoutMs: 30_000 });
    assert.equal(j.code, 0, j.stderr);
    const mounts = JSON.parse(j.stdout) as { path: string; options: Record<string, string> }[];
    const m = mounts.find((x) => x.path === `/${MOUNT}`);
    assert.ok(m, j.stdout);
    assert.ok(m.options['aws.secretKey'] !== undefined && m.options['aws.secretKey'] !== 'test', `mount list --json shows the secret: ${JSON.stringify(m.options)}`);
  });

  it('lists the mount through the cluster: the objects under pre/, nothing else', async () => {
    const flat = await cluster.send(new ListObjectsV2Command({ Bucket: MOUNT, Delimiter: '/' }));
    assert.deepEqual((flat.Contents ?? []).map((o) => o.Key), ['a.txt', 'c.json']);
    assert.deepEqual((flat.CommonPrefixes ?? []).map((p) => p.Prefix), ['dir/']);
    const all = await cluster.send(new ListObjectsV2Command({ Bucket: MOUNT }));
    const files = (all.Contents ?? []).filter((o) => !o.Key!.endsWith('/'));
    assert.deepEqual(files.map((o) => o.Key), Object.keys(seeded).sort(), 'recursive listing of the mount');
    for (const o of files) {
      assert.equal(o.Size, seeded[o.Key!].body.length, `Size of ${o.Key}`);
      assert.match(o.ETag ?? '', /^"[0-9a-f]{32}"$/, `ETag of ${o.Key}`);
    }
  });

  it('a sub-directory of the S3 mount is listed as a 0-byte folder object, as on the local UFS (seed 003)', async () => {
    const all = await cluster.send(new ListObjectsV2Command({ Bucket: MOUNT }));
    const keys = (all.Contents ?? []).map((o) => o.Key);
    assert.deepEqual(keys, ['a.txt', 'c.json', 'dir/', 'dir/b.bin'], 'recursive listing of the S3 mount');
  });

  it('reads every object through every worker: same bytes and content type as in moto', async () => {
    for (const w of c.workers) {
      const client = sdk(w.endpoint);
      try {
        for (const [key, o] of Object.entries(seeded)) {
          const res = await client.send(new GetObjectCommand({ Bucket: MOUNT, Key: key }));
          const got = await bytesOf(res);
          assert.equal(got.length, o.body.length, `${key} via ${w.id}: length`);
          assert.ok(got.equals(o.body), `${key} via ${w.id}: bytes differ from moto's`);
          assert.equal(res.ContentType, o.contentType, `${key} via ${w.id}: Content-Type`);
        }
      } finally {
        client.destroy();
      }
    }
    const ranged = await cluster.send(new GetObjectCommand({ Bucket: MOUNT, Key: 'dir/b.bin', Range: 'bytes=1048570-2097160' }));
    assert.equal(ranged.ContentRange, `bytes 1048570-2097160/${seeded['dir/b.bin'].body.length}`);
    assert.ok((await bytesOf(ranged)).equals(seeded['dir/b.bin'].body.subarray(1048570, 2097161)), 'ranged GET across pages');
  });

  it('the second GET of an object does not read the UFS again', async () => {
    const key = 'dir/b.bin';
    const first = await bytesOf(await cluster.send(new GetObjectCommand({ Bucket: MOUNT, Key: key })));
    assert.ok(first.equals(seeded[key].body));
    const before = await ufsReads();
    const second = await bytesOf(await cluster.send(new GetObjectCommand({ Bucket: MOUNT, Key: key })));
    assert.ok(second.equals(seeded[key].body));
    assert.equal(await ufsReads(), before, 'the second GET read the UFS (sum of ufs.reads over all workers grew)');
  });

  it('a PUT through the cluster lands in moto under pre/ with the same bytes and content type', async () => {
    const body = randomBytes(200_000);
    await cluster.send(new PutObjectCommand({ Bucket: MOUNT, Key: 'written/new.bin', Body: body, ContentType: 'application/x-written', Metadata: { origin: 'cluster' } }));
    const res = await direct.send(new GetObjectCommand({ Bucket: motoBucket, Key: 'pre/written/new.bin' })).catch((err: Error) => {
      throw new Error(`pre/written/new.bin is not in moto: ${err.name}: ${err.message}`);
    });
    const got = await bytesOf(res);
    assert.ok(got.equals(body), 'the object in moto has different bytes');
    assert.equal(res.ContentType, 'application/x-written', 'the object in moto has another Content-Type');
    const head = await cluster.send(new HeadObjectCommand({ Bucket: MOUNT, Key: 'written/new.bin' }));
    assert.equal(head.ContentLength, body.length);
    assert.equal(head.ContentType, 'application/x-written');
    assert.deepEqual(head.Metadata, { origin: 'cluster' });
    const top = await direct.send(new ListObjectsV2Command({ Bucket: motoBucket, Prefix: 'written/' }));
    assert.equal(top.KeyCount ?? 0, 0, 'the write went outside the mounted prefix');
  });

  it('a DELETE through the cluster removes the object from moto', async () => {
    await cluster.send(new DeleteObjectCommand({ Bucket: MOUNT, Key: 'written/new.bin' }));
    const err = await s3Error(direct.send(new HeadObjectCommand({ Bucket: motoBucket, Key: 'pre/written/new.bin' })));
    assert.equal(err.status, 404, 'pre/written/new.bin is still in moto');
    const gone = await s3Error(cluster.send(new GetObjectCommand({ Bucket: MOUNT, Key: 'written/new.bin' })));
    assert.deepEqual(gone, { name: 'NoSuchKey', status: 404 });
  });

  it('a --readonly mount of the same bucket serves reads and answers PutObject with AccessDenied', async () => {
    const r = await runCli(['mount', 'add', `/${RO_MOUNT}`, `s3://${motoBucket}/pre`, '--readonly', ...mountOptions(moto.endpoint)], { conf: c.cliConf(), timeoutMs: 60_000 });
    assert.equal(r.code, 0, `mount add --readonly exited ${r.code}:\n${r.stderr}`);
    await waitMounted(RO_MOUNT);
    const list = await runCli(['mount', 'list'], { conf: c.cliConf(), timeoutMs: 30_000 });
    assert.match(list.stdout, new RegExp(`^/${RO_MOUNT}\\s.*readonly`, 'm'), list.stdout);

    const a = await cluster.send(new GetObjectCommand({ Bucket: RO_MOUNT, Key: 'a.txt' }));
    assert.ok((await bytesOf(a)).equals(seeded['a.txt'].body));
    for (const w of c.workers) {
      const client = sdk(w.endpoint);
      try {
        const put = await s3Error(client.send(new PutObjectCommand({ Bucket: RO_MOUNT, Key: `ro-${w.id}.txt`, Body: 'nope' })));
        assert.deepEqual(put, { name: 'AccessDenied', status: 403 }, `PutObject on the read-only mount via ${w.id}`);
        const del = await s3Error(client.send(new DeleteObjectCommand({ Bucket: RO_MOUNT, Key: 'a.txt' })));
        assert.deepEqual(del, { name: 'AccessDenied', status: 403 }, `DeleteObject on the read-only mount via ${w.id}`);
      } finally {
        client.destroy();
      }
      const none = await s3Error(direct.send(new HeadObjectCommand({ Bucket: motoBucket, Key: `pre/ro-${w.id}.txt` })));
      assert.equal(none.status, 404, 'a PUT on the read-only mount reached moto');
    }
    await direct.send(new HeadObjectCommand({ Bucket: motoBucket, Key: 'pre/a.txt' }));
  });

  it('mounting an unreachable endpoint fails with one line on stderr naming the URI', async () => {
    const closed = await freePort();
    const uri = `s3://${motoBucket}/unreachable`;
    const started = Date.now();
    const r = await runCli(['mount', 'add', '/s3-bad', uri, ...mountOptions(`http://127.0.0.1:${closed}`)], { conf: c.cliConf(), timeoutMs: 60_000 });
    const ms = Date.now() - started;
    assert.ok(r.code !== 0 && r.code !== null, `mount add of an unreachable endpoint exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    const lines = r.stderr.trim().split('\n').filter((l) => l.trim() !== '');
    assert.equal(lines.length, 1, `expected exactly one line on stderr, got ${lines.length}:\n${r.stderr}`);
    assert.ok(lines[0].includes(uri), `stderr does not name ${uri}: ${lines[0]}`);
    assert.ok(ms < 30_000, `mount add of a closed port took ${ms} ms`);
    const list = await runCli(['mount', 'list'], { conf: c.cliConf(), timeoutMs: 30_000 });
    assert.doesNotMatch(list.stdout, /s3-bad/, 'the refused mount is in the mount table');
  });

  it('worker list --json shows 3 healthy workers with cache capacity', async () => {
    const r = await runCli(['worker', 'list', '--json'], { conf: c.cliConf(), timeoutMs: 30_000 });
    assert.equal(r.code, 0, `worker list --json exited ${r.code}:\n${r.stderr}`);
    const out = JSON.parse(r.stdout) as { workers: { id: string; state: string; health: string; cacheCapacityBytes: number; s3Port: number }[] };
    assert.equal(out.workers.length, 3, r.stdout);
    assert.deepEqual(out.workers.map((w) => w.id).sort(), c.workers.map((w) => w.id).sort());
    for (const w of out.workers) {
      assert.equal(w.health, 'healthy', `${w.id}: ${JSON.stringify(w)}`);
      assert.equal(w.state, 'LIVE', `${w.id}: ${JSON.stringify(w)}`);
      assert.ok(w.cacheCapacityBytes > 0, `${w.id} reports no cache capacity: ${JSON.stringify(w)}`);
      assert.equal(w.s3Port, c.workers.find((x) => x.id === w.id)!.s3Port, `${w.id}: S3 port`);
    }
  });
});
