/**
 * `alluxio job load` and `alluxio fs free` on a real 3-worker cluster over a local-dir UFS,
 * through the built CLI: 10,000 objects preloaded (progress, completion), then served without a
 * single UFS read; a stopped job resumed without reloading what it had done; a key deleted after
 * it was listed reported as failed; freed pages read from the UFS again.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BIN, runCli, startCluster, type TestCluster, type TestWorker } from '../helpers/cluster.js';
import { waitFor } from '../helpers/ports.js';

interface Job { id: string; state: string; files_total: number; files_done: number; files_failed: number; bytes_total: number; bytes_done: number; failures: { path: string; reason: string }[] }

const body = (i: number) => `object ${i} `.repeat(1 + (i % 40));

async function writeObjects(root: string, bucket: string, prefix: string, n: number, name: (i: number) => string): Promise<number> {
  let bytes = 0;
  const dirs = new Set<string>();
  for (let i = 0; i < n; i++) dirs.add(path.dirname(path.join(root, bucket, prefix, name(i))));
  for (const d of dirs) await fs.mkdir(d, { recursive: true });
  for (let i = 0; i < n; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, n - i) }, async (_, j) => {
      const data = body(i + j);
      bytes += Buffer.byteLength(data);
      await fs.writeFile(path.join(root, bucket, prefix, name(i + j)), data);
    }));
  }
  return bytes;
}

async function ufsReads(c: TestCluster, workers: TestWorker[] = c.workers): Promise<number> {
  let n = 0;
  for (const w of workers) n += (await c.stats(w)).ufs.reads;
  return n;
}

/** GETs every key from its owner (bounded concurrency) and checks the bytes. */
async function getAll(c: TestCluster, bucket: string, keys: { key: string; i: number }[]): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < keys.length) {
      const { key, i } = keys[next++];
      const r = await fetch(`${c.owner(bucket, key).endpoint}/${bucket}/${key}`);
      assert.equal(r.status, 200, key);
      assert.equal(await r.text(), body(i), key);
    }
  };
  await Promise.all(Array.from({ length: 16 }, lane));
}

