/**
 * The Coordinator gRPC service (and the PathConfig service beside it): decodes each call, hands it to membership, the mount table or
 * the watch hub, and translates CoordinatorError into a gRPC status. The only coordinator
 * module besides main.ts that touches grpc-js.
 */
import { unaryHandler as unary } from './grpc-unary.js';
import type { Logger } from '../common/log.js';
import {
  CoordinatorService,
  PathConfigService,
  grpc,
  type ClusterSnapshot,
  type Empty,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type ListMountsResponse,
  type ListWorkersResponse,
  type MountInfo,
  type PathConfigDocument,
  type RegisterWorkerRequest,
  type ResolvedPolicy,
  type RegisterWorkerResponse,
} from '../proto/index.js';
import { CoordinatorError } from './errors.js';
import type { Membership } from './membership.js';
import type { MountTable } from './mount-table.js';
import type { WatchHub } from './watch-hub.js';
import type { BucketMetadata } from './bucket-metadata.js';
import type { BucketRequest, BucketTagging } from '../proto/index.js';
import type { PathConfigStore } from './path-config-store.js';
import type { BucketPermissions } from './bucket-permissions.js';
import type { BucketGrantRequest, BucketPermissions as BucketPermissionsMessage, BucketPermissionsSnapshot, SetBucketOwnerRequest } from '../proto/index.js';

// proto3 leaves an absent message field null: AddMount without a mount is refused by the table.
interface AddMountRequest {
  mount: MountInfo | null;
}

export interface CoordinatorServiceDeps {
  membership: Membership;
  mounts: MountTable;
  watch: WatchHub;
  buckets: BucketMetadata;
  permissions: BucketPermissions;
  /** Handed to each worker as it registers (peer authentication, coordinator/cluster-secret.ts). */
  clusterSecret?: string;
}

export function toStatus(err: unknown, method: string, log: Logger): Partial<grpc.StatusObject> {
  if (err instanceof CoordinatorError) {
    log.debug({ method, code: err.code, reason: err.message }, 'request refused');
    return { code: grpc.status[err.code], details: err.message };
  }
  // Unknown failures are logged in full and answered generically.
  log.error({ err, method }, 'request failed');
  return { code: grpc.status.INTERNAL, details: `internal error in ${method}; see the coordinator log` };
}

/** Unary handlers of this service, its errors translated by toStatus. */
function unaryHandler<Req, Res>(method: string, log: Logger, fn: (req: Req) => Promise<Res> | Res): grpc.handleUnaryCall<Req, Res> {
  return unary<Req, Res>(method, (err, m) => toStatus(err, m, log), fn);
}

export function coordinatorServiceImpl(deps: CoordinatorServiceDeps, log: Logger): grpc.UntypedServiceImplementation {
  const { membership, mounts, watch, buckets, permissions } = deps;
  return {
    RegisterWorker: unaryHandler<RegisterWorkerRequest, RegisterWorkerResponse>('RegisterWorker', log, async (req) => ({ ...(await membership.register(req)), cluster_secret: deps.clusterSecret ?? '' })),
    Heartbeat: unaryHandler<HeartbeatRequest, HeartbeatResponse>('Heartbeat', log, (req) => membership.heartbeat(req)),
    UnregisterWorker: unaryHandler<{ id: string }, Empty>('UnregisterWorker', log, async (req) => {
      await membership.unregister(req.id);
      return {};
    }),
    ListWorkers: unaryHandler<Empty, ListWorkersResponse>('ListWorkers', log, () => membership.list()),
    AddMount: unaryHandler<AddMountRequest, MountInfo>('AddMount', log, (req) => mounts.add(req.mount)),
    RemoveMount: unaryHandler<{ path: string }, Empty>('RemoveMount', log, async (req) => {
      await mounts.remove(req.path);
      return {};
    }),
    ListMounts: unaryHandler<Empty, ListMountsResponse>('ListMounts', log, () => ({ mounts: mounts.list() })),
    GetBucketTagging: unaryHandler<BucketRequest, BucketTagging>('GetBucketTagging', log, (req) => buckets.getTagging(req.bucket)),
    PutBucketTagging: unaryHandler<BucketTagging, Empty>('PutBucketTagging', log, async (req) => {
      await buckets.putTagging(req);
      return {};
    }),
    DeleteBucketTagging: unaryHandler<BucketRequest, Empty>('DeleteBucketTagging', log, async (req) => {
      await buckets.deleteTagging(req.bucket);
      return {};
    }),
    GetBucketPermissions: unaryHandler<BucketRequest, BucketPermissionsMessage>('GetBucketPermissions', log, (req) => permissions.show(req.bucket)),
    SetBucketOwner: unaryHandler<SetBucketOwnerRequest, BucketPermissionsMessage>('SetBucketOwner', log, (req) => permissions.setOwner(req)),
    SetBucketGrant: unaryHandler<BucketGrantRequest, BucketPermissionsMessage>('SetBucketGrant', log, (req) => permissions.setGrant(req)),
    DeleteBucketPermissions: unaryHandler<BucketRequest, Empty>('DeleteBucketPermissions', log, async (req) => {
      await permissions.delete(req.bucket);
      return {};
    }),
    WatchBucketPermissions: (call: grpc.ServerWritableStream<{ worker_id: string }, BucketPermissionsSnapshot>) => {
      let remove: (() => void) | undefined;
      let gone = false;
      const done = (): void => {
        gone = true;
        remove?.();
      };
      call.on('cancelled', done);
      call.on('close', done);
      call.on('error', done);
      if (gone || call.cancelled) return;
      remove = permissions.watch({ send: (s) => void call.write(s), end: () => call.end() });
    },
    WatchCluster: (call: grpc.ServerWritableStream<{ worker_id: string }, ClusterSnapshot>) => {
      const who = call.request?.worker_id || call.getPeer();
      let removed = false;
      let remove: () => void = () => {
        removed = true;
      };
      const done = (): void => remove();
      call.on('cancelled', done);
      call.on('close', done);
      call.on('error', done);
      if (removed || call.cancelled) return;
      remove = watch.add({ send: (s) => void call.write(s), end: () => call.end() }, who);
    },
  };
}

/**
 * The PathConfig service: get, set (validated, applied whole; INVALID_ARGUMENT with the
 * reason; a non-zero `version` is the version the caller read, FAILED_PRECONDITION if it is no
 * longer current) and resolve a path to its policy (JSON with "policyMode").
 */
export function pathConfigServiceImpl(store: PathConfigStore, log: Logger): grpc.UntypedServiceImplementation {
  return {
    GetPathConfig: unaryHandler<Empty, PathConfigDocument>('GetPathConfig', log, () => store.get()),
    SetPathConfig: unaryHandler<Partial<PathConfigDocument>, PathConfigDocument>('SetPathConfig', log, (req) =>
      store.set(req.json ?? '', { expectedVersion: req.version || undefined }),
    ),
    ResolvePath: unaryHandler<{ path?: string }, ResolvedPolicy>('ResolvePath', log, (req) => ({ json: JSON.stringify(store.resolve(req.path), null, 2) })),
  };
}

export { CoordinatorService, PathConfigService };
