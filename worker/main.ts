/**
 * Worker process wiring: page store, mounts, object layer, the S3 server, the peer gRPC
 * server and the coordinator link. startWorker() owns everything it starts; close() stops it
 * all in reverse order (leaving the ring first, so peers stop sending us requests).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Config } from '../common/config/config.js';
import type { Logger } from '../common/log.js';
import { PageStore } from './cache/page-store.js';
import { MountTable } from './objects/mount-table.js';
import { ObjectStore } from './objects/object-store.js';
import { MultipartStore } from './objects/multipart.js';
import { ClusterView } from './cluster/cluster-view.js';
import { CoordinatorClient } from './cluster/coordinator-client.js';
import { PeerHealth, PeerServer } from './cluster/peer-service.js';
import { S3Server } from './s3/server.js';
import { SimpleAuthenticator } from './s3/auth.js';
import { RemoteMetastore } from './cluster/metastore-client.js';
import { LocalWriteStore } from './writecache/local-store.js';
import { ReplicaClient, replicaHandlers } from './writecache/replication.js';
import { WriteCache } from './writecache/write-cache.js';

export const WORKER_VERSION = '0.1.0';

export interface WorkerHandle {
  readonly id: string;
  readonly s3Port: number;
  readonly rpcPort: number;
  readonly cacheDir: string;
  close(): Promise<void>;
}

/** The worker's cache directory: configured, or one per S3 port under the data dir. */
export function workerCacheDir(config: Config): string {
  return config.path('alluxio.worker.page.store.dirs', () => path.join(config.dataDir(), 'cache', `worker-${config.int('alluxio.worker.s3.port')}`));
}

/** A stable identity: configured, or generated once and kept beside the cache it names. */
async function workerId(config: Config, cacheDir: string): Promise<string> {
  const configured = config.string('alluxio.worker.id');
  if (configured !== '') {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(configured)) throw new Error(`alluxio.worker.id must be 1-64 of [A-Za-z0-9_-], got "${configured}"`);
    return configured;
  }
  const file = path.join(cacheDir, 'worker.id');
  try {
    const id = (await fs.readFile(file, 'utf8')).trim();
    if (/^[A-Za-z0-9_-]{1,64}$/.test(id)) return id;
  } catch {
    // first start
  }
  const id = `worker-${randomBytes(6).toString('hex')}`;
  await fs.writeFile(file, `${id}\n`);
  return id;
}