describe('alluxio job load (10,000 objects, 3 workers)', () => {
  let c: TestCluster;
  const bucket = 'preload';
  const N = 10_000;
  const name = (i: number) => `d${String(i % 20).padStart(2, '0')}/obj-${String(i).padStart(5, '0')}.txt`;
  let totalBytes = 0;

  before(async () => {
    c = await startCluster({ workers: 3 });
    totalBytes = await writeObjects(c.ufsRoot, bucket, 'set', N, name);
  });
  after(async () => {
    await c?.close();
  });

  it('loads every object into its owner\'s cache with progress, then every GET is served without a UFS read', async () => {
    const readsBefore = await ufsReads(c);
    const r = await runCli(['job', 'load', `/${bucket}/set`, '--interval', '0.5'], { conf: c.cliConf(), timeoutMs: 600_000 });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^Started load-[0-9a-f]{8}: loading \/preload\/set into the cache$/);
    const progress = lines.filter((l) => / files\/s .* ETA /.test(l));
    assert.ok(progress.length >= 1, `progress lines:\n${r.stdout}`);
    assert.ok(progress.every((l) => /\[[#.]{20}\] \d+\/10000 files/.test(l)), r.stdout);
    assert.match(lines[lines.length - 1], /COMPLETED: 10000 of 10000 files loaded \(.*\) in .*, 0 failed$/);

    // Each object is one page, on the worker that owns it, read once from the UFS.
    const loadReads = (await ufsReads(c)) - readsBefore;
    assert.equal(loadReads, N, 'one UFS read per object');
    const owned = new Map<string, number>();
    for (let i = 0; i < N; i++) {
      const o = c.owner(bucket, `set/${name(i)}`).id;
      owned.set(o, (owned.get(o) ?? 0) + 1);
    }
    for (const w of c.workers) assert.equal((await c.stats(w)).cache.pages, owned.get(w.id), `${w.id} caches exactly the objects it owns`);

    const status = await runCli(['job', 'status', '--json'], { conf: c.cliConf() });
    assert.equal(status.code, 0, status.stderr);
    const [job] = JSON.parse(status.stdout) as Job[];
    assert.equal(job.state, 'COMPLETED');
    assert.equal(Number(job.files_done), N);
    assert.equal(Number(job.bytes_done), totalBytes);
    assert.equal(Number(job.bytes_total), totalBytes);

    const readsBeforeGets = await ufsReads(c);
    await getAll(c, bucket, Array.from({ length: N }, (_, i) => ({ key: `set/${name(i)}`, i })));
    assert.equal(await ufsReads(c), readsBeforeGets, 'every GET was served from the cache');
  });

  it('fs free drops the pages under a path on every worker: the next GET reads the UFS again, other paths stay cached', async () => {
    const inD03 = Array.from({ length: N }, (_, i) => i).filter((i) => name(i).startsWith('d03/'));
    const r = await runCli(['fs', 'free', `/${bucket}/set/d03`, '--json'], { conf: c.cliConf() });
    assert.equal(r.code, 0, r.stderr);
    const freed = JSON.parse(r.stdout) as { objects: number; pages: number; unpersisted_skipped: number; workers: string[] };
    assert.equal(Number(freed.objects), inD03.length);
    assert.equal(Number(freed.pages), inD03.length);
    assert.equal(Number(freed.unpersisted_skipped), 0);
    assert.deepEqual(freed.workers, ['worker-0', 'worker-1', 'worker-2']);

    const before = await ufsReads(c);
    await getAll(c, bucket, inD03.slice(0, 50).map((i) => ({ key: `set/${name(i)}`, i })));
    assert.equal((await ufsReads(c)) - before, 50, 'freed objects come from the UFS again');
    const still = Array.from({ length: 50 }, (_, k) => k * 7 + 1).filter((i) => !name(i).startsWith('d03/'));
    const mid = await ufsReads(c);
    await getAll(c, bucket, still.map((i) => ({ key: `set/${name(i)}`, i })));
    assert.equal(await ufsReads(c), mid, 'objects outside the freed path are still cached');

    const plain = await runCli(['fs', 'free', `/${bucket}/set/d04/`], { conf: c.cliConf() });
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /^Freed \/preload\/set\/d04\/: 500 cached objects \(500 pages, .*\) on 3 workers$/m);
    const bad = await runCli(['fs', 'free', 'relative/path'], { conf: c.cliConf() });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^alluxio: paths start with \//);
  });
});

describe('alluxio job load: stop, resume, failures', () => {
  let c: TestCluster;
  const bucket = 'resume';
  const N = 3000;
  const name = (i: number) => `k-${String(i).padStart(5, '0')}`;
  const BATCH = 50;

  before(async () => {
    // Small batches, one in flight per worker, one object at a time: a job slow enough to stop
    // mid-way, whose read-ahead window is 150 lines.
    c = await startCluster({
      workers: 3,
      conf: { 'alluxio.job.batch.size': String(BATCH), 'alluxio.job.load.batches.per.worker': '1', 'alluxio.worker.job.load.concurrency': '1' },
    });
    await writeObjects(c.ufsRoot, bucket, 'big', N, name);
  });
  after(async () => {
    await c?.close();
  });

  async function jobs(): Promise<Job[]> {
    return ((await (await fetch(`http://127.0.0.1:${c.coordinatorWebPort}/api/v1/jobs`)).json()) as { jobs: Job[] }).jobs;
  }

  it('a stopped job shows STOPPED with partial counters; after a key is deleted, the resumed job loads the rest without reloading what it did and reports that key', async () => {
    const watcher = spawn(process.execPath, [BIN, 'job', 'load', `/${bucket}/big`, ...Object.entries(c.cliConf()).flatMap(([k, v]) => ['--conf', `${k}=${v}`])], { env: { ...process.env, ALLUXIO_CONF_DIR: '' } });
    let out = '';
    let err = '';
    watcher.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    watcher.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((resolve) => watcher.on('close', (code) => resolve(code)));
    try {
      await waitFor('the job to load some objects', async () => {
        const [j] = await jobs();
        return j && Number(j.files_done) >= 300;
      }, 120_000, 50);
      const stop = await runCli(['job', 'load', `/${bucket}/big`, '--stop'], { conf: c.cliConf() });
      assert.equal(stop.code, 0, stop.stderr);
      assert.match(stop.stdout, /STOPPED: \d+ of 3000 files loaded, 0 failed; resume with: alluxio job load \/resume\/big/);
    } finally {
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
      if (code === 'timeout') watcher.kill('SIGKILL');
      assert.equal(code, 1, `the watching CLI ends non-zero when its job is stopped\n${out}\n${err}`);
    }
    assert.match(err, /^alluxio: job load-[0-9a-f]+ was stopped before it completed$/m);

    const [stopped] = await jobs();
    const status = await runCli(['job', 'status', stopped.id], { conf: c.cliConf() });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^state: +STOPPED$/m);
    const doneAtStop = Number(stopped.files_done);
    assert.equal(stopped.state, 'STOPPED');
    assert.ok(doneAtStop >= 300 && doneAtStop < N - 3 * BATCH - 1, `stopped mid-way (${doneAtStop} done)`);
    assert.match(status.stdout, new RegExp(`^files: +${doneAtStop} loaded, 0 failed, 3000 total$`, 'm'));
    const readsAtStop = await ufsReads(c);

    // The last key is beyond the job's read-ahead window: listed, never sent. It goes away now.
    await fs.unlink(path.join(c.ufsRoot, bucket, 'big', name(N - 1)));
    const resumed = await runCli(['job', 'load', `/${bucket}/big`], { conf: c.cliConf(), timeoutMs: 600_000 });
    assert.equal(resumed.code, 1, `${resumed.stdout}\n${resumed.stderr}`);
    assert.match(resumed.stdout, new RegExp(`^Resumed ${stopped.id}: loading /resume/big into the cache$`, 'm'));
    assert.match(resumed.stdout, /COMPLETED: 2999 of 3000 files loaded \(.*\) in .*, 1 failed$/m);
    assert.match(resumed.stderr, /^ {2}\/resume\/big\/k-02999: NoSuchKey: /m);
    assert.match(resumed.stderr, /^alluxio: 1 of 3000 files failed to load \(job load-[0-9a-f]+\)$/m);

    const readsDuringResume = (await ufsReads(c)) - readsAtStop;
    assert.ok(readsDuringResume <= N - 1 - doneAtStop, `the resume read ${readsDuringResume} objects; only ${N - 1 - doneAtStop} were not loaded at the stop`);
    assert.ok(readsDuringResume >= N - 1 - doneAtStop - 3 * BATCH, `the resume loaded what was left (${readsDuringResume} reads)`);

    const [done] = await jobs();
    assert.equal(done.id, stopped.id);
    assert.equal(done.state, 'COMPLETED');
    assert.equal(Number(done.files_done), N - 1);
    assert.equal(Number(done.files_failed), 1);
    assert.deepEqual(done.failures.map((f) => f.path), ['/resume/big/k-02999']);

    // Nothing to resume any more; a new load of the same path starts a new job over the cache.
    const again = await runCli(['job', 'load', `/${bucket}/big`, '--resume'], { conf: c.cliConf() });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^alluxio: no stopped or failed load of \/resume\/big to resume$/m);
    const before = await ufsReads(c);
    const fresh = await runCli(['job', 'load', `/${bucket}/big`], { conf: c.cliConf(), timeoutMs: 600_000 });
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.match(fresh.stdout, /COMPLETED: 2999 of 2999 files loaded/);
    assert.equal(await ufsReads(c), before, 'a load of cached objects reads nothing from the UFS');
  });

  it('a path with nothing under it completes with 0 files; a missing bucket fails the job with the reason', async () => {
    await fs.mkdir(path.join(c.ufsRoot, bucket, 'empty'), { recursive: true });
    const empty = await runCli(['job', 'load', `s3://${bucket}/empty`], { conf: c.cliConf() });
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /COMPLETED: 0 of 0 files loaded/);
    const missing = await runCli(['job', 'load', '/no-such-bucket/x'], { conf: c.cliConf() });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^alluxio: job load-[0-9a-f]+ failed: bucket no-such-bucket does not exist$/m);
  });
});
