/**
 * The write cache (seed 004) on a 3-worker cluster with moto as the S3 under storage: write
 * policies per path, writes acknowledged before the UFS sees them, replicas that survive the
 * owner's death, persistence that retries until the store is back, and nothing acknowledged
 * ever lost.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { S3Client, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startCluster, runCli, type TestCluster } from '../helpers/cluster.js';
import { startMoto, createMotoBucket, type Moto } from '../helpers/moto.js';
import { waitFor } from '../helpers/ports.js';

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

describe('write cache', () => {
  let moto: Moto;
  let c: TestCluster;
  let direct: S3Client;
  const ufsBucket = 'persisted';

  async function inUfs(key: string): Promise<Buffer | undefined> {
    try {
      const r = await direct.send(new GetObjectCommand({ Bucket: ufsBucket, Key: key }));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch {
      return undefined;
    }
  }

  async function put(endpoint: string, bucket: string, key: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${endpoint}/${bucket}/${key}`, { method: 'PUT', body: typeof body === 'string' ? body : new Uint8Array(body), headers });
  }

  before(async () => {
    moto = await startMoto();
    await createMotoBucket(moto.endpoint, ufsBucket);
    c = await startCluster({
      conf: {
        'alluxio.write.cache.enabled': 'true',
        'alluxio.worker.write.cache.async.persist.retry.initial.interval': '200ms',
        'alluxio.worker.write.cache.async.persist.retry.max.interval': '1sec',
        'alluxio.worker.page.store.sizes': '64MB',
        'alluxio.write.cache.async.file.check.period': '1sec',
        'alluxio.write.cache.async.check.orphan.timeout': '3sec',
        'alluxio.worker.mark.writing.files.duration': '3sec',
      },
    });
    direct = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const add = await runCli(['mount', 'add', '/ckpt', `s3://${ufsBucket}`, '--option', 'aws.accessKeyId=test', '--option', 'aws.secretKey=test',
      '--option', `alluxio.underfs.s3.endpoint=${moto.endpoint}`, '--option', 'alluxio.underfs.s3.disable.dns.buckets=true'], { conf: c.cliConf() });
    assert.equal(add.code, 0, add.stderr);
    for (const b of ['shuffle', 'ro', 'nocache']) assert.equal((await fetch(`${c.endpoint}/${b}`, { method: 'PUT' })).status, 200);
    const rules = [['/ckpt', 'WRITE_BACK', '2'], ['/shuffle', 'TRANSIENT', '2'], ['/ro', 'READ_ONLY'], ['/nocache', 'NO_CACHE']];
    for (const [p, mode, replicas] of rules) {
      const r = await runCli(['pathconfig', 'set', p, '--policy', mode, ...(replicas ? ['--replicas', replicas] : [])], { conf: c.cliConf() });
      assert.equal(r.code, 0, r.stderr);
    }
    // Every worker applies the new policies (they arrive with the cluster snapshot).
    await c.waitSettled();
  });
  after(async () => {
    direct?.destroy();
    await c?.close();
    await moto?.close();
  });

  it('WRITE_BACK: readable at once from every worker, listed, then persisted byte-identical', async () => {
    const data = randomBytes(300_000);
    const r = await put(c.nonOwner('ckpt', 'model/a.bin').endpoint, 'ckpt', 'model/a.bin', data);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('etag'), `"${md5(data)}"`);
    for (const w of c.workers) {
      const g = await fetch(`${w.endpoint}/ckpt/model/a.bin`);
      assert.equal(g.status, 200);
      assert.equal(md5(Buffer.from(await g.arrayBuffer())), md5(data));
    }
    const listed = await (await fetch(`${c.endpoint}/ckpt?list-type=2&prefix=model/`)).text();
    assert.match(listed, /<Key>model\/a\.bin<\/Key>/);
    await waitFor('persistence to the UFS', async () => (await inUfs('model/a.bin'))?.equals(data), 20_000, 200);
    const h = await fetch(`${c.endpoint}/ckpt/model/a.bin`, { method: 'HEAD' });
    await waitFor('PERSISTED', async () => (await fetch(`${c.endpoint}/ckpt/model/a.bin`, { method: 'HEAD' })).headers.get('x-alluxio-persistence-state') === 'PERSISTED', 10_000);
    assert.equal(h.status, 200);
  });

  it('the UFS down: writes are still acknowledged, persistence retries, and everything lands once it is back', async () => {
    await moto.close();
    const objs = Array.from({ length: 6 }, (_, i) => ({ key: `outage/${i}.bin`, data: randomBytes(10_000 + i) }));
    for (const o of objs) assert.equal((await put(c.workers[o.data.length % 3].endpoint, 'ckpt', o.key, o.data)).status, 200);
    for (const o of objs) assert.equal(md5(Buffer.from(await (await fetch(`${c.endpoint}/ckpt/${o.key}`)).arrayBuffer())), md5(o.data));
    const stat = JSON.parse((await runCli(['fs', 'stat', `/ckpt/${objs[0].key}`], { conf: c.cliConf() })).stdout) as { persistenceState: string };
    assert.match(stat.persistenceState, /^(NOT_PERSISTED|TO_BE_PERSISTED)$/);
    await new Promise((r) => setTimeout(r, 1500));
    const persist = JSON.parse((await runCli(['async-persist', 'stat', '--json'], { conf: c.cliConf() })).stdout) as { queued: number; lastError?: string }[];
    assert.ok(persist.reduce((n, s) => n + s.queued, 0) >= objs.length, 'the objects wait in the queues');
    assert.ok(persist.some((s) => s.lastError), 'the failure is visible');
    const rest = await (await fetch(`http://127.0.0.1:${c.coordinatorWebPort}/api/v1/persistence`)).json() as { unpersisted: number; failing: number; entries: { path: string }[] };
    assert.ok(rest.unpersisted >= objs.length, 'the coordinator\'s REST API shows the pending objects');
    for (const o of objs) assert.ok(rest.entries.some((e) => e.path === `/ckpt/${o.key}`));
    moto = await startMoto({ port: moto.port });
    await createMotoBucket(moto.endpoint, ufsBucket);
    for (const o of objs) await waitFor(`${o.key} persisted`, async () => (await inUfs(o.key))?.equals(o.data), 30_000, 250);
  });

  it('kill -9 of the owner of a writeReplicas: 2 object before persistence: still readable, then persisted by the replica holder', async () => {
    await moto.close();
    const key = 'replicated/ckpt.bin';
    const data = randomBytes(200_000);
    const owner = c.owner('ckpt', key);
    assert.equal((await put(owner.endpoint, 'ckpt', key, data)).status, 200);
    await c.killWorker(owner, 'SIGKILL');
    try {
      const survivor = c.workers.find((w) => w !== owner)!;
      const g = await fetch(`${survivor.endpoint}/ckpt/${key}`);
      assert.equal(g.status, 200);
      assert.equal(md5(Buffer.from(await g.arrayBuffer())), md5(data), 'served from the replica');
      moto = await startMoto({ port: moto.port });
      await createMotoBucket(moto.endpoint, ufsBucket);
      await waitFor('the replica holder to persist it', async () => (await inUfs(key))?.equals(data), 40_000, 300);
    } finally {
      await c.restartWorker(owner);
    }
  });

  it('TRANSIENT never reaches the UFS; READ_ONLY refuses; NO_CACHE leaves no pages', async () => {
    assert.equal((await put(c.endpoint, 'shuffle', 'part-0', 'shuffle bytes')).status, 200);
    assert.equal(await (await fetch(`${c.workers[2].endpoint}/shuffle/part-0`)).text(), 'shuffle bytes');
    await new Promise((r) => setTimeout(r, 1000));
    await assert.rejects(fs.stat(path.join(c.ufsRoot, 'shuffle', 'part-0')), 'never persisted');
    const ro = await put(c.endpoint, 'ro', 'x', 'nope');
    assert.equal(ro.status, 403);
    assert.match(await ro.text(), /<Code>AccessDenied<\/Code>/);
    const key = 'direct.bin';
    const owner = c.owner('nocache', key);
    const before = await c.stats(owner);
    assert.equal((await put(owner.endpoint, 'nocache', key, randomBytes(2 * 1024 * 1024))).status, 200);
    await fetch(`${owner.endpoint}/nocache/${key}`).then((r) => r.arrayBuffer());
    await fetch(`${owner.endpoint}/nocache/${key}`).then((r) => r.arrayBuffer());
    const after = await c.stats(owner);
    assert.equal(after.cache.pages, before.cache.pages, 'no pages cached for NO_CACHE');
    assert.ok(after.ufs.reads >= before.ufs.reads + 2, 'every read went to the UFS');
  });

  it('a delete on a WRITE_BACK path is written back too: gone at once, removed from the UFS once it is reachable', async () => {
    const key = 'wb-delete/persisted.bin';
    assert.equal((await put(c.endpoint, 'ckpt', key, 'in the store')).status, 200);
    await waitFor('persisted first', async () => (await inUfs(key))?.toString() === 'in the store', 20_000, 200);
    await moto.close();
    assert.equal((await fetch(`${c.workers[2].endpoint}/ckpt/${key}`, { method: 'DELETE' })).status, 204, 'acknowledged with the store down');
    for (const w of c.workers) assert.equal((await fetch(`${w.endpoint}/ckpt/${key}`)).status, 404);
    const list = JSON.parse((await runCli(['async-persist', 'list', '--json'], { conf: c.cliConf() })).stdout) as { path: string }[];
    assert.ok(list.some((e) => e.path === `/ckpt/${key}`), 'the pending delete is listed');
    moto = await startMoto({ port: moto.port });
    await createMotoBucket(moto.endpoint, ufsBucket);
    await direct.send(new PutObjectCommand({ Bucket: ufsBucket, Key: key, Body: 'in the store' }));
    await waitFor('the delete to reach the UFS', async () => (await inUfs(key)) === undefined, 30_000, 300);
  });

  it('deleting an unpersisted object cancels its persistence', async () => {
    await moto.close();
    const key = 'cancel/me.bin';
    assert.equal((await put(c.endpoint, 'ckpt', key, 'short-lived')).status, 200);
    assert.equal((await fetch(`${c.endpoint}/ckpt/${key}`, { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(`${c.endpoint}/ckpt/${key}`)).status, 404);
    moto = await startMoto({ port: moto.port });
    await createMotoBucket(moto.endpoint, ufsBucket);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(await inUfs(key), undefined, 'never persisted after the delete');
  });

  it('a multipart upload on a WRITE_BACK path lands in the cache first, then in the UFS', async () => {
    await moto.close();
    const key = 'mpu/wb.bin';
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(4321)];
    const ep = c.nonOwner('ckpt', key).endpoint;
    const create = await (await fetch(`${ep}/ckpt/${key}?uploads`, { method: 'POST' })).text();
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(create)![1];
    const etags: string[] = [];
    for (const [i, p] of parts.entries()) {
      const r = await fetch(`${ep}/ckpt/${key}?partNumber=${i + 1}&uploadId=${encodeURIComponent(uploadId)}`, { method: 'PUT', body: new Uint8Array(p) });
      assert.equal(r.status, 200);
      etags.push(r.headers.get('etag')!);
    }
    const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
    const done = await fetch(`${ep}/ckpt/${key}?uploadId=${encodeURIComponent(uploadId)}`, { method: 'POST', body: xml });
    assert.equal(done.status, 200, 'acknowledged with the store down');
    const whole = Buffer.concat(parts);
    assert.equal(md5(Buffer.from(await (await fetch(`${c.endpoint}/ckpt/${key}`)).arrayBuffer())), md5(whole));
    moto = await startMoto({ port: moto.port });
    await createMotoBucket(moto.endpoint, ufsBucket);
    await waitFor('the multipart object persisted', async () => (await inUfs(key))?.equals(whole), 30_000, 300);
  });

  it('pending multipart uploads are kept in the metastore: any worker lists them all', async () => {
    const keys = ['mpl/a', 'mpl/b', 'mpl/c', 'mpl/d'];
    const ids: string[] = [];
    for (const [i, k] of keys.entries()) {
      const xml = await (await fetch(`${c.workers[i % 3].endpoint}/ckpt/${k}?uploads`, { method: 'POST' })).text();
      ids.push(/<UploadId>([^<]+)<\/UploadId>/.exec(xml)![1]);
    }
    for (const w of c.workers) {
      const listed = await (await fetch(`${w.endpoint}/ckpt?uploads&prefix=mpl/`)).text();
      for (const id of ids) assert.ok(listed.includes(id), `${w.id} lists ${id}`);
    }
    for (const [i, k] of keys.entries()) assert.equal((await fetch(`${c.endpoint}/ckpt/${k}?uploadId=${encodeURIComponent(ids[i])}`, { method: 'DELETE' })).status, 204);
    assert.ok(!(await (await fetch(`${c.endpoint}/ckpt?uploads&prefix=mpl/`)).text()).includes('<Upload>'), 'aborted uploads leave the metastore');
  });

  it('listings page through unpersisted keys exactly once, with and without a delimiter', async () => {
    assert.equal((await put(c.endpoint, 'ckpt', 'pg/f', 'persisted f')).status, 200);
    assert.equal((await put(c.endpoint, 'ckpt', 'pg/g', 'persisted g')).status, 200);
    await waitFor('f and g persisted', async () => (await inUfs('pg/g'))?.toString() === 'persisted g' && (await inUfs('pg/f')) !== undefined, 20_000, 200);
    await moto.close();
    try {
      const pending = [...Array.from({ length: 7 }, (_, i) => `pg/d/${i}`), 'pg/e'];
      for (const k of pending) assert.equal((await put(c.workers[k.length % 3].endpoint, 'ckpt', k, k)).status, 200);
      // The UFS is down: the listing answers only while it is up, so bring it back for that.
    } finally {
      moto = await startMoto({ port: moto.port });
      await createMotoBucket(moto.endpoint, ufsBucket);
      for (const k of ['pg/f', 'pg/g']) await direct.send(new PutObjectCommand({ Bucket: ufsBucket, Key: k, Body: 'persisted' }));
    }
    const walk = async (delimiter: string, maxKeys: number) => {
      const seen: string[] = [];
      let token: string | undefined;
      for (let pages = 0; pages < 50; pages++) {
        const q = new URLSearchParams({ 'list-type': '2', prefix: 'pg/', 'max-keys': String(maxKeys), ...(delimiter ? { delimiter } : {}), ...(token ? { 'continuation-token': token } : {}) });
        const xml = await (await fetch(`${c.endpoint}/ckpt?${q}`)).text();
        seen.push(...[...xml.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]), ...[...xml.matchAll(/<CommonPrefixes><Prefix>([^<]+)<\/Prefix>/g)].map((m) => m[1]));
        token = /<NextContinuationToken>([^<]+)</.exec(xml)?.[1];
        if (!/<IsTruncated>true/.test(xml)) return seen;
        assert.ok(token, 'a truncated page names where to go on');
      }
      assert.fail(`no end after 50 pages: ${seen.join(',')}`);
    };
    for (const n of [1, 2, 3, 1000]) {
      // Each page holds Contents then CommonPrefixes: compare in key order, and count repeats.
      const rolled = (await walk('/', n)).filter((k) => k !== 'pg/');
      assert.equal(new Set(rolled).size, rolled.length, `no repeats (delimiter, max-keys ${n}): ${rolled.join(',')}`);
      assert.deepEqual([...rolled].sort(), ['pg/d/', 'pg/e', 'pg/f', 'pg/g'], `delimiter, max-keys ${n}`);
      const flat = (await walk('', n)).filter((k) => !k.endsWith('/'));
      assert.equal(new Set(flat).size, flat.length, `no repeats (flat, max-keys ${n})`);
      assert.deepEqual([...flat].sort(), [...Array.from({ length: 7 }, (_, i) => `pg/d/${i}`), 'pg/e', 'pg/f', 'pg/g'], `flat, max-keys ${n}`);
    }
  });

  it('If-None-Match: * holds across workers: two workers serving one key never both create it', async () => {
    const key = 'cond/two-workers';
    // The forwarded marker makes each worker serve the request itself, as an owner-unreachable
    // fallback would: every worker commits to the metastore for the same key.
    const attempts = Array.from({ length: 9 }, (_, i) => fetch(`${c.workers[i % 3].endpoint}/ckpt/${key}`, {
      method: 'PUT', body: `writer ${i}`, headers: { 'If-None-Match': '*', 'x-alluxio-forwarded': 'test' },
    }));
    const statuses = (await Promise.all(attempts)).map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 1, `statuses: ${statuses.join(',')}`);
    assert.ok(statuses.every((s) => s === 200 || s === 412), `statuses: ${statuses.join(',')}`);
  });

  it('tagging a key deleted on a WRITE_BACK path answers NoSuchKey', async () => {
    assert.equal((await put(c.endpoint, 'ckpt', 'tag-deleted', 'x')).status, 200);
    assert.equal((await fetch(`${c.endpoint}/ckpt/tag-deleted`, { method: 'DELETE' })).status, 204);
    const r = await fetch(`${c.endpoint}/ckpt/tag-deleted?tagging`, { method: 'PUT', body: '<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>' });
    assert.equal(r.status, 404);
    assert.equal((await fetch(`${c.endpoint}/ckpt/tag-deleted`)).status, 404);
  });

  it('orphaned copies and dangling temp writes are cleaned up', async () => {
    const w = c.workers[0];
    const orphanDir = path.join(w.cacheDir, 'writecache', 'ab', 'ab'.repeat(32));
    await fs.mkdir(orphanDir, { recursive: true });
    const orphan = path.join(orphanDir, '00000000-0000-4000-8000-000000000000');
    await fs.writeFile(orphan, 'nobody names me');
    await fs.writeFile(`${orphan}.path`, '/ckpt/orphan.bin');
    const dangling = path.join(w.cacheDir, 'writecache', 'tmp', 'abandoned.tmp');
    await fs.writeFile(dangling, 'a write that stopped');
    const old = new Date(Date.now() - 60_000);
    await fs.utimes(orphan, old, old);
    await fs.utimes(dangling, old, old);
    await waitFor('the orphan and the dangling write to go', async () => {
      const gone = await Promise.all([orphan, dangling].map((f) => fs.stat(f).then(() => false, () => true)));
      return gone.every(Boolean);
    }, 20_000, 300);
  });

  it('concurrent writers of one key end with one writer\'s complete bytes', async () => {
    const key = 'race/last.bin';
    const bodies = Array.from({ length: 8 }, (_, i) => Buffer.alloc(50_000, i));
    const res = await Promise.all(bodies.map((b, i) => put(c.workers[i % 3].endpoint, 'ckpt', key, b)));
    assert.ok(res.every((r) => r.status === 200));
    const got = Buffer.from(await (await fetch(`${c.endpoint}/ckpt/${key}`)).arrayBuffer());
    assert.ok(bodies.some((b) => b.equals(got)), 'one writer\'s bytes, never a mix');
  });

  it('past the pinned capacity, writes get 503 SlowDown with Retry-After and nothing written is lost', async () => {
    await moto.close();
    // 64MB cache × 0.3 = ~19 MB pinned per worker: fill the owner of one key's space.
    const owner = c.owner('ckpt', 'fill/0');
    const keys = Array.from({ length: 40 }, (_, i) => c.keyOwnedBy(owner, 'ckpt', `fill/${i}-`)).filter((k, i, a) => a.indexOf(k) === i).slice(0, 12);
    const accepted: { key: string; data: Buffer }[] = [];
    let refused: Response | undefined;
    for (const key of keys) {
      const data = randomBytes(3 * 1024 * 1024);
      const r = await put(owner.endpoint, 'ckpt', key, data, { 'Content-Length': String(data.length) });
      if (r.status === 200) accepted.push({ key, data });
      else {
        refused = r;
        break;
      }
    }
    assert.ok(refused, 'the pinned cap was reached');
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.match(await refused.text(), /<Code>SlowDown<\/Code>/);
    for (const a of accepted) assert.equal(md5(Buffer.from(await (await fetch(`${c.endpoint}/ckpt/${a.key}`)).arrayBuffer())), md5(a.data));
    moto = await startMoto({ port: moto.port });
    await createMotoBucket(moto.endpoint, ufsBucket);
    for (const a of accepted) await waitFor(`${a.key} persisted`, async () => (await inUfs(a.key))?.equals(a.data), 60_000, 300);
  });

  it('a coordinator restart keeps the policies and the unpersisted metadata', async () => {
    await moto.close();
    assert.equal((await put(c.endpoint, 'ckpt', 'restart/kept.bin', 'kept')).status, 200);
    await c.restartCoordinator();
    const resolved = JSON.parse((await runCli(['pathconfig', 'resolve', '/ckpt/x'], { conf: c.cliConf() })).stdout) as { policyMode: string };
    assert.equal(resolved.policyMode, 'WRITE_BACK');
    assert.equal(await (await fetch(`${c.workers[1].endpoint}/ckpt/restart/kept.bin`)).text(), 'kept');
    moto = await startMoto({ port: moto.port });
    await createMotoBucket(moto.endpoint, ufsBucket);
    await waitFor('persisted after the restart', async () => (await inUfs('restart/kept.bin'))?.toString() === 'kept', 30_000, 300);
  });
});
