/**
 * Wiring of the coordinator's operations (load jobs, fs free, decommission): one owner for the
 * job manager, the worker clients and the decommission timer, closed together.
 */
import path from 'node:path';
import type { Config } from '../../common/config/config.js';
import type { Logger } from '../../common/log.js';
import type { Metastore } from '../../common/metastore/types.js';
import type { ClusterState } from '../cluster-state.js';
import type { Membership } from '../membership.js';
import { Decommissioner } from './decommission.js';
import { freePath } from './free.js';
import { JobStore } from './job-store.js';
import { JobManager } from './jobs.js';
import { operationsServiceImpl } from './operations-service.js';
import { WorkerPeers } from './worker-peers.js';
import { grpcTls } from '../../proto/tls.js';
import type { grpc } from '../../proto/index.js';

export interface Operations {
  readonly jobs: JobManager;
  readonly service: grpc.UntypedServiceImplementation;
  close(): Promise<void>;
}

export async function startOperations(o: { config: Config; state: ClusterState; membership: Membership; metastore: Metastore; stateDir: string; log: Logger }): Promise<Operations> {
  const peers = new WorkerPeers(grpcTls(o.config).channel());
  const store = new JobStore(o.stateDir, o.log.child({ component: 'job-store' }));
  const jobs = await JobManager.open(store, {
    state: o.state,
    config: o.config,
    stagingDir: path.join(o.stateDir, 'staging'),
    peers,
    batchSize: Math.max(1, o.config.int('alluxio.job.batch.size')),
    batchesPerWorker: Math.max(1, o.config.int('alluxio.job.load.batches.per.worker')),
    log: o.log.child({ component: 'load-job' }),
  }, o.log.child({ component: 'jobs' }));
  const decommissioner = new Decommissioner(o.state, o.membership, o.metastore, o.config.durationMs('alluxio.coordinator.decommission.check.interval'), o.log.child({ component: 'decommission' }));
  decommissioner.start();
  const service = operationsServiceImpl({
    jobs,
    free: (p) => freePath({ state: o.state, metastore: o.metastore, peers, log: o.log.child({ component: 'free' }) }, p),
    decommissioner,
  }, o.log.child({ component: 'grpc' }));
  return {
    jobs,
    service,
    close: async () => {
      decommissioner.close();
      await jobs.close();
      peers.close();
    },
  };
}

export { OperationsService } from '../../proto/index.js';
