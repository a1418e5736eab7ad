/**
 * Listings are never stale, with the local UFS's directory snapshots in play: every change made
 * through any worker, or directly in the UFS directory, shows in the very next ListObjects on
 * every worker. Before each change the test waits past RACY_MS and lists through every worker,
 * so each worker holds a snapshot old enough to keep: the change must be caught by validating
 * it, not by the snapshot being too young to cache.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, ListObjectsCommand, ListObjectsV2Command,
  PutObjectCommand, type S3Client, type _Object,
} from '@aws-sdk/client-s3';
import { RACY_MS } from '../../common/ufs/local-list.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { s3Client } from '../helpers/s3.js';

const BUCKET = 'fresh';

describe('ListObjects after changes, with directory snapshots', () => {
  let c: TestCluster;
  let clients: S3Client[];

  /** Every key of the bucket (all pages of 7), as each worker lists it: they must agree. */
  async function listed(prefix = '', bucket = BUCKET): Promise<_Object[]> {
    const views: _Object[][] = [];
    for (const s3 of clients) {
      const all: _Object[] = [];
      let token: string | undefined;
      do {
        const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 7, ContinuationToken: token }));
        all.push(...(r.Contents ?? []));
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
      views.push(all);
    }
    for (const v of views.slice(1)) assert.deepEqual(v.map((o) => [o.Key, o.Size, o.ETag]), views[0].map((o) => [o.Key, o.Size, o.ETag]), 'every worker lists the same');
    return views[0];
  }
  const keys = async (prefix = '', bucket = BUCKET): Promise<string[]> => (await listed(prefix, bucket)).map((o) => o.Key!);

  /** Lets every directory age past RACY_MS, then lists through every worker so each keeps a snapshot. */
  async function settle(): Promise<void> {
    await sleep(RACY_MS + 700);
    await listed();
  }

  before(async () => {
    c = await startCluster({ workers: 2 });
    clients = c.workers.map((w) => s3Client(w.endpoint));
    await clients[0].send(new CreateBucketCommand({ Bucket: BUCKET }));
    for (let i = 0; i < 20; i++) await clients[i % 2].send(new PutObjectCommand({ Bucket: BUCKET, Key: `k-${String(i).padStart(2, '0')}`, Body: `v${i}` }));
  });
  after(async () => {
    for (const s3 of clients ?? []) s3.destroy();
    await c?.close();
  });

  it('a PUT through one worker shows in the next listing of every worker', async () => {
    await settle();
    await clients[1].send(new PutObjectCommand({ Bucket: BUCKET, Key: 'k-10a', Body: 'new' }));
    const objs = await listed();
    const added = objs.find((o) => o.Key === 'k-10a');
    assert.ok(added, 'the new key is listed');
    assert.equal(added.Size, 3);
    assert.equal(added.ETag, `"${createHash('md5').update('new').digest('hex')}"`);
    assert.equal(objs.length, 21);
  });

  it('an overwrite through the S3 API shows its new size and ETag', async () => {
    await settle();
    await clients[0].send(new PutObjectCommand({ Bucket: BUCKET, Key: 'k-03', Body: 'a longer value' }));
    const o = (await listed()).find((x) => x.Key === 'k-03');
    assert.equal(o?.Size, 14);
    assert.equal(o?.ETag, `"${createHash('md5').update('a longer value').digest('hex')}"`);
  });

  it('DeleteObject and DeleteObjects show in the next listing of every worker', async () => {
    await settle();
    await clients[1].send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'k-05' }));
    assert.ok(!(await keys()).includes('k-05'));
    await settle();
    await clients[0].send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: 'k-06' }, { Key: 'k-07' }] } }));
    const after = await keys();
    assert.ok(!after.includes('k-06') && !after.includes('k-07'));
    assert.equal(after.length, 18);
  });

  it('a file added, rewritten or removed directly in the UFS directory shows in the next listing', async () => {
    const dir = path.join(c.ufsRoot, BUCKET);
    await settle();
    await fs.writeFile(path.join(dir, 'direct'), 'written behind our back');
    let o = (await listed()).find((x) => x.Key === 'direct');
    assert.equal(o?.Size, 'written behind our back'.length, 'an added file is listed');

    await settle();
    // Same name, so the directory does not change: only the per-key stat sees the new size.
    await fs.writeFile(path.join(dir, 'k-01'), 'rewritten in place, longer than before');
    o = (await listed()).find((x) => x.Key === 'k-01');
    assert.equal(o?.Size, 'rewritten in place, longer than before'.length);
    assert.match(o?.ETag ?? '', /^"[0-9a-f]{32}-1"$/, 'the old MD5 no longer describes the file');

    await settle();
    await fs.rm(path.join(dir, 'direct'));
    await fs.mkdir(path.join(dir, 'sub'));
    await fs.writeFile(path.join(dir, 'sub', 'inner'), 'x');
    const now = await keys();
    assert.ok(!now.includes('direct'), 'a removed file is gone');
    assert.ok(now.includes('sub/') && now.includes('sub/inner'), 'a new directory and its file are listed');
  });

  it('sub-directory buckets, delimiters and ListObjects v1 see changes too', async () => {
    await settle();
    await clients[0].send(new ListObjectsV2Command({ Bucket: `${BUCKET}:sub` }));
    await fs.writeFile(path.join(c.ufsRoot, BUCKET, 'sub', 'second'), 'yy');
    assert.deepEqual(await keys('', `${BUCKET}:sub`), ['inner', 'second']);
    for (const s3 of clients) {
      const rolled = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Delimiter: '/' }));
      assert.deepEqual(rolled.CommonPrefixes?.map((p) => p.Prefix), ['sub/']);
      const v1 = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, Prefix: 'sub/', Marker: 'sub/inner' }));
      assert.deepEqual(v1.Contents?.map((x) => x.Key), ['sub/second']);
    }
  });
});
