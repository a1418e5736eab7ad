/**
 * The workloads, each a list of targets (our cluster and the peers that can do the same work).
 * Every target of a workload moves the same bytes under the same key names; "ours" is always
 * sent to the worker that owns the key (the proxy hop has its own workload).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { waitFor } from '../tests/helpers/ports.js';
import { BUCKET, COLD_BUCKET, LIST_BUCKET, WB_BUCKET, WB_S3_BUCKET, type BenchEnv } from './env.js';
import { drain, loops, rssOf, summarize, type Measurement, type S3Target } from './load.js';

export interface Target {
  name: string;
  /** One target per workload is ours; the ratio column compares it with every peer. */
  role: 'ours' | 'peer';
  run(run: number): Promise<Measurement>;
}

export interface Workload {
  id: string;
  title: string;
  /** What the ratio compares: operations or payload megabytes per second. */
  metric: 'ops' | 'mb';
  /** Runs regardless of --runs (a workload too long to repeat). */
  runs?: number;
  setup?(): Promise<void>;
  /** After every run of every target (e.g. let write-back persistence drain, untimed). */
  settle?(): Promise<void>;
  targets: Target[];
}

function human(bytes: number): string {
  if (bytes >= 1024 ** 3 && bytes % 1024 ** 3 === 0) return `${bytes / 1024 ** 3} GiB`;
  if (bytes >= 1024 ** 2) return `${+(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${+(bytes / 1024).toFixed(1)} KiB`;
}

async function httpGet(url: string): Promise<{ status: number; headers: Headers; bytes: number }> {
  const r = await fetch(url);
  const body = Buffer.from(await r.arrayBuffer());
  return { status: r.status, headers: r.headers, bytes: body.length };
}

/** A Readable of `size` bytes made of one repeated chunk: big bodies streamed, never held whole. */
function repeated(chunk: Buffer, size: number): Readable {
  return Readable.from((function* () {
    for (let left = size; left > 0; left -= chunk.length) yield left >= chunk.length ? chunk : chunk.subarray(0, left);
  })());
}

