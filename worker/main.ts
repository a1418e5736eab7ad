/**
 * Worker process wiring: page store, mounts, object layer, the S3 server, the peer gRPC
 * server and the coordinator link. startWorker() owns everything it starts; close() first leaves
 * the ring and drains the S3 server (graceful-stop.ts), then stops the rest in reverse order.
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
import { SimpleAuthenticator, type Authenticator } from './s3/auth.js';
import { s3CredentialsFile } from '../common/credentials-file.js';
import { CredentialStore } from './s3/credentials.js';
import { SignatureAuthenticator } from './s3/signature-auth.js';
import { OidcAuthenticator, oidcOptionsFrom } from './s3/oidc.js';
import { Authorizer, type AuthMode } from './s3/authz.js';
import { PermissionsWatch } from './cluster/permissions-watch.js';
import { RemoteMetastore } from './cluster/metastore-client.js';
import { LocalWriteStore } from './writecache/local-store.js';
import { ReplicaClient, newReplicationCounters, replicaHandlers } from './writecache/replication.js';
import { WriteCache } from './writecache/write-cache.js';
import { WorkerMetrics } from './metrics.js';
import { WorkerWebServer } from './web-server.js';
import { grpcTls } from '../proto/tls.js';
import { PeerAuth, PeerHttp } from './cluster/peer-http.js';
import { httpsFiles } from './s3/tls-files.js';
import { jobHandlers } from './jobs/job-handlers.js';
import { leaveAndDrain } from './graceful-stop.js';

export const WORKER_VERSION = '0.1.0';

export interface WorkerHandle {
  readonly id: string;
  readonly s3Port: number;
  readonly rpcPort: number;
  /** /metrics and /health. */
  readonly webPort: number;
  /** 0 when HTTPS is not configured. */
  readonly httpsPort: number;
  readonly cacheDir: string;
  /** Resolves when the coordinator has completed this worker's decommission (the CLI then stops it). */
  readonly decommissioned: Promise<void>;
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
    const metrics = new WorkerMetrics({ worker: id });
    const pageSize = config.bytes('alluxio.worker.page.store.page.size');
    const pages = await PageStore.open({ dir: cacheDir, capacityBytes: config.bytes('alluxio.worker.page.store.sizes'), pageSize, memoryBytes: config.bytes('alluxio.worker.page.store.memory.size'), log: log.child({ component: 'page-store' }) });
    closers.push(() => pages.close());

    // Staged uploads belong to requests of an earlier run of this worker: none is in flight now.
    const stagingDir = path.join(cacheDir, 'staging');
    await fs.rm(stagingDir, { recursive: true, force: true });
    const mounts = new MountTable(config, stagingDir, log.child({ component: 'mounts' }), metrics.ufs);
    closers.push(() => mounts.close());
    // The write cache: its metastore is the coordinator's (gRPC); it acts only while the
    // coordinator says the write cache is enabled.
    const coordinatorAddress = `${config.string('alluxio.coordinator.hostname')}:${config.int('alluxio.coordinator.rpc.port')}`;
    const tls = grpcTls(config);
    const metastore = new RemoteMetastore(coordinatorAddress, { credentials: tls.channel() });
    closers.push(() => metastore.close());
    const local = await LocalWriteStore.open(cacheDir, Math.floor(config.bytes('alluxio.worker.page.store.sizes') * config.double('alluxio.worker.page.store.pinned.file.capacity.limit.ratio')));
    const replication = newReplicationCounters();
    const replicas = new ReplicaClient(replication, tls.channel());
    const https = httpsFiles(config);
    const peers = new PeerHttp({ auth: new PeerAuth(id, config.string('alluxio.security.cluster.secret') || undefined), https: https !== undefined, ca: https?.peerCa });
    closers.push(() => peers.close());
    closers.push(() => replicas.close());
    const view = new ClusterView();
    const writeCache = new WriteCache({
      selfId: id,
      view,
      metastore,
      local,
      replicas,
      peers,
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

    const peerServer = new PeerServer(() => ({ id, cluster_version: view.version }), {
      ...replicaHandlers(local, replication),
      ...jobHandlers({ selfId: id, view, objects, pages, concurrency: config.int('alluxio.worker.job.load.concurrency'), log: log.child({ component: 'jobs' }) }),
    }, tls.server());
    const hostname = config.string('alluxio.worker.hostname');
    const rpcPort = await peerServer.listen(hostname, config.int('alluxio.worker.rpc.port'));
    closers.push(() => peerServer.close());
    const peerHealth = new PeerHealth(id, undefined, undefined, tls.channel());
    closers.push(() => peerHealth.close());

    let markDecommissioned!: () => void;
    const decommissioned = new Promise<void>((resolve) => { markDecommissioned = resolve; });
    // Bucket tags live in the coordinator; the client exists once registration starts below.
    let coordinator: CoordinatorClient | undefined;
    const viaCoordinator = () => {
      if (!coordinator) throw new Error('the coordinator link is not up yet');
      return coordinator;
    };
    const virtualHostDomains = config.string('alluxio.worker.s3.virtual.host.domains').split(',').map((d) => d.trim()).filter(Boolean);
    // Authentication by mode; authorization (SIGV4, OIDC) against grants the coordinator pushes.
    const authMode = config.string('alluxio.worker.s3.authentication') as AuthMode;
    let authenticator: Authenticator;
    switch (authMode) {
      case 'OIDC':
        authenticator = await OidcAuthenticator.create(oidcOptionsFrom(config), log.child({ component: 'oidc' }));
        break;
      case 'SIGV4': {
        const credentials = new CredentialStore(s3CredentialsFile(config), config.durationMs('alluxio.worker.s3.credentials.reload.interval'), log.child({ component: 'credentials' }));
        await credentials.start();
        closers.push(() => credentials.close());
        authenticator = new SignatureAuthenticator({ credentials, region: config.string('alluxio.worker.s3.region'), virtualHostDomains });
        break;
      }
      default:
        authenticator = new SimpleAuthenticator();
    }
    const permissions = new PermissionsWatch(coordinatorAddress, id, log.child({ component: 'permissions' }), tls.channel());
    closers.push(() => permissions.close());
    permissions.start();
    const access = new Authorizer(authMode, config.string('alluxio.security.admin.users').split(','), permissions);
    const s3 = new S3Server({
      selfId: id,
      view,
      authenticator,
      writeCache,
      virtualHostDomains,
      services: {
        objects,
        multipart,
        bucketTags: {
          get: (b) => viaCoordinator().getBucketTags(b),
          put: (b, tags) => viaCoordinator().putBucketTags(b, tags),
          delete: (b) => viaCoordinator().deleteBucketTags(b),
        },
        access,
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
      peers,
      https: https && { cert: https.cert, key: https.key },
      onlyHttps: config.bool('alluxio.worker.s3.only.https.access'),
      bodyIdleTimeoutMs: config.durationMs('alluxio.worker.s3.request.body.idle.timeout'),
      headersTimeoutMs: config.durationMs('alluxio.worker.s3.request.headers.timeout'),
      log: log.child({ component: 's3' }),
      metrics: metrics.s3,
    });
    // A fixed port opens only once this worker has the ring and the mount table (below), so a
    // load balancer or a peer never reaches it before it can serve; port 0 must be bound now
    // to be known.
    const configuredS3Port = config.int('alluxio.worker.s3.port');
    const s3Port = configuredS3Port === 0 ? await s3.listen(hostname, 0) : configuredS3Port;
    const configuredHttpsPort = config.int('alluxio.worker.s3.https.port');
    const httpsPort = !https ? 0 : configuredHttpsPort === 0 ? await s3.listenHttps(hostname, 0) : configuredHttpsPort;
    closers.push(() => s3.close());

    metrics.readFrom({
      cache: () => objects.reader.counters,
      evictions: () => pages.evictions,
      pageStore: () => pages.usage(),
      ufs: () => mounts.counters,
      pinned: () => local.usage(),
      replication: () => replication,
      cluster: () => ({ version: view.version, membersUp: view.members.size, pathConfigVersion: view.pathConfig?.version ?? 0, writeCacheEnabled: view.writeCacheEnabled }),
      persistCounters: () => writeCache.persistCounters(),
      // An unreachable metastore leaves the queue gauges at 0 rather than failing the scrape.
      persistQueue: () => (writeCache.enabled ? writeCache.stats().catch(() => undefined) : Promise.resolve(undefined)),
    });
    const web = new WorkerWebServer({
      metrics,
      health: () => ({ id, ready: mounts.ready, version: view.version, membersUp: view.members.size }),
      log: log.child({ component: 'web' }),
    });
    const webPort = await web.listen(hostname, config.int('alluxio.worker.web.port'));
    closers.push(() => web.close());

    coordinator = new CoordinatorClient({
      address: `${config.string('alluxio.coordinator.hostname')}:${config.int('alluxio.coordinator.rpc.port')}`,
      credentials: tls.channel(),
      onClusterSecret: (secret) => {
        if (config.string('alluxio.security.cluster.secret') === '') peers.auth.setSecret(secret);
      },
      registration: () => ({
        id,
        address: { host: hostname, s3_port: s3Port, rpc_port: rpcPort, https_port: httpsPort, web_port: webPort },
        cache: { used_bytes: pages.usage().usedBytes, capacity_bytes: pages.usage().capacityBytes, pages: pages.usage().pages },
        version: WORKER_VERSION,
      }),
      cacheUsage: () => ({ used_bytes: pages.usage().usedBytes, capacity_bytes: pages.usage().capacityBytes, pages: pages.usage().pages }),
      view,
      log: log.child({ component: 'coordinator-client' }),
      onDecommissioned: () => markDecommissioned(),
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
      const settled = () => mounts.ready && view.members.has(id);
      if (settled()) return resolve();
      const timer = setTimeout(resolve, 10_000);
      view.on('change', () => { if (settled()) { clearTimeout(timer); resolve(); } });
    });
    if (configuredS3Port !== 0) await s3.listen(hostname, configuredS3Port);
    if (https && configuredHttpsPort !== 0) await s3.listenHttps(hostname, configuredHttpsPort);
    // Runs first on close (closers run in reverse): leave the ring and drain before anything stops.
    closers.push(() => leaveAndDrain({
      selfId: id,
      view,
      link,
      s3,
      ringWaitMs: config.durationMs('alluxio.worker.shutdown.ring.wait.timeout'),
      drain: { idleGraceMs: config.durationMs('alluxio.worker.s3.shutdown.idle.grace'), timeoutMs: config.durationMs('alluxio.worker.s3.shutdown.drain.timeout') },
      log: log.child({ component: 'graceful-stop' }),
    }));
    if (access.enforcing) await permissions.whenReady(10_000);
    log.info({ s3_port: s3Port, https_port: httpsPort, rpc_port: rpcPort, web_port: webPort, grpc_tls: tls.enabled, cache_dir: cacheDir, authentication: authMode }, 'worker started');
    return { id, s3Port, rpcPort, httpsPort, webPort, cacheDir, decommissioned, close };
  } catch (err) {
    await close();
    throw err;
  }
}
