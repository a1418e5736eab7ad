/**
 * The read-through page cache seen from outside: UFS access counters (/_alluxio/stats) prove
 * what touched the UFS. Objects are placed straight into the UFS directory (as another tool
 * would) so the first read is a genuine miss.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { startCluster, type TestCluster, type TestWorker } from '../helpers/cluster.js';

const MiB = 1024 * 1024;

async function get(w: TestWorker, bucket: string, key: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(`${w.endpoint}/${bucket}/${encodeURIComponent(key)}`, { headers });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

describe('page cache', () => {
  let c: TestCluster;
  const bucket = 'cache';

  before(async () => {
    c = await startCluster({ conf: { 'alluxio.user.file.metadata.sync.interval': '1sec' } });
    await fs.mkdir(path.join(c.ufsRoot, bucket), { recursive: true });
  });
  after(async () => { await c?.close(); });

  async function putInUfs(key: string, data: Buffer): Promise<void> {
    const file = path.join(c.ufsRoot, bucket, key);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, data);
  }

  it('serves the second GET from the cache without reading the UFS', async () => {
    const data = randomBytes(3 * MiB + 123);
    await putInUfs('hot.bin', data);
    const owner = c.owner(bucket, 'hot.bin');
    const first = await get(owner, bucket, 'hot.bin');
    assert.equal(first.status, 200);
    assert.equal(md5(first.body), md5(data));
    const before = await c.stats(owner);
    assert.ok(before.ufs.reads >= 1, 'the first GET read the UFS');
    const second = await get(owner, bucket, 'hot.bin');
    assert.equal(md5(second.body), md5(data));
    const afterStats = await c.stats(owner);
    assert.equal(afterStats.ufs.reads, before.ufs.reads, 'no UFS data read on the second GET');
    assert.equal(afterStats.ufs.readBytes, before.ufs.readBytes);
    assert.ok(afterStats.cache.pageHits >= before.cache.pageHits + 4);
  });

  it('a range GET on a cold object reads only the pages it needs', async () => {
    const data = randomBytes(10 * MiB);
    await putInUfs('big.bin', data);
    const owner = c.owner(bucket, 'big.bin');
    const before = await c.stats(owner);
    const start = 5 * MiB + 10;
    const r = await get(owner, bucket, 'big.bin', { Range: `bytes=${start}-${start + 99}` });
    assert.equal(r.status, 206);
    assert.equal(r.headers.get('content-range'), `bytes ${start}-${start + 99}/${data.length}`);
    assert.deepEqual(r.body, data.subarray(start, start + 100));
    const after1 = await c.stats(owner);
    assert.equal(after1.ufs.readBytes - before.ufs.readBytes, MiB, 'exactly one 1 MiB page came from the UFS');
    // A range spanning that page and the next reads only the next one.
    const r2 = await get(owner, bucket, 'big.bin', { Range: `bytes=${5 * MiB}-${6 * MiB + 5}` });
    assert.deepEqual(r2.body, data.subarray(5 * MiB, 6 * MiB + 6));
    const after2 = await c.stats(owner);
    assert.equal(after2.ufs.readBytes - after1.ufs.readBytes, MiB);
  });

  it('concurrent misses on one object make a single UFS read', async () => {
    const data = randomBytes(2 * MiB + 7);
    await putInUfs('burst.bin', data);
    const owner = c.owner(bucket, 'burst.bin');
    const others = c.workers.filter((x) => x !== owner);
    const othersBefore = await Promise.all(others.map((w) => c.stats(w)));
    const before = await c.stats(owner);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => get(c.workers[i % c.workers.length], bucket, 'burst.bin')));
    for (const r of results) assert.equal(md5(r.body), md5(data));
    const after = await c.stats(owner);
    assert.equal(after.ufs.reads - before.ufs.reads, 1, 'one ranged UFS read for all twelve requests');
    assert.equal(after.ufs.readBytes - before.ufs.readBytes, data.length);
    for (const [i, w] of others.entries()) {
      const s = await c.stats(w);
      assert.equal(s.ufs.reads, othersBefore[i].ufs.reads, `${w.id} proxied to the owner and read nothing itself`);
    }
  });

  it('an object changed in the UFS behind our back is not served stale beyond the sync interval', async () => {
    const v1 = Buffer.from('version one');
    await putInUfs('changing.txt', v1);
    const owner = c.owner(bucket, 'changing.txt');
    assert.deepEqual((await get(owner, bucket, 'changing.txt')).body, v1);
    const v2 = Buffer.from('version two, longer');
    await putInUfs('changing.txt', v2);
    await new Promise((r) => setTimeout(r, 1200));
    const r = await get(owner, bucket, 'changing.txt');
    assert.deepEqual(r.body, v2);
    assert.equal(r.headers.get('content-length'), String(v2.length));
  });

  it('a deleted-behind-our-back object is gone after the sync interval', async () => {
    await putInUfs('vanishing.txt', Buffer.from('here'));
    const owner = c.owner(bucket, 'vanishing.txt');
    assert.equal((await get(owner, bucket, 'vanishing.txt')).status, 200);
    await fs.rm(path.join(c.ufsRoot, bucket, 'vanishing.txt'));
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal((await get(owner, bucket, 'vanishing.txt')).status, 404);
  });

  it('the cache survives a worker restart', async () => {
    const data = randomBytes(2 * MiB + 1);
    await putInUfs('durable.bin', data);
    const owner = c.owner(bucket, 'durable.bin');
    assert.equal(md5((await get(owner, bucket, 'durable.bin')).body), md5(data));
    await c.restartWorker(owner);
    const fresh = await c.stats(owner);
    assert.equal(fresh.ufs.reads, 0);
    assert.ok(fresh.cache.pages >= 3, 'the page index was rebuilt from disk');
    assert.equal(md5((await get(owner, bucket, 'durable.bin')).body), md5(data));
    const after = await c.stats(owner);
    assert.equal(after.ufs.reads, 0, 'served from pages cached before the restart');
  });
});