export function workloads(env: BenchEnv): Workload[] {
  const s = env.sizes;
  const d = env.opts.duration;
  const peers = () => env.peers;
  const seeded = new Map<number, Promise<string>>();

  /** One object of `size` in every store: ours (and warmed), the static dir, s3rver (and warmed in nginx's cache), moto (public-read). */
  const seedGet = (size: number): Promise<string> => {
    let p = seeded.get(size);
    if (!p) {
      p = (async () => {
        const key = env.keys(BUCKET, `get-${size}-`, 1)[0]!;
        const body = randomBytes(size);
        await env.client(env.ours(), 1).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
        await env.writeStatic(BUCKET, key, body);
        await env.client(peers().s3rver, 1).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
        await env.client(peers().moto, 1).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ACL: 'public-read' }));
        const urls = getUrls(key);
        for (const [name, url] of Object.entries(urls)) {
          const r = await httpGet(url);
          if (r.status !== 200 || r.bytes !== size) throw new Error(`${name} answered ${r.status} with ${r.bytes} bytes for ${url}`);
        }
        const again = await httpGet(urls['nginx proxy_cache']!);
        if (again.headers.get('x-cache-status') !== 'HIT') throw new Error(`nginx proxy_cache did not cache ${key} (${again.headers.get('x-cache-status')})`);
        return key;
      })();
      seeded.set(size, p);
    }
    return p;
  };
  const getUrls = (key: string): Record<string, string> => ({
    'nginx static': `${peers().nginxStatic}/${BUCKET}/${key}`,
    'nginx proxy_cache': `${peers().nginxCache}/${BUCKET}/${key}`,
    s3rver: `${peers().s3rver.endpoint}/${BUCKET}/${key}`,
    moto: `${peers().moto.endpoint}/${BUCKET}/${key}`,
    ours: `${env.owner.endpoint}/${BUCKET}/${key}`,
  });

  /** `id` names the full-size workload; --smoke keeps the id with smaller sizes (its title says them). */
  const getWorkload = (id: string, size: number, connections: number): Workload => {
    const names = ['nginx static', 'nginx proxy_cache', 's3rver', 'moto', 'ours'];
    return {
      id,
      title: `GET ${human(size)}, ${connections} conns (cache hit)`,
      metric: size >= 1024 * 1024 ? 'mb' : 'ops',
      setup: async () => {
        const key = await seedGet(size);
        // A short untimed pass per target so no one is measured cold (JIT, page cache, pools).
        if (!env.opts.smoke) for (const url of Object.values(getUrls(key))) await env.wrk.run(url, { connections, seconds: 1, bodyBytes: size });
      },
      targets: names.map((name) => ({
        name,
        role: name === 'ours' ? 'ours' : 'peer',
        run: async () => env.wrk.run(getUrls(await seedGet(size))[name]!, { connections, seconds: d, bodyBytes: size }),
      })),
    };
  };

  /** Lets the owner persist its write-back backlog before the next measurement (untimed). */
  const drainPersistence = async (): Promise<void> => {
    await waitFor('write-back persistence to drain', async () => {
      const st = await (await fetch(`${env.owner.endpoint}/_alluxio/persist`)).json() as { queued: number };
      return st.queued === 0;
    }, 600_000, 100);
  };

  const putWorkload = (tag: string, size: number, connections: number, policy: 'WRITE_THROUGH' | 'WRITE_BACK', maxOps = Infinity): Workload => {
    const wb = policy === 'WRITE_BACK';
    const body = randomBytes(size);
    const poolSize = Number.isFinite(maxOps) ? maxOps : 20_000;
    const putLoop = (t: S3Target, bucket: string) => async (): Promise<Measurement> => {
      const keys = env.keys(bucket, `put-${tag}-`, poolSize);
      const client = env.runClient(t, connections);
      return loops(connections, d, async (_, seq) => {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: keys[seq % keys.length], Body: body }));
        return size;
      }, maxOps);
    };
    return {
      id: `put-${tag}-c${connections}-${wb ? 'wb' : 'wt'}`,
      title: `PUT ${human(size)}, ${connections} conn${connections > 1 ? 's' : ''}, ours ${policy}`,
      metric: size >= 1024 * 1024 ? 'mb' : 'ops',
      settle: wb ? drainPersistence : undefined,
      targets: [
        { name: 's3rver', role: 'peer', run: () => putLoop(peers().s3rver, BUCKET)() },
        { name: 'moto', role: 'peer', run: () => putLoop(peers().moto, BUCKET)() },
        { name: `ours ${policy}`, role: 'ours', run: () => putLoop(env.ours(), wb ? WB_BUCKET : BUCKET)() },
      ],
    };
  };

  const readAfterWrite: Workload = (() => {
    const body = randomBytes(10 * 1024);
    const raw = (t: () => S3Target, bucket: string) => async (): Promise<Measurement> => {
      const keys = env.keys(bucket, 'raw-', 20_000);
      const client = env.runClient(t(), 1);
      return loops(1, d, async (_, seq) => {
        const key = keys[seq % keys.length]!;
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
        const t0 = performance.now();
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const n = await drain(r.Body);
        if (n !== body.length) throw new Error(`read ${n} bytes after writing ${body.length}`);
        return { bytes: n, ms: performance.now() - t0 };
      });
    };
    return {
      id: 'raw-10k',
      title: 'read-after-write 10 KiB: the GET right after its PUT, 1 conn, ours WRITE_BACK',
      metric: 'ops',
      settle: drainPersistence,
      targets: [
        { name: 's3rver', role: 'peer', run: raw(() => peers().s3rver, BUCKET) },
        { name: 'moto', role: 'peer', run: raw(() => peers().moto, BUCKET) },
        { name: 'ours WRITE_BACK', role: 'ours', run: raw(() => env.ours(), WB_BUCKET) },
      ],
    };
  })();

  const coldGet: Workload = (() => {
    const seededRuns = new Map<number, Promise<string[]>>();
    const body = randomBytes(s.coldObject);
    const keysFor = (run: number): Promise<string[]> => {
      let p = seededRuns.get(run);
      if (!p) {
        p = (async () => {
          const keys = env.keys(COLD_BUCKET, `cold-r${run}-`, s.coldObjects);
          const moto = env.client(peers().moto, 4);
          for (const key of keys) await moto.send(new PutObjectCommand({ Bucket: COLD_BUCKET, Key: key, Body: body }));
          return keys;
        })();
        seededRuns.set(run, p);
      }
      return p;
    };
    const cold = (t: () => S3Target) => async (run: number): Promise<Measurement> => {
      const keys = await keysFor(run);
      const client = env.runClient(t(), 1);
      return loops(1, Infinity, async (_, seq) => {
        const r = await client.send(new GetObjectCommand({ Bucket: COLD_BUCKET, Key: keys[seq] }));
        return drain(r.Body);
      }, keys.length);
    };
    return {
      id: 'cold-get',
      title: `cold GET ${human(s.coldObject)} (fresh keys, 1 conn): through our cache from the S3 UFS vs straight from it`,
      metric: 'mb',
      targets: [
        { name: 'moto direct', role: 'peer', run: cold(() => peers().moto) },
        { name: 'ours (miss → moto)', role: 'ours', run: cold(() => env.ours()) },
      ],
    };
  })();

  const persistence = (bucket: string, label: string): Target => ({
    name: label,
    role: 'ours',
    run: async (run) => {
      const keys = env.keys(bucket, `persist-r${run}-`, s.persistObjects);
      const body = randomBytes(10 * 1024);
      const stats = async () => (await (await fetch(`${env.owner.endpoint}/_alluxio/persist`)).json()) as { persisted: number; queued: number; failed: number; lastError?: string };
      await drainPersistence();
      const before = (await stats()).persisted;
      const client = env.runClient(env.ours(), 16);
      const t0 = performance.now();
      const writes = await loops(16, Infinity, async (_, seq) => {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: keys[seq], Body: body }));
        return body.length;
      }, keys.length);
      const written = keys.length - writes.errors;
      const atWriteEnd = await stats();
      const tWriteEnd = performance.now();
      const done = await waitFor('the objects to be persisted', async () => {
        const st = await stats();
        return st.persisted - before >= written ? st : undefined;
      }, 600_000, 20);
      const tDone = performance.now();
      // Persistence runs while the writes do, so the overall rate is bounded by the write rate.
      // The backlog left when the writes end is drained by persistence alone: that rate is
      // the persister's own, when the backlog is big enough to time.
      const backlog = written - (atWriteEnd.persisted - before);
      const drainSeconds = (tDone - tWriteEnd) / 1000;
      const seconds = (tDone - t0) / 1000;
      const rate = backlog >= Math.min(200, written / 4) && drainSeconds > 0 ? backlog / drainSeconds : written / seconds;
      const m = summarize([], written * body.length, seconds, writes.errors + done.failed);
      return { ...m, ops: written, opsPerSec: rate, p50: NaN, p99: NaN, extra: { writesPerSec: written / writes.seconds, overallPerSec: written / seconds, backlog } };
    },
  });

  const listing: Workload = (() => {
    const motoKeys = env.opts.smoke ? s.listKeys : 10_000;
    const name = (i: number) => `k-${String(i).padStart(6, '0')}`;
    const pages = (t: () => S3Target) => async (): Promise<Measurement> => {
      const client = env.runClient(t(), 1);
      let token: string | undefined;
      return loops(1, d, async () => {
        const r = await client.send(new ListObjectsV2Command({ Bucket: LIST_BUCKET, MaxKeys: 1000, ContinuationToken: token }));
        if ((r.KeyCount ?? 0) === 0) throw new Error('an empty listing page');
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
        return 0;
      });
    };
    return {
      id: 'list',
      title: `ListObjectsV2 pages of 1000 keys over a ${s.listKeys.toLocaleString('en')}-key bucket, 1 conn`,
      metric: 'ops',
      setup: async () => {
        // Our local UFS is a plain directory and s3rver's store is files too: both are filled on
        // disk. moto only takes PUTs, so its bucket is smaller (said in its row).
        const ufsDir = path.join(env.ufsRoot, LIST_BUCKET);
        const s3rverDir = path.join(peers().s3rver.dir, LIST_BUCKET);
        await fs.mkdir(ufsDir, { recursive: true });
        await fs.mkdir(s3rverDir, { recursive: true });
        for (let i = 0; i < s.listKeys; i += 500) {
          await Promise.all(Array.from({ length: Math.min(500, s.listKeys - i) }, async (_, j) => {
            await fs.writeFile(path.join(ufsDir, name(i + j)), '');
            // s3rver's own layout: the bytes, their MD5 and the metadata beside them.
            const base = path.join(s3rverDir, `${name(i + j)}._S3rver_`);
            await fs.writeFile(`${base}object`, '');
            await fs.writeFile(`${base}object.md5`, 'd41d8cd98f00b204e9800998ecf8427e');
            await fs.writeFile(`${base}metadata.json`, '{"content-type":"binary/octet-stream"}');
          }));
        }
        const moto = env.client(peers().moto, 32);
        const seed = await loops(32, Infinity, async (_, seq) => {
          await moto.send(new PutObjectCommand({ Bucket: LIST_BUCKET, Key: name(seq), Body: Buffer.alloc(0), ContentLength: 0 }));
          return 0;
        }, motoKeys);
        if (seed.errors > 0) throw new Error(`seeding moto's listing bucket failed: ${seed.firstError}`);
      },
      targets: [
        { name: 's3rver', role: 'peer', run: pages(() => peers().s3rver) },
        { name: `moto (${motoKeys.toLocaleString('en')} keys)`, role: 'peer', run: pages(() => peers().moto) },
        { name: 'ours', role: 'ours', run: pages(() => env.ours()) },
      ],
    };
  })();

  const multipart: Workload = (() => {
    const chunk = randomBytes(1024 * 1024);
    const upload = (t: () => S3Target) => async (): Promise<Measurement> => {
      const key = env.keys(BUCKET, 'mpu-', 1)[0]!;
      const client = env.runClient(t(), 4);
      return loops(1, Infinity, async () => {
        await new Upload({ client, params: { Bucket: BUCKET, Key: key, Body: repeated(chunk, s.multipart) }, partSize: s.multipartPart, queueSize: 4 }).done();
        return s.multipart;
      }, 1);
    };
    return {
      id: 'multipart',
      title: `multipart upload of ${human(s.multipart)} (${human(s.multipartPart)} parts, 4 at a time), ours WRITE_THROUGH`,
      metric: 'mb',
      targets: [
        { name: 's3rver', role: 'peer', run: upload(() => peers().s3rver) },
        { name: 'moto', role: 'peer', run: upload(() => peers().moto) },
        { name: 'ours', role: 'ours', run: upload(() => env.ours()) },
      ],
    };
  })();

  const proxied: Workload = {
    id: 'proxied-get-1m',
    title: 'GET 1 MiB, 16 conns (cache hit): through a non-owner (proxied) vs straight to the owner',
    metric: 'mb',
    setup: async () => { await seedGet(s.medium); },
    targets: [
      { name: 'ours, to the owner', role: 'peer', run: async () => env.wrk.run(`${env.owner.endpoint}/${BUCKET}/${await seedGet(s.medium)}`, { connections: 16, seconds: d, bodyBytes: s.medium }) },
      { name: 'ours, via a non-owner', role: 'ours', run: async () => env.wrk.run(`${env.nonOwner.endpoint}/${BUCKET}/${await seedGet(s.medium)}`, { connections: 16, seconds: d, bodyBytes: s.medium }) },
    ],
  };

  const rss: Workload = {
    id: 'rss-stream',
    title: `worker RSS while streaming ${human(s.rssObject * s.rssConnections)} in and out, ${s.rssConnections} conns`,
    metric: 'mb',
    runs: 1,
    targets: [{
      name: 'ours',
      role: 'ours',
      run: async () => {
        const keys = env.keys(BUCKET, 'rss-', s.rssConnections);
        const chunk = randomBytes(1024 * 1024);
        const agent = new http.Agent({ keepAlive: true, maxSockets: s.rssConnections });
        const pids = env.cluster.workers.map((w) => w.p!.proc.pid!);
        const peak = new Map<number, number>(pids.map((p) => [p, 0]));
        let sampling = true;
        const sampler = (async () => {
          while (sampling) {
            for (const pid of pids) peak.set(pid, Math.max(peak.get(pid)!, await rssOf(pid)));
            await new Promise((r) => setTimeout(r, 100));
          }
        })();
        const url = (key: string) => new URL(`${env.owner.endpoint}/${BUCKET}/${key}`);
        const ownerPid = env.owner.p!.proc.pid!;
        try {
          // All the PUTs at once, then all the GETs: the peak of each phase is reported.
          const puts = await loops(s.rssConnections, Infinity, (_, seq) => new Promise<number>((resolve, reject) => {
            const req = http.request(url(keys[seq]!), { method: 'PUT', agent, headers: { 'content-length': s.rssObject } }, (res) => {
              res.resume();
              res.on('end', () => (res.statusCode === 200 ? resolve(s.rssObject) : reject(new Error(`PUT answered ${res.statusCode}`))));
            });
            req.on('error', reject);
            repeated(chunk, s.rssObject).pipe(req);
          }), s.rssConnections);
          const putPeak = peak.get(ownerPid)!;
          for (const pid of pids) peak.set(pid, 0);
          const gets = await loops(s.rssConnections, Infinity, (_, seq) => new Promise<number>((resolve, reject) => {
            http.get(url(keys[seq]!), { agent }, (res) => {
              let n = 0;
              res.on('data', (c: Buffer) => { n += c.length; });
              res.on('end', () => (res.statusCode === 200 && n === s.rssObject ? resolve(n) : reject(new Error(`GET answered ${res.statusCode} with ${n} bytes`))));
              res.on('error', reject);
            }).on('error', reject);
          }), s.rssConnections);
          const getPeak = peak.get(ownerPid)!;
          const seconds = puts.seconds + gets.seconds;
          const m = summarize([], 2 * s.rssConnections * s.rssObject, seconds, puts.errors + gets.errors);
          return { ...m, ops: puts.ops + gets.ops, opsPerSec: (puts.ops + gets.ops) / seconds, p50: NaN, p99: NaN, extra: { maxRssMB: Math.max(putPeak, getPeak) / 1e6, putRssMB: putPeak / 1e6, getRssMB: getPeak / 1e6, putMBps: puts.mbPerSec, getMBps: gets.mbPerSec } };
        } finally {
          sampling = false;
          await sampler;
          agent.destroy();
        }
      },
    }],
  };

  return [
    getWorkload('get-4k-c16', s.small, 16),
    getWorkload('get-4k-c64', s.small, 64),
    getWorkload('get-1m-c16', s.medium, 16),
    getWorkload('get-64m-c4', s.large, 4),
    coldGet,
    putWorkload('10k', 10 * 1024, 1, 'WRITE_THROUGH'),
    putWorkload('10k', 10 * 1024, 1, 'WRITE_BACK'),
    putWorkload('10k', 10 * 1024, 16, 'WRITE_THROUGH'),
    putWorkload('10k', 10 * 1024, 16, 'WRITE_BACK'),
    // Four objects per run: WRITE_BACK pins unpersisted bytes (capped at 30% of the cache).
    putWorkload('64m', s.putLarge, 1, 'WRITE_THROUGH', 4),
    putWorkload('64m', s.putLarge, 1, 'WRITE_BACK', 4),
    readAfterWrite,
    ...([['local', WB_BUCKET, 'a local'], ['s3', WB_S3_BUCKET, 'an S3 (moto)']] as const).map(([id, bucket, ufs]): Workload => ({
      id: `persist-${id}`,
      title: `async persistence to ${ufs} UFS: ${s.persistObjects} WRITE_BACK objects of 10 KiB on one worker, objects/s persisted (the backlog left after the writes at 16 conns, drained)`,
      metric: 'ops',
      settle: drainPersistence,
      targets: [persistence(bucket, 'ours')],
    })),
    listing,
    multipart,
    proxied,
    rss,
  ];
}
