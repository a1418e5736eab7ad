/**
 * The Operations gRPC service: load jobs, fs free and worker decommission, each handed to its
 * module; CoordinatorError becomes a gRPC status as in the Coordinator service.
 */
import type { Logger } from '../../common/log.js';
import type { DecommissionStatus, Empty, FreeResponse, JobInfo, JobListResponse } from '../../proto/index.js';
import { grpc } from '../../proto/index.js';
import { toStatus } from '../grpc-service.js';
import { unaryHandler } from '../grpc-unary.js';
import type { Decommissioner } from './decommission.js';
import type { JobManager } from './jobs.js';

export interface OperationsDeps {
  jobs: JobManager;
  free: (path: string) => Promise<FreeResponse>;
  decommissioner: Decommissioner;
}

export function operationsServiceImpl(deps: OperationsDeps, log: Logger): grpc.UntypedServiceImplementation {
  const handler = <Req, Res>(method: string, fn: (req: Req) => Promise<Res> | Res) => unaryHandler<Req, Res>(method, (err, m) => toStatus(err, m, log), fn);
  return {
    LoadStart: handler<{ path: string; resume_only: boolean }, JobInfo>('LoadStart', (req) => deps.jobs.load(req.path, req.resume_only === true)),
    JobStop: handler<{ id: string; path: string }, JobInfo>('JobStop', (req) => deps.jobs.stop(req)),
    JobGet: handler<{ id: string; path: string }, JobInfo>('JobGet', (req) => deps.jobs.get(req)),
    JobList: handler<Empty, JobListResponse>('JobList', () => ({ jobs: deps.jobs.list() })),
    FreePath: handler<{ path: string }, FreeResponse>('FreePath', (req) => deps.free(req.path)),
    DecommissionWorker: handler<{ id: string }, DecommissionStatus>('DecommissionWorker', (req) => deps.decommissioner.decommission(req.id)),
    GetDecommission: handler<{ id: string }, DecommissionStatus>('GetDecommission', (req) => deps.decommissioner.status(req.id)),
  };
}
