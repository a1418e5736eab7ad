/**
 * `alluxio worker decommission` and `alluxio fs free` with the write cache on: 3 workers,
 * WRITE_BACK with 2 replicas, moto as the UFS, stopped so what is written stays unpersisted.
 * Freeing never drops unpersisted data; a decommissioned worker leaves the ring at once, its
 * objects stay readable, are persisted once the store is back, and it leaves the cluster with
 * nothing lost.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BIN, runCli, startCluster, type TestCluster, type TestWorker } from '../helpers/cluster.js';
import { createMotoBucket, startMoto, type Moto } from '../helpers/moto.js';
import { waitFor } from '../helpers/ports.js';

const md5 = (b: Buffer | Uint8Array) => createHash('md5').update(b).digest('hex');

describe('worker decommission with unpersisted WRITE_BACK data', () => {
  let moto: Moto;
  let c: TestCluster;
  let direct: S3Client;
  const ufsBucket = 'drain';
  const objects = new Map<string, Buffer>();

  before(async () => {
    moto = await startMoto();
    await createMotoBucket(moto.endpoint, ufsBucket);
    c = await startCluster({
      conf: {
        'alluxio.write.cache.enabled': 'true',
        'alluxio.worker.write.cache.async.persist.retry.initial.interval': '200ms',
        'alluxio.worker.write.cache.async.persist.retry.max.interval': '1sec',
        'alluxio.write.cache.async.file.check.period': '1sec',
        'alluxio.coordinator.decommission.check.interval': '500ms',
      },
    });
    direct = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const add = await runCli(['mount', 'add', '/ckpt', `s3://${ufsBucket}`, '--option', 'aws.accessKeyId=test', '--option', 'aws.secretKey=test',
      '--option', `alluxio.underfs.s3.endpoint=${moto.endpoint}`, '--option', 'alluxio.underfs.s3.disable.dns.buckets=true'], { conf: c.cliConf() });
    assert.equal(add.code, 0, add.stderr);
    const set = await runCli(['pathconfig', 'set', '/ckpt', '--policy', 'WRITE_BACK', '--replicas', '2'], { conf: c.cliConf() });
    assert.equal(set.code, 0, set.stderr);
    await c.waitSettled();
  });
  after(async () => {
    direct?.destroy();
    await c?.close();
    await moto?.close();
  });

  async function inUfs(key: string): Promise<Buffer | undefined> {
    try {
      const r = await direct.send(new GetObjectCommand({ Bucket: ufsBucket, Key: key }));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch {
      return undefined;
    }
  }

  async function readableFrom(workers: TestWorker[]): Promise<void> {
    for (const [key, data] of objects) {
      for (const w of workers) {
        const r = await fetch(`${w.endpoint}/ckpt/${key}`);
        assert.equal(r.status, 200, `${key} via ${w.id}`);
        assert.equal(md5(Buffer.from(await r.arrayBuffer())), md5(data), `${key} via ${w.id}`);
      }
    }
  }

  async function workerList(): Promise<{ id: string; state: string }[]> {
    const r = await runCli(['worker', 'list', '--json'], { conf: c.cliConf() });
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { workers: { id: string; state: string }[] }).workers;
  }

  it('fs free keeps unpersisted objects; decommission hands them over, they are persisted, the worker leaves, nothing is lost', async () => {
    // The store is down: every WRITE_BACK write stays unpersisted, with a copy on 2 workers.
    await moto.close();
    for (let i = 0; i < 30; i++) {
      const key = `run/step-${i}.bin`;
      const data = randomBytes(20_000 + i * 1000);
      const r = await fetch(`${c.workers[i % 3].endpoint}/ckpt/${key}`, { method: 'PUT', body: new Uint8Array(data) });
      assert.equal(r.status, 200, key);
      objects.set(key, data);
    }
    const owned = new Map<string, number>();
    for (const key of objects.keys()) owned.set(c.owner('ckpt', key).id, (owned.get(c.owner('ckpt', key).id) ?? 0) + 1);
    const x = c.workers.reduce((a, b) => ((owned.get(a.id) ?? 0) >= (owned.get(b.id) ?? 0) ? a : b));
    assert.ok((owned.get(x.id) ?? 0) > 0);
    const others = c.workers.filter((w) => w !== x);

    const free = await runCli(['fs', 'free', '/ckpt'], { conf: c.cliConf() });
    assert.equal(free.code, 0, free.stderr);
    assert.match(free.stdout, /^Skipped 30 unpersisted objects \(write cache\): never freed before they are persisted$/m);
    await readableFrom(c.workers);

    const cli = spawn(process.execPath, [BIN, 'worker', 'decommission', x.id, ...Object.entries(c.cliConf()).flatMap(([k, v]) => ['--conf', `${k}=${v}`])], { env: { ...process.env, ALLUXIO_CONF_DIR: '' } });
    let out = '';
    let err = '';
    cli.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    cli.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const cliExit = new Promise<number | null>((resolve) => cli.on('close', (code) => resolve(code)));
    try {
      await waitFor(`${x.id} to be DECOMMISSIONING`, async () => (await workerList()).find((w) => w.id === x.id)?.state === 'DECOMMISSIONING', 30_000);
      await waitFor('the decommission CLI to show a backlog', async () => /DECOMMISSIONING: [1-9]\d* unpersisted objects? to persist or hand over/.test(out), 30_000);
      const status = await runCli(['worker', 'list'], { conf: c.cliConf() });
      assert.match(status.stdout, new RegExp(`^${x.id} .* draining .* 0\\.0% +DECOMMISSIONING$`, 'm'));

      // Out of the ring, nothing is lost: every object reads back through the others.
      await readableFrom(others);

      // The store is back: the holders that took over, and the draining worker, persist.
      moto = await startMoto({ port: moto.port });
      await createMotoBucket(moto.endpoint, ufsBucket);
      const code = await Promise.race([cliExit, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 180_000))]);
      assert.equal(code, 0, `decommission CLI: ${code}\n${out}\n${err}`);
    } finally {
      if (cli.exitCode === null) cli.kill('SIGKILL');
    }
    assert.match(out, new RegExp(`^${x.id} is out of the ring: new requests go to the other workers$`, 'm'));
    assert.match(out, new RegExp(`^${x.id} decommissioned: it has left the cluster$`, 'm'));
    assert.equal(await x.p!.exited, 0, `${x.id} stopped cleanly`);
    assert.deepEqual((await workerList()).map((w) => w.id), others.map((w) => w.id));

    for (const [key, data] of objects) {
      const stored = await waitFor(`${key} persisted`, () => inUfs(key), 60_000);
      assert.equal(md5(stored), md5(data), key);
    }
    await readableFrom(others);
    const persist = await (await fetch(`http://127.0.0.1:${c.coordinatorWebPort}/api/v1/persistence`)).json() as { unpersisted: number };
    assert.equal(persist.unpersisted, 0);
  });
});
