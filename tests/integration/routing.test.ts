/**
 * Any worker accepts any request: a path owned elsewhere is proxied to its owner (default) or,
 * with redirects on, answered with 307 to the owner. An unreachable owner never fails a read,
 * and a worker killed mid-upload never leaves a partial object.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { startCluster, runCommand, type TestCluster, type TestWorker } from '../helpers/cluster.js';
import { waitFor } from '../helpers/ports.js';
import { scrape, sum } from '../helpers/prometheus.js';

const MiB = 1024 * 1024;

function url(w: TestWorker, bucket: string, key?: string): string {
  return `${w.endpoint}/${bucket}${key === undefined ? '' : `/${key.split('/').map(encodeURIComponent).join('/')}`}`;
}

async function put(w: TestWorker, bucket: string, key: string, body: Buffer): Promise<Response> {
  return fetch(url(w, bucket, key), { method: 'PUT', body: new Uint8Array(body) });
}

async function createBucket(w: TestWorker, bucket: string): Promise<void> {
  const r = await fetch(url(w, bucket), { method: 'PUT' });
  assert.equal(r.status, 200, await r.text());
}

describe('proxying to the owner (default)', () => {
  let c: TestCluster;
  const bucket = 'routing';
  before(async () => {
    c = await startCluster({ conf: { 'alluxio.worker.s3.proxy.timeout': '1sec' } });
    await createBucket(c.workers[0], bucket);
  });
  after(async () => { await c?.close(); });

  it('a PUT and a GET through a non-owner reach the owner and return the same bytes', async () => {
    const key = 'via/non-owner.bin';
    const owner = c.owner(bucket, key);
    const other = c.nonOwner(bucket, key);
    const data = randomBytes(3 * MiB + 5);
    const ownerBefore = await c.stats(owner);
    const otherBefore = await c.stats(other);
    const r = await put(other, bucket, key, data);
    assert.equal(r.status, 200);
    assert.ok(r.headers.get('x-amz-request-id'));
    const g = await fetch(url(other, bucket, key));
    assert.equal(g.status, 200);
    assert.deepEqual(Buffer.from(await g.arrayBuffer()), data);
    const ownerAfter = await c.stats(owner);
    const otherAfter = await c.stats(other);
    assert.equal(ownerAfter.ufs.writes - ownerBefore.ufs.writes, 1, 'the owner wrote the UFS');
    assert.equal(otherAfter.ufs.writes, otherBefore.ufs.writes, 'the receiving worker wrote nothing itself');
    assert.equal(ownerAfter.ufs.reads, ownerBefore.ufs.reads, 'the GET was served from pages cached by the PUT');
    assert.equal(await fs.readFile(path.join(c.ufsRoot, bucket, key)).then((b) => b.equals(data)), true);
  });

  it('a proxied GET reaches a slow reader whole; Range and HEAD pass through', async () => {
    const key = 'via/slow-reader.bin';
    const other = c.nonOwner(bucket, key);
    // Several times the relay's batch (1 MiB), so the owner's answer is paused and resumed.
    const data = randomBytes(9 * MiB + 7);
    assert.equal((await put(other, bucket, key, data)).status, 200);
    const got = await new Promise<Buffer>((resolve, reject) => {
      http.get(url(other, bucket, key), (res) => {
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['content-length'], String(data.length));
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          // A slow client: the relay must wait for it rather than hold the object.
          res.pause();
          setTimeout(() => res.resume(), 2);
        });
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      }).on('error', reject);
    });
    assert.ok(got.equals(data), 'the bytes read slowly through the non-owner are the object');
    const r = await fetch(url(other, bucket, key), { headers: { Range: `bytes=5-${2 * MiB + 9}` } });
    assert.equal(r.status, 206);
    assert.equal(r.headers.get('content-range'), `bytes 5-${2 * MiB + 9}/${data.length}`);
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(data.subarray(5, 2 * MiB + 10)));
    const h = await fetch(url(other, bucket, key), { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(h.headers.get('content-length'), String(data.length));
    assert.equal((await h.arrayBuffer()).byteLength, 0);
    const missing = await fetch(url(other, bucket, 'via/no-such-key'));
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /<Code>NoSuchKey<\/Code>/);
  });

  it('a client that goes away mid-answer stops the request on the owner too', async () => {
    const key = 'via/abandoned.bin';
    const owner = c.owner(bucket, key);
    const other = c.nonOwner(bucket, key);
    const data = randomBytes(64 * MiB);
    assert.equal((await put(owner, bucket, key, data)).status, 200);
    const aborted = async () => sum(await scrape(`http://127.0.0.1:${owner.webPort}/metrics`), 'alluxio_s3_requests_total', { op: 'GetObject', status: 'aborted' });
    const before = await aborted();
    await new Promise<void>((resolve, reject) => {
      const req = http.get(url(other, bucket, key), (res) => {
        assert.equal(res.statusCode, 200);
        // Read a little, then stop reading and hang up: the owner still has most of 64 MiB to send.
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => { if (!req.destroyed) reject(err); });
    });
    // The owner's answer to the non-owner ends unfinished instead of running to its end.
    await waitFor('the owner to see its answer abandoned', async () => (await aborted()) > before, 30_000);
    // And the pooled connections still serve.
    const g = await fetch(url(other, bucket, key), { headers: { Range: 'bytes=0-9' } });
    assert.equal(g.status, 206);
    assert.ok(Buffer.from(await g.arrayBuffer()).equals(data.subarray(0, 10)));
  });

  it('every worker serves every object', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `spread/${i}`);
    for (const k of keys) assert.equal((await put(c.workers[0], bucket, k, Buffer.from(k))).status, 200);
    for (const w of c.workers) {
      for (const k of keys) {
        const r = await fetch(url(w, bucket, k));
        assert.equal(await r.text(), k, `${w.id} serves ${k}`);
      }
    }
  });

  it('a delete through a non-owner is seen by the owner at once (no stale metadata)', async () => {
    const key = 'coherent.txt';
    const owner = c.owner(bucket, key);
    await put(owner, bucket, key, Buffer.from('v1'));
    assert.equal((await fetch(url(owner, bucket, key))).status, 200);
    assert.equal((await fetch(url(c.nonOwner(bucket, key), bucket, key), { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(url(owner, bucket, key))).status, 404);
  });

  it('DeleteObjects deletes each key on its owner', async () => {
    const keys = Array.from({ length: 9 }, (_, i) => `multi/${i}`);
    for (const k of keys) await put(c.workers[0], bucket, k, Buffer.from(k));
    // Warm every owner's metadata so a stale answer would show.
    for (const k of keys) assert.equal((await fetch(url(c.owner(bucket, k), bucket, k))).status, 200);
    const body = `<Delete>${keys.map((k) => `<Object><Key>${k}</Key></Object>`).join('')}</Delete>`;
    const r = await fetch(`${c.workers[1].endpoint}/${bucket}?delete`, { method: 'POST', body });
    assert.equal(r.status, 200);
    const text = await r.text();
    assert.equal((text.match(/<Deleted>/g) ?? []).length, keys.length, text);
    for (const k of keys) assert.equal((await fetch(url(c.owner(bucket, k), bucket, k))).status, 404, k);
  });

  it('when the owner is down, another worker serves the read from the UFS', async () => {
    const key = 'orphan.bin';
    const owner = c.owner(bucket, key);
    const data = randomBytes(MiB + 3);
    assert.equal((await put(owner, bucket, key, data)).status, 200);
    const other = c.nonOwner(bucket, key);
    await c.killWorker(owner, 'SIGKILL');
    try {
      // Before the coordinator notices: the ring still names the dead owner.
      const g = await fetch(url(other, bucket, key));
      assert.equal(g.status, 200);
      assert.deepEqual(Buffer.from(await g.arrayBuffer()), data);
      const h = await fetch(url(other, bucket, key), { method: 'HEAD' });
      assert.equal(h.status, 200);
      assert.equal(h.headers.get('content-length'), String(data.length));
    } finally {
      await c.restartWorker(owner);
    }
  });

  it('a worker killed in the middle of an upload leaves no partial object', async () => {
    for (const via of ['owner', 'proxy'] as const) {
      const key = `crash/${via}.bin`;
      const owner = c.owner(bucket, key);
      const entry = via === 'owner' ? owner : c.nonOwner(bucket, key);
      const total = 16 * MiB;
      const req = http.request(`${url(entry, bucket, key)}`, { method: 'PUT', headers: { 'Content-Length': total } });
      req.on('error', () => undefined);
      const answered = new Promise<number | undefined>((resolve) => {
        req.on('response', (res) => { res.resume(); resolve(res.statusCode); });
        req.on('error', () => resolve(undefined));
        req.on('close', () => resolve(undefined));
      });
      req.write(randomBytes(4 * MiB));
      // Wait until the owner is writing the UFS temp file, then kill it.
      await waitFor('the upload to reach the owner', async () => {
        const tmp = path.join(c.ufsRoot, '.alluxio-tmp');
        const files = existsSync(tmp) ? await fs.readdir(tmp) : [];
        return files.length > 0;
      }, 10_000, 20);
      await c.killWorker(owner, 'SIGKILL');
      req.destroy();
      const status = await answered;
      assert.notEqual(status, 200, 'an interrupted upload is never acknowledged');
      const survivor = c.workers.find((w) => w !== owner && w.p && w.p.proc.exitCode === null)!;
      const h = await fetch(url(survivor, bucket, key), { method: 'HEAD' });
      assert.equal(h.status, 404, `no object visible after a crash (${via})`);
      assert.equal(existsSync(path.join(c.ufsRoot, bucket, key)), false);
      const list = await (await fetch(`${survivor.endpoint}/${bucket}?list-type=2&prefix=crash/`)).text();
      assert.ok(!list.includes(`<Key>${key}</Key>`), list);
      await c.restartWorker(owner);
    }
  });
});

describe('redirects (alluxio.worker.s3.redirect.enabled=true)', () => {
  let c: TestCluster;
  const bucket = 'redir';
  before(async () => {
    c = await startCluster({ conf: { 'alluxio.worker.s3.redirect.enabled': 'true' } });
    await createBucket(c.workers[0], bucket);
  });
  after(async () => { await c?.close(); });

  it('a GET to a non-owner is answered 307 to the owner, once', async () => {
    const key = 'r/obj.bin';
    const data = randomBytes(200_000);
    const owner = c.owner(bucket, key);
    const other = c.nonOwner(bucket, key);
    // Writes are proxied even with redirects on: no client re-sends a body to a 307.
    assert.equal((await put(other, bucket, key, data)).status, 200);
    const r = await fetch(url(other, bucket, key), { redirect: 'manual' });
    assert.equal(r.status, 307);
    const location = r.headers.get('location')!;
    assert.ok(location.startsWith(`${owner.endpoint}/${bucket}/r/obj.bin?`), location);
    assert.match(location, /alluxio-redirected=true/);
    assert.match(await r.text(), /<Code>TemporaryRedirect<\/Code>/);
    const g = await fetch(location, { redirect: 'manual' });
    assert.equal(g.status, 200, 'the target never redirects a marked request');
    assert.deepEqual(Buffer.from(await g.arrayBuffer()), data);
    const head = await fetch(url(other, bucket, key), { method: 'HEAD', redirect: 'manual' });
    assert.equal(head.status, 307);
    assert.equal(head.headers.get('location'), location);
  });

  it('curl -L follows the redirect and gets the bytes', async () => {
    const key = 'curl.txt';
    const other = c.nonOwner(bucket, key);
    await put(other, bucket, key, Buffer.from('followed the redirect\n'));
    const r = await runCommand('curl', ['-sS', '-L', '--max-time', '20', url(other, bucket, key)], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'followed the redirect\n');
  });

  it('a dead owner fails its health check and the receiving worker serves the read itself', async () => {
    const key = 'dead-owner.txt';
    const owner = c.owner(bucket, key);
    const other = c.nonOwner(bucket, key);
    await put(owner, bucket, key, Buffer.from('still here'));
    await c.killWorker(owner, 'SIGKILL');
    try {
      const r = await fetch(url(other, bucket, key), { redirect: 'manual' });
      assert.equal(r.status, 200);
      assert.equal(await r.text(), 'still here');
    } finally {
      await c.restartWorker(owner);
    }
  });
});
