/**
 * Everything a workload runs against, started once per benchmark run and closed at the end:
 * our cluster on its embedded defaults (3 workers, local UFS, embedded metastore) with the
 * write cache switched on, the peers, the S3 mounts on moto and the path policies.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { Ring, objectPathKey } from '../common/ring.js';
import { runCli, startCluster, type TestCluster, type TestWorker } from '../tests/helpers/cluster.js';
import { sdkClient, Wrk, type S3Target } from './load.js';
import { startPeers, type Peers } from './peers.js';

export interface BenchOptions {
  smoke: boolean;
  runs: number;
  /** Seconds each timed measurement runs. */
  duration: number;
  only?: string[];
  /** Directory for the workers' CPU profiles (node --cpu-prof); none when undefined. */
  cpuProf?: string;
}

/** Sizes of every workload: full, or tiny for --smoke. */
export interface Sizes {
  small: number;
  medium: number;
  large: number;
  putLarge: number;
  multipart: number;
  multipartPart: number;
  coldObject: number;
  coldObjects: number;
  listKeys: number;
  persistObjects: number;
  rssObject: number;
  rssConnections: number;
}

export function sizesFor(smoke: boolean): Sizes {
  const MiB = 1024 * 1024;
  return smoke
    ? { small: 4096, medium: MiB, large: 2 * MiB, putLarge: 2 * MiB, multipart: 12 * MiB, multipartPart: 5 * MiB, coldObject: MiB, coldObjects: 2, listKeys: 2500, persistObjects: 40, rssObject: 2 * MiB, rssConnections: 8 }
    : { small: 4096, medium: MiB, large: 64 * MiB, putLarge: 64 * MiB, multipart: 1024 * MiB, multipartPart: 16 * MiB, coldObject: 8 * MiB, coldObjects: 10, listKeys: 100_000, persistObjects: 1000, rssObject: 512 * MiB, rssConnections: 8 };
}

export const BUCKET = 'bench';
/** WRITE_BACK on the local UFS. */
export const WB_BUCKET = 'benchwb';
/** An S3 mount on moto, WRITE_THROUGH: cold reads through the cache. */
export const COLD_BUCKET = 'benchcold';
/** An S3 mount on moto, WRITE_BACK: persistence to an S3 UFS. */
export const WB_S3_BUCKET = 'benchwbs3';
export const LIST_BUCKET = 'benchlist';

export class BenchEnv {
  readonly sizes: Sizes;
  readonly wrk: Wrk;
  cluster!: TestCluster;
  peers!: Peers;
  private readonly keyCache = new Map<string, string[]>();
  private readonly clients: S3Client[] = [];
  private readonly runClients: S3Client[] = [];

  constructor(readonly opts: BenchOptions, readonly tmp: string, readonly say: (line: string) => void) {
    this.sizes = sizesFor(opts.smoke);
    this.wrk = new Wrk(tmp);
  }

  /** worker-0: every "ours" request goes to the worker that owns its key, as a ring-aware client or a hashing load balancer would send it. */
  get owner(): TestWorker {
    return this.cluster.workers[0]!;
  }

  get nonOwner(): TestWorker {
    return this.cluster.workers[1]!;
  }

  ours(worker: TestWorker = this.owner): S3Target {
    return { endpoint: worker.endpoint, accessKeyId: 'bench', secretAccessKey: 'bench' };
  }

  /** An SDK client closed with the environment. */
  client(t: S3Target, connections: number): S3Client {
    const c = sdkClient(t, connections);
    this.clients.push(c);
    return c;
  }

  /** A client for one measurement: closed (its sockets too) when the next run starts or at close. */
  runClient(t: S3Target, connections: number): S3Client {
    for (const c of this.runClients.splice(0)) c.destroy();
    const c = sdkClient(t, connections);
    this.runClients.push(c);
    return c;
  }

  /** `n` keys under `prefix` in `bucket` that the owner (worker-0) owns; the same names are used on every peer. */
  keys(bucket: string, prefix: string, n: number): string[] {
    const id = `${bucket}\0${prefix}`;
    const have = this.keyCache.get(id) ?? [];
    if (have.length >= n) return have.slice(0, n);
    const ring = new Ring(this.cluster.workers.map((w) => w.id));
    for (let i = have.length === 0 ? 0 : Number(have[have.length - 1]!.slice(prefix.length)) + 1; have.length < n; i++) {
      const key = `${prefix}${i}`;
      if (ring.owner(objectPathKey(bucket, key)) === this.owner.id) have.push(key);
    }
    this.keyCache.set(id, have);
    return have.slice(0, n);
  }

  async start(): Promise<void> {
    this.say('starting the peers: nginx (static, proxy_cache → s3rver), s3rver, moto');
    this.peers = await startPeers(this.tmp);
    this.say('starting our cluster: a coordinator and 3 workers, embedded defaults, write cache on');
    this.cluster = await startCluster({
      workers: 3,
      dataDir: path.join(this.tmp, 'cluster'),
      conf: { 'alluxio.write.cache.enabled': 'true' },
      workerNodeArgs: this.opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${this.opts.cpuProf}`] : undefined,
      coordinatorNodeArgs: this.opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${this.opts.cpuProf}`] : undefined,
    });
    const cli = async (args: string[]) => {
      const r = await runCli(args, { conf: this.cluster.cliConf() });
      if (r.code !== 0) throw new Error(`alluxio ${args.join(' ')} failed: ${r.stderr.trim()}`);
    };
    const moto = this.peers.moto;
    const motoClient = this.client(moto, 4);
    for (const b of [BUCKET, COLD_BUCKET, WB_S3_BUCKET, LIST_BUCKET]) await motoClient.send(new CreateBucketCommand({ Bucket: b }));
    for (const b of [COLD_BUCKET, WB_S3_BUCKET]) {
      await cli(['mount', 'add', `/${b}`, `s3://${b}`, '--option', `aws.accessKeyId=${moto.accessKeyId}`, '--option', `aws.secretKey=${moto.secretAccessKey}`,
        '--option', `alluxio.underfs.s3.endpoint=${moto.endpoint}`, '--option', 'alluxio.underfs.s3.disable.dns.buckets=true']);
    }
    const s3rverClient = this.client(this.peers.s3rver, 4);
    await s3rverClient.send(new CreateBucketCommand({ Bucket: LIST_BUCKET }));
    const ours = this.client(this.ours(), 4);
    for (const b of [BUCKET, WB_BUCKET, LIST_BUCKET]) await ours.send(new CreateBucketCommand({ Bucket: b }));
    for (const b of [WB_BUCKET, WB_S3_BUCKET]) await cli(['pathconfig', 'set', `/${b}`, '--policy', 'WRITE_BACK']);
    await this.cluster.waitSettled();
  }

  /** The local directory of the root UFS (bucket b is the folder <ufsRoot>/b). */
  get ufsRoot(): string {
    return this.cluster.ufsRoot;
  }

  async close(): Promise<void> {
    for (const c of [...this.clients, ...this.runClients]) c.destroy();
    await this.cluster?.close();
    await this.peers?.close();
  }

  async writeStatic(bucket: string, key: string, body: Buffer): Promise<void> {
    const file = path.join(this.peers.staticDir, bucket, key);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, body);
  }
}
