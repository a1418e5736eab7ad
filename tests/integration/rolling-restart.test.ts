/**
 * Rolling restart behind nginx: three workers behind deploy/nginx.conf, several JS SDK loops
 * writing objects and reading them back (bytes checked) through nginx without pause, while each
 * worker in turn is stopped with SIGTERM, waited for, started again with the same id, ports and
 * cache dir, and waited for until it is back in the ring. The SDK makes exactly one attempt per
 * request (maxAttempts 1), so any request the restarts break is a failure; there must be none,
 * and every acknowledged object must read back with its bytes at the end.
 *
 * Run with the default write policy (no write cache), and with the write cache on and the
 * bucket under WRITE_BACK with 2 replicas.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { runCli, startCluster, type TestCluster } from '../helpers/cluster.js';
import { startNginx, type NginxLb } from '../helpers/nginx.js';
import { oneAttemptClient } from '../helpers/s3.js';

const LOOPS = 4;
/** Object sizes the loops cycle through; 3 MiB bodies go with Expect: 100-continue (JS SDK ≥ 2 MiB). */
const SIZES = [1024, 64 * 1024, 700 * 1024, 3 * 1024 * 1024 + 17];

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

interface Failure { loop: number; op: string; key: string; error: string }

const sdkClient = (endpoint: string): S3Client => oneAttemptClient(endpoint);

function describeErr(err: unknown): string {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  return `${e.$metadata?.httpStatusCode ?? '-'} ${e.name ?? ''}: ${e.message ?? String(err)}`;
}

/** The loops: PUT a fresh object, GET it back, GET an older acknowledged one; until stopped. */
class Load {
  readonly acked = new Map<string, string>();
  readonly failures: Failure[] = [];
  ops = 0;
  private stopped = false;
  private running: Promise<void>[] = [];

  constructor(private readonly s3: S3Client, private readonly bucket: string) {}

  start(): void {
    this.running = Array.from({ length: LOOPS }, (_, i) => this.loop(i));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
  }

  private async step(loop: number, op: string, key: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
      this.ops += 1;
    } catch (err) {
      this.failures.push({ loop, op, key, error: describeErr(err) });
    }
  }

  private async get(key: string): Promise<string> {
    const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return md5(await r.Body!.transformToByteArray());
  }

  private async loop(loop: number): Promise<void> {
    for (let n = 0; !this.stopped; n++) {
      const key = `loop-${loop}/obj-${n}.bin`;
      const body = randomBytes(SIZES[(n + loop) % SIZES.length]);
      const sum = md5(body);
      let put = false;
      await this.step(loop, 'put', key, async () => {
        await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body }));
        this.acked.set(key, sum);
        put = true;
      });
      if (put) {
        await this.step(loop, 'get-own', key, async () => assert.equal(await this.get(key), sum, 'bytes read back differ'));
      }
      const older = [...this.acked.keys()];
      if (older.length > 0) {
        const k = older[Math.floor(Math.random() * older.length)];
        await this.step(loop, 'get-older', k, async () => assert.equal(await this.get(k), this.acked.get(k), 'bytes read back differ'));
      }
    }
  }
}

function rollingRestartSuite(name: string, conf: Record<string, string>, prepare?: (c: TestCluster, bucket: string) => Promise<void>): void {
  describe(name, () => {
    let c: TestCluster;
    let lb: NginxLb;
    let s3: S3Client;
    const bucket = `rolling-${randomBytes(3).toString('hex')}`;

    before(async () => {
      c = await startCluster({
        workers: 3,
        conf: {
          // The defaults of a real deployment: idle keep-alive connections are left to nginx to close.
          'alluxio.worker.s3.shutdown.idle.grace': '5sec',
          ...conf,
        },
      });
      lb = await startNginx(c.workers.map((w) => `127.0.0.1:${w.s3Port}`));
      s3 = sdkClient(lb.endpoint);
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await prepare?.(c, bucket);
    }, { timeout: 120_000 });

    after(async () => {
      s3?.destroy();
      await lb?.close();
      await c?.close();
      if (lb) await fs.rm(lb.dir, { recursive: true, force: true });
    }, { timeout: 120_000 });

    it('restarts every worker in turn under load: no failed request, every acknowledged object intact', { timeout: 600_000 }, async () => {
      const load = new Load(s3, bucket);
      load.start();
      const progress: string[] = [];
      try {
        // Some traffic first, so every worker holds keep-alive connections from nginx.
        await waitOps(load, 40);
        for (const w of c.workers) {
          const before = load.ops;
          const code = await c.stopWorker(w, { killAfterMs: 90_000 });
          assert.equal(code, 0, `${w.id} did not exit cleanly on SIGTERM (exit ${code}):\n${c.logs()}`);
          // Traffic goes on while it is down.
          await waitOps(load, before + 20);
          c.startWorker(w);
          await c.waitSettled(60_000);
          await waitOps(load, load.ops + 20);
          progress.push(`${w.id}: ${load.ops - before} requests during its restart`);
        }
      } finally {
        await load.stop();
      }
      console.log(`rolling restart (${name}): ${load.ops} requests, ${load.acked.size} objects written; ${progress.join('; ')}`);
      assert.deepEqual(load.failures, [], `requests failed during the rolling restart:\n${JSON.stringify(load.failures.slice(0, 20), null, 1)}\n--- nginx\n${lb.log()}\n--- cluster\n${c.logs()}`);

      // Every acknowledged object, read back through nginx once all workers are back.
      const wrong: string[] = [];
      for (const [key, sum] of load.acked) {
        const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const got = md5(await r.Body!.transformToByteArray());
        if (got !== sum) wrong.push(`${key}: ${got} != ${sum}`);
      }
      assert.deepEqual(wrong, [], 'acknowledged objects read back wrong');
    });
  });
}

async function waitOps(load: Load, target: number): Promise<void> {
  const deadline = Date.now() + 300_000;
  while (load.ops < target) {
    if (Date.now() > deadline) throw new Error(`the load made no progress (${load.ops} of ${target} requests); failures: ${JSON.stringify(load.failures.slice(0, 5))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

rollingRestartSuite('rolling restart, default write policy', {});

rollingRestartSuite('rolling restart, write cache on (WRITE_BACK, 2 replicas)', { 'alluxio.write.cache.enabled': 'true' }, async (c, bucket) => {
  const r = await runCli(['pathconfig', 'set', `/${bucket}`, '--policy', 'WRITE_BACK', '--replicas', '2'], { conf: c.cliConf() });
  assert.equal(r.code, 0, r.stderr);
  await c.waitSettled();
});
