/**
 * Entry point of the coordinator: wires the state, membership, mount table and watch hub to
 * the gRPC and HTTP servers, and owns every long-lived resource so `close()` can stop them.
 * The CLI calls startCoordinator and handles signals; nothing here exits the process.
 */
import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Config } from '../common/config/config.js';
import type { Logger } from '../common/log.js';
import { CoordinatorService, PathConfigService, grpc } from '../proto/index.js';
import { grpcTls } from '../proto/tls.js';
import { loadClusterSecret } from './cluster-secret.js';
import { ClusterState } from './cluster-state.js';
import { coordinatorServiceImpl, pathConfigServiceImpl } from './grpc-service.js';
import { PathConfigStore } from './path-config-store.js';
import { persistenceSummary } from './persistence-view.js';
import { allEntries } from '../common/metastore/write-entries.js';
import { CoordinatorMetrics } from './metrics.js';
import { StatusView } from './status.js';
import { statusRoutes } from './status-routes.js';
import { METASTORE_GRPC_SERVER_OPTIONS, MetastoreService, metastoreService, openMetastore } from './metastore/index.js';
import { BucketMetadata } from './bucket-metadata.js';
import { BucketPermissions } from './bucket-permissions.js';
import { bucketLookup } from './bucket-lookup.js';
import { Membership } from './membership.js';
import { MountTable, rootMountFromConfig } from './mount-table.js';
import { createRestApi } from './rest-api.js';
import { StateStore } from './state-store.js';
import { WatchHub } from './watch-hub.js';
import { OperationsService, startOperations } from './jobs/index.js';

export interface CoordinatorHandle {
  /** The bound gRPC port (the configured one, or the one the OS chose for port 0). */
  readonly rpcPort: number;
  /** The bound HTTP port. */
  readonly webPort: number;
  /** Stops timers, ends watch streams and shuts both servers; safe to call twice. */
  close(): Promise<void>;
}

// Long enough for an in-flight AddMount to answer, short enough for a prompt SIGTERM.
const GRPC_SHUTDOWN_GRACE_MS = 2_000;

/** The directory holding state.json and the probe staging area. */
export function coordinatorStateDir(config: Config): string {
  return config.path('alluxio.coordinator.data.dir', () => path.join(config.dataDir(), 'coordinator'));
}

function grpcAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

function bindGrpc(server: grpc.Server, address: string, credentials: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (err, port) => {
      if (err) reject(new Error(`cannot bind the coordinator gRPC port at ${address}: ${err.message}`, { cause: err }));
      else resolve(port);
    });
  });
}

function shutdownGrpc(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, GRPC_SHUTDOWN_GRACE_MS);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