export async function startWorker(config: Config, rootLog: Logger): Promise<WorkerHandle> {
  const cacheDir = workerCacheDir(config);
  await fs.mkdir(cacheDir, { recursive: true });
  const id = await workerId(config, cacheDir);
  const log = rootLog.child({ worker_id: id });
  const closers: (() => Promise<void> | void)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) {
      try {
        await c();
      } catch (err) {
        log.warn({ err }, 'error while shutting down');
      }
    }
    log.info('worker stopped');
  };

  try {
    const pageSize = config.bytes('alluxio.worker.page.store.page.size');
    const pages = await PageStore.open({ dir: cacheDir, capacityBytes: config.bytes('alluxio.worker.page.store.sizes'), pageSize, memoryBytes: config.bytes('alluxio.worker.page.store.memory.size'), log: log.child({ component: 'page-store' }) });
    closers.push(() => pages.close());

    // Staged uploads belong to requests of an earlier run of this worker: none is in flight now.
    const stagingDir = path.join(cacheDir, 'staging');
    await fs.rm(stagingDir, { recursive: true, force: true });
    const mounts = new MountTable(config, stagingDir, log.child({ component: 'mounts' }));
    closers.push(() => mounts.close());
    // The write cache: its metastore is the coordinator's (gRPC); it acts only while the
    // coordinator says the write cache is enabled.
    const coordinatorAddress = `${config.string('alluxio.coordinator.hostname')}:${config.int('alluxio.coordinator.rpc.port')}`;
    const metastore = new RemoteMetastore(coordinatorAddress);
    closers.push(() => metastore.close());
    const local = await LocalWriteStore.open(cacheDir, Math.floor(config.bytes('alluxio.worker.page.store.sizes') * config.double('alluxio.worker.page.store.pinned.file.capacity.limit.ratio')));
    const replicas = new ReplicaClient();
    closers.push(() => replicas.close());
    const view = new ClusterView();
    const writeCache = new WriteCache({
      selfId: id,
      view,
      metastore,
      local,
      replicas,
      resolveBucket: (bucket) => mounts.resolve(bucket),
      persistThreads: config.int('alluxio.write.cache.async.persist.thread.pool.size'),
      retryInitialMs: config.durationMs('alluxio.worker.write.cache.async.persist.retry.initial.interval'),
      retryMaxMs: config.durationMs('alluxio.worker.write.cache.async.persist.retry.max.interval'),
      orphanTimeoutMs: config.durationMs('alluxio.write.cache.async.check.orphan.timeout'),
      checkPeriodMs: config.durationMs('alluxio.write.cache.async.file.check.period'),
      danglingMs: config.durationMs('alluxio.worker.mark.writing.files.duration'),
      log: log.child({ component: 'write-cache' }),
    });
    const objects = new ObjectStore({
      writeCache,
      mounts,
      pages,
      pageSize,
      metadataSyncIntervalMs: config.durationMs('alluxio.user.file.metadata.sync.interval'),
      cacheOnWriteMaxBytes: 8 * 1024 * 1024,
      enforceBucketNamingRules: config.bool('alluxio.proxy.s3.bucket.naming.restrictions.enabled'),
      log: log.child({ component: 'objects' }),
    });
    const multipart = new MultipartStore(path.join(cacheDir, 'multipart'), id, objects, config.bytes('alluxio.proxy.s3.complete.multipart.upload.min.part.size'), writeCache);

    view.on('change', (c) => {
      if (c.mountsChanged) mounts.update([...view.mounts]);
      // Keys may have moved to us from a worker that saw writes we did not: look again.
      if (c.membersChanged || c.mountsChanged) objects.forgetMetadata();
    });

    const peerServer = new PeerServer(() => ({ id, cluster_version: view.version }), replicaHandlers(local));
    const hostname = config.string('alluxio.worker.hostname');
    const rpcPort = await peerServer.listen(hostname, config.int('alluxio.worker.rpc.port'));
    closers.push(() => peerServer.close());
    const peerHealth = new PeerHealth(id);
    closers.push(() => peerHealth.close());

    // Bucket tags live in the coordinator; the client exists once registration starts below.
    let coordinator: CoordinatorClient | undefined;
    const viaCoordinator = () => {
      if (!coordinator) throw new Error('the coordinator link is not up yet');
      return coordinator;
    };
    const s3 = new S3Server({
      selfId: id,
      view,
      authenticator: new SimpleAuthenticator(),
      writeCache,
      virtualHostDomains: config.string('alluxio.worker.s3.virtual.host.domains').split(',').map((d) => d.trim()).filter(Boolean),
      services: {
        objects,
        multipart,
        bucketTags: {
          get: (b) => viaCoordinator().getBucketTags(b),
          put: (b, tags) => viaCoordinator().putBucketTags(b, tags),
          delete: (b) => viaCoordinator().deleteBucketTags(b),
        },
        region: config.string('alluxio.worker.s3.region'),
        metadataMaxBytes: config.bytes('alluxio.worker.s3.header.metadata.max.size'),
        taggingRestrictions: config.bool('alluxio.worker.s3.tagging.restrictions.enabled'),
        completeKeepAlive: {
          enabled: config.bool('alluxio.proxy.s3.complete.multipart.upload.keepalive.enabled'),
          maxIntervalMs: config.durationMs('alluxio.proxy.s3.complete.multipart.upload.keepalive.time.interval'),
        },
      },
      ready: () => mounts.ready,
      stats: () => ({ ufs: mounts.counters, cache: { ...objects.reader.counters, ...pages.usage() } }),
      peerHealth,
      redirect: config.bool('alluxio.worker.s3.redirect.enabled'),
      redirectHealthCheck: config.bool('alluxio.worker.s3.redirect.health.check.enabled'),
      keepAlive: config.bool('alluxio.worker.s3.connection.keep.alive.enabled'),
      idleTimeoutMs: config.durationMs('alluxio.worker.s3.connection.idle.max.time'),
      accessLogging: config.bool('alluxio.worker.s3.access.logging.enabled'),
      proxyConnectTimeoutMs: config.durationMs('alluxio.worker.s3.proxy.timeout'),
      log: log.child({ component: 's3' }),
    });
    const s3Port = await s3.listen(hostname, config.int('alluxio.worker.s3.port'));
    closers.push(() => s3.close());

    coordinator = new CoordinatorClient({
      address: `${config.string('alluxio.coordinator.hostname')}:${config.int('alluxio.coordinator.rpc.port')}`,
      registration: () => ({
        id,
        address: { host: hostname, s3_port: s3Port, rpc_port: rpcPort, https_port: config.int('alluxio.worker.s3.https.port') },
        cache: { used_bytes: pages.usage().usedBytes, capacity_bytes: pages.usage().capacityBytes, pages: pages.usage().pages },
        version: WORKER_VERSION,
      }),
      cacheUsage: () => ({ used_bytes: pages.usage().usedBytes, capacity_bytes: pages.usage().capacityBytes, pages: pages.usage().pages }),
      view,
      log: log.child({ component: 'coordinator-client' }),
    });
    // Closed first of all (closers run in reverse): leave the ring before the servers go.
    const link = coordinator;
    closers.push(() => link.close());
    await link.start();
    writeCache.start();
    closers.push(() => writeCache.stop());
    if (config.bool('alluxio.proxy.s3.multipart.upload.cleaner.enabled')) {
      multipart.startCleaner({
        timeoutMs: config.durationMs('alluxio.proxy.s3.multipart.upload.cleaner.timeout'),
        retryCount: config.int('alluxio.proxy.s3.multipart.upload.cleaner.retry.count'),
        retryDelayMs: config.durationMs('alluxio.proxy.s3.multipart.upload.cleaner.retry.delay'),
        log: log.child({ component: 'multipart-cleaner' }),
      });
      closers.push(() => multipart.stopCleaner());
    }
    await new Promise<void>((resolve) => {
      if (mounts.ready) return resolve();
      const timer = setTimeout(resolve, 10_000);
      view.on('change', () => { if (mounts.ready) { clearTimeout(timer); resolve(); } });
    });
    log.info({ s3_port: s3Port, rpc_port: rpcPort, cache_dir: cacheDir }, 'worker started');
    return { id, s3Port, rpcPort, cacheDir, close };
  } catch (err) {
    await close();
    throw err;
  }
}
