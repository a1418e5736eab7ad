/**
 * Request limits, over raw HTTP against a real 2-worker cluster (write cache on; `limwb` is
 * WRITE_BACK with 2 replicas). Each group asserts the S3 error code a client gets and that the
 * refused request stored nothing: no object, no temp file, no pinned space.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { runCli, startCluster, tempDir, type TestCluster, type TestWorker } from '../helpers/cluster.js';
import { waitFor } from '../helpers/ports.js';
import { errorCode, rawExchange, rawRequest, type RawResponse } from '../helpers/raw-http.js';

const B = 'lim';
const WB = 'limwb';
const MiB = 1024 * 1024;

let c: TestCluster;

function host(w: TestWorker): string {
  return `127.0.0.1:${w.s3Port}`;
}

/** One request on its own connection; the answer (or why there is none). */
async function one(w: TestWorker, method: string, target: string, headers: Record<string, string | number>, body?: Buffer | string, head = false): Promise<RawResponse> {
  const r = await rawExchange(w.s3Port, [rawRequest(method, target, { Host: host(w), Connection: 'close', ...headers }, body)], { responses: 1, heads: [head] });
  assert.equal(r.timedOut, false, `${method} ${target}: no answer`);
  assert.equal(r.responses.length, 1, `${method} ${target}: connection closed without an answer`);
  return r.responses[0];
}

function expectError(r: RawResponse, status: number, code: string): void {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status}: ${r.text.slice(0, 300)}`);
  assert.equal(errorCode(r), code, r.text.slice(0, 300));
}

async function walk(dir: string, out: string[] = []): Promise<string[]> {
  for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) await walk(p, out);
  }
  return out;
}

/** Temp files of every writer: the UFS's, the write cache's, staged multipart parts. */
async function tempFiles(): Promise<string[]> {
  const found: string[] = [];
  const ufsTmp = path.join(c.ufsRoot, '.alluxio-tmp');
  for (const f of await fs.readdir(ufsTmp).catch(() => [] as string[])) if (!f.startsWith('.alluxio-probe')) found.push(path.join(ufsTmp, f));
  for (const w of c.workers) {
    const wcTmp = path.join(w.cacheDir, 'writecache', 'tmp');
    for (const f of await fs.readdir(wcTmp).catch(() => [] as string[])) found.push(path.join(wcTmp, f));
    for (const p of await walk(path.join(w.cacheDir, 'multipart'))) if (/(^|\/)tmp-[0-9a-f]+$|\.tmp$/.test(p)) found.push(p);
  }
  return found;
}

async function pinnedBytes(): Promise<number[]> {
  return Promise.all(c.workers.map(async (w) => ((await (await fetch(`${w.endpoint}/_alluxio/persist`)).json()) as { pinnedBytes: number }).pinnedBytes));
}

/** Nothing of a refused write is left: no object (on any worker), no temp file, no pinned byte. */
async function assertNothingStored(bucket: string, key: string): Promise<void> {
  for (const w of c.workers) {
    const r = await one(w, 'HEAD', `/${bucket}/${key}`, {}, undefined, true);
    assert.equal(r.status, 404, `${bucket}/${key} exists (HEAD via ${w.id} answered ${r.status})`);
  }
  assert.equal(existsSync(path.join(c.ufsRoot, bucket, key)), false, `${bucket}/${key} reached the UFS`);
  let temps: string[] = [];
  await waitFor('temp files to go', async () => (temps = await tempFiles()).length === 0, 20_000, 200).catch(() => undefined);
  assert.deepEqual(temps, [], 'temp files left behind');
  let pinned: number[] = [];
  await waitFor('pinned space to be released', async () => (pinned = await pinnedBytes()).every((n) => n === 0), 20_000, 200).catch(() => undefined);
  assert.deepEqual(pinned, c.workers.map(() => 0), 'pinned space left behind');
}

/** An aws-chunked body whose framing breaks at the first line: refused once reading has begun. */
function brokenChunkedPut(w: TestWorker, target: string, size: number): Buffer {
  return rawRequest('PUT', target, {
    Host: host(w),
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    'Content-Length': size,
  }, Buffer.concat([Buffer.from('zz;chunk-signature=nothex\r\n'), randomBytes(size - 27)]));
}

before(async () => {
  c = await startCluster({
    workers: 2,
    dataDir: tempDir('limits'),
    conf: {
      'alluxio.write.cache.enabled': 'true',
      'alluxio.worker.s3.request.body.idle.timeout': '2sec',
      'alluxio.worker.s3.request.headers.timeout': '2sec',
      'alluxio.proxy.s3.multipart.upload.cleaner.enabled': 'false',
    },
  });
  for (const b of [B, WB]) assert.equal((await fetch(`${c.endpoint}/${b}`, { method: 'PUT' })).status, 200);
  const r = await runCli(['pathconfig', 'set', `/${WB}`, '--policy', 'WRITE_BACK', '--replicas', '2'], { conf: c.cliConf() });
  assert.equal(r.code, 0, r.stderr);
  await c.waitSettled();
});

after(async () => { await c?.close(); });

describe('a refused upload never leaves its connection half-read', () => {
  it('the next request on a keep-alive connection is answered (direct to the owner)', async () => {
    const w = c.workers[0];
    const key = c.keyOwnedBy(w, B, 'halfread-');
    assert.equal((await fetch(`${w.endpoint}/${B}/${key}-ok`, { method: 'PUT', body: 'ok' })).status, 200);
    const r = await rawExchange(w.s3Port, [
      brokenChunkedPut(w, `/${B}/${key}`, 300_000),
      rawRequest('GET', `/${B}/${key}-ok`, { Host: host(w) }),
    ], { responses: 2, waitMs: 20_000 });
    assert.equal(r.timedOut, false, `the second request got no answer (answers: ${r.responses.map((x) => x.status).join(',')})`);
    expectError(r.responses[0], 400, 'IncompleteBody');
    assert.equal(r.responses[1].status, 200);
    assert.equal(r.responses[1].text, 'ok');
    await assertNothingStored(B, key);
  });

  it('a proxied refusal does not poison the pooled connection to the owner', async () => {
    const [via, owner] = c.workers;
    const bad = c.keyOwnedBy(owner, B, 'poison-');
    const good = c.keyOwnedBy(owner, B, 'after-poison-');
    assert.equal((await fetch(`${owner.endpoint}/${B}/${good}`, { method: 'PUT', body: 'fine' })).status, 200);
    const refused = await rawExchange(via.s3Port, [brokenChunkedPut(via, `/${B}/${bad}`, 300_000)], { responses: 1, waitMs: 20_000 });
    expectError(refused.responses[0], 400, 'IncompleteBody');
    // The pool hands out the connection freed last: these reach the owner on the one the refusal used.
    for (let i = 0; i < 3; i++) {
      const r = await rawExchange(via.s3Port, [rawRequest('GET', `/${B}/${good}`, { Host: host(via), Connection: 'close' })], { responses: 1, waitMs: 20_000 });
      assert.equal(r.timedOut, false, `forwarded GET #${i} got no answer`);
      assert.equal(r.responses[0].status, 200);
      assert.equal(r.responses[0].text, 'fine');
    }
    await assertNothingStored(B, bad);
  });
});