function listenHttp(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(new Error(`cannot bind the coordinator HTTP port at ${host}:${port}: ${err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeHttp(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    // Keep-alive connections would otherwise hold close() open until they time out.
    server.closeAllConnections();
  });
}

export async function startCoordinator(config: Config, rootLog: Logger): Promise<CoordinatorHandle> {
  const log = rootLog.child({ component: 'coordinator' });
  const host = config.string('alluxio.coordinator.hostname');
  const stateDir = coordinatorStateDir(config);
  const stagingDir = path.join(stateDir, 'staging');

  // Closers run in reverse order, on close() or when start fails half-way.
  const closers: Array<() => Promise<void> | void> = [];
  const runClosers = async (): Promise<void> => {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        log.warn({ err }, 'error while shutting down');
      }
    }
  };

  try {
    const store = new StateStore(stateDir, rootLog.child({ component: 'state-store' }));
    const root = await rootMountFromConfig(config);
    const state = await ClusterState.open(store, root, rootLog.child({ component: 'cluster-state' }), { writeCacheEnabled: config.bool('alluxio.write.cache.enabled') });
    const pathConfig = new PathConfigStore(state, rootLog.child({ component: 'path-config' }));
    closers.push(() => state.flush());
    await mkdir(stagingDir, { recursive: true });

    const membership = new Membership(
      state,
      {
        heartbeatIntervalMs: config.durationMs('alluxio.worker.master.heartbeat.interval'),
        workerTimeoutMs: config.durationMs('alluxio.coordinator.worker.timeout'),
        detectionIntervalMs: config.durationMs('alluxio.coordinator.lost.worker.detection.interval'),
      },
      rootLog.child({ component: 'membership' }),
    );
    const mounts = new MountTable(state, { config, stagingDir }, rootLog.child({ component: 'mount-table' }));
    const watch = new WatchHub(state, config.durationMs('alluxio.coordinator.membership.batch.window'), rootLog.child({ component: 'watch' }));

    // Keepalive pings find watchers whose host vanished without closing the connection,
    // so their streams are removed instead of buffering snapshots forever.
    // The write cache's metastore: embedded SQLite in the state dir, or FoundationDB when
    // alluxio.foundationdb.cluster.file.path names a cluster file; served to workers over gRPC.
    const metastore = await openMetastore(config, stateDir, rootLog.child({ component: 'metastore' }));
    closers.push(() => metastore.close());

    // Load jobs, fs free and decommission; RUNNING jobs resume here.
    const operations = await startOperations({ config, state, membership, metastore, stateDir, log: rootLog.child({ component: 'operations' }) });
    closers.push(() => operations.close());

    const metrics = new CoordinatorMetrics();
    const status = new StatusView({ state, membership, mounts, pathConfig, entries: () => allEntries(metastore) });
    metrics.readFrom(() => status.status());

    const grpcServer = new grpc.Server({ ...METASTORE_GRPC_SERVER_OPTIONS, 'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms': 10_000 });
    const permissions = new BucketPermissions(state, { bucketExists: bucketLookup(state, config, stagingDir) }, rootLog.child({ component: 'bucket-permissions' }));
    grpcServer.addService(CoordinatorService.service, metrics.instrument('Coordinator', CoordinatorService.service, coordinatorServiceImpl({ membership, mounts, watch, buckets: new BucketMetadata(state), permissions, clusterSecret: await loadClusterSecret(config, stateDir) }, rootLog.child({ component: 'grpc' }))));
    grpcServer.addService(PathConfigService.service, metrics.instrument('PathConfig', PathConfigService.service, pathConfigServiceImpl(pathConfig, rootLog.child({ component: 'grpc' }))));
    const metastoreRpc = metastoreService(metastore, rootLog.child({ component: 'metastore-grpc' }), (method, code, seconds) => metrics.observeCall('Metastore', method, code, seconds));
    grpcServer.addService(MetastoreService.service, metrics.instrument('Metastore', MetastoreService.service, metastoreRpc.implementation));
    grpcServer.addService(OperationsService.service, metrics.instrument('Operations', OperationsService.service, operations.service));
    const rpcPort = await bindGrpc(grpcServer, grpcAddress(host, config.int('alluxio.coordinator.rpc.port')), grpcTls(config).server());
    closers.push(() => shutdownGrpc(grpcServer));
    // Closers run in reverse: streams end before the gRPC server shuts down, or tryShutdown would wait on them.
    closers.push(() => watch.close());
    closers.push(() => permissions.close());
    closers.push(async () => metastoreRpc.close());

    const httpServer = http.createServer(createRestApi({ state, membership, mounts, pathConfig, permissions, persistence: () => persistenceSummary(metastore), extraRoutes: statusRoutes(status, metrics), jobs: operations.jobs }, rootLog.child({ component: 'rest' })));
    closers.push(() => closeHttp(httpServer));
    const webPort = await listenHttp(httpServer, host, config.int('alluxio.coordinator.web.port'));

    membership.start();
    closers.push(() => membership.close());

    log.info({ host, rpc_port: rpcPort, web_port: webPort, state_dir: stateDir, version: state.clusterVersion, mount: root }, 'coordinator started');

    let closing: Promise<void> | undefined;
    return {
      rpcPort,
      webPort,
      close: () => {
        closing ??= (async () => {
          log.info('coordinator stopping');
          await runClosers();
          log.info('coordinator stopped');
        })();
        return closing;
      },
    };
  } catch (err) {
    await runClosers();
    throw err;
  }
}
