/**
 * Loads the control-plane contract once with @grpc/proto-loader and exposes its service
 * definitions and the message shapes as TypeScript types (fields keep their proto names).
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

// Compiled to dist/proto/index.js; the .proto stays in the source tree.
const PROTO_FILE = fileURLToPath(new URL('../../proto/cluster.proto', import.meta.url));

const definition = protoLoader.loadSync(PROTO_FILE, {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});
const pkg = grpc.loadPackageDefinition(definition) as unknown as {
  alluxio: { cluster: Record<string, grpc.ServiceClientConstructor> };
};

export const CoordinatorService = pkg.alluxio.cluster.Coordinator;
export const WorkerPeerService = pkg.alluxio.cluster.WorkerPeer;
export const MetastoreService = pkg.alluxio.cluster.Metastore;
export const PathConfigService = pkg.alluxio.cluster.PathConfig;
export const OperationsService = pkg.alluxio.cluster.Operations;

export interface WorkerAddress { host: string; s3_port: number; rpc_port: number; https_port: number; web_port: number }
export interface CacheUsage { used_bytes: number; capacity_bytes: number; pages: number }
export type WorkerState = 'LIVE' | 'LOST' | 'DECOMMISSIONING' | 'DECOMMISSIONED';
export interface WorkerInfo {
  id: string;
  address: WorkerAddress;
  state: WorkerState;
  last_heartbeat_ms: number;
  cache: CacheUsage;
  registered_at_ms: number;
  version: string;
}
export interface MountInfo { path: string; ufs_uri: string; options: Record<string, string>; read_only: boolean }
export interface PathConfigDocument { json: string; version: number }
export interface ResolvedPolicy { json: string }
export interface ClusterSnapshot { version: number; members: WorkerInfo[]; mounts: MountInfo[]; path_config: PathConfigDocument | null; write_cache_enabled: boolean; draining?: WorkerInfo[] }
export interface MetaVersion { version: number }
export interface MetaGetResponse { found: boolean; value: Buffer; read_version: number }
export interface MetaKeyValue { key: Buffer; value: Buffer }
export interface MetaRangeResponse { items: MetaKeyValue[]; read_version: number }
export interface MetaKeyRange { begin: Buffer; end: Buffer }
export interface MetaMutation { type: 'set' | 'clear' | 'clear_range'; key: Buffer; value?: Buffer; end?: Buffer }
export interface MetaCommitRequest { read_version: number; reads: MetaKeyRange[]; mutations: MetaMutation[] }
export interface MetaCommitResponse { committed: boolean; version: number; conflict: string }
export interface MetaGetRequest { key: Buffer; read_version: number }
export interface MetaRangeRequest { begin: Buffer; end: Buffer; limit: number; reverse: boolean; read_version: number }
export type MetaSessionOp =
  | { read_version: Empty }
  | { get: MetaGetRequest }
  | { range: MetaRangeRequest }
  | { commit: MetaCommitRequest };
export type MetaSessionRequest = { id: number } & MetaSessionOp;
export interface MetaSessionResponse {
  id: number; code: number; details: string;
  result?: 'version' | 'get' | 'range' | 'commit';
  version?: MetaVersion; get?: MetaGetResponse; range?: MetaRangeResponse; commit?: MetaCommitResponse;
}
export interface RegisterWorkerRequest { id: string; address: WorkerAddress; cache: CacheUsage; version: string }
export interface RegisterWorkerResponse { id: string; heartbeat_interval_ms: number; cluster_secret?: string }
export interface HeartbeatRequest { id: string; cache: CacheUsage }
export interface HeartbeatResponse { reregister: boolean; cluster_version: number; decommissioned?: boolean }
export interface ListWorkersResponse { workers: WorkerInfo[]; cluster_version: number }
export interface ListMountsResponse { mounts: MountInfo[] }
export interface PingResponse { id: string; cluster_version: number }
export interface ReplicaChunk { path: string; write_id: string; data: Buffer }
export interface ReplicaAck { size: number; md5_hex: string }
export interface ReplicaRef { path: string; write_id: string }
export interface Empty {}
export interface LoadKeysRequest { job_id: string; paths: string[] }
export type LoadKeyStatus = 'LOADED' | 'FAILED' | 'NOT_OWNER';
export interface LoadKeyResult { path: string; status: LoadKeyStatus; bytes: number; reason: string }
export interface LoadKeysResponse { results: LoadKeyResult[] }
export interface FreePrefixRequest { prefix: string }
export interface FreePrefixResponse { objects: number; pages: number; bytes: number }
export type JobState = 'RUNNING' | 'STOPPED' | 'COMPLETED' | 'FAILED';
export interface JobFailure { path: string; reason: string }
export interface JobInfo {
  id: string; type: string; path: string; state: JobState;
  files_total: number; files_done: number; files_failed: number; bytes_total: number; bytes_done: number;
  start_ms: number; end_ms: number; listing_done: boolean; failures: JobFailure[]; error: string; updated_ms: number;
}
export interface JobListResponse { jobs: JobInfo[] }
export interface FreeResponse { objects: number; pages: number; bytes: number; unpersisted_skipped: number; workers: string[]; unreachable: string[] }
export interface DecommissionStatus { id: string; state: 'DECOMMISSIONING' | 'DECOMMISSIONED'; backlog: number; transient: number; started_ms: number }
export interface BucketRequest { bucket: string }
export interface BucketTagging { bucket: string; tags: Record<string, string>; present: boolean }
export type GrantPermission = 'read' | 'write';
export interface BucketPermissions { bucket: string; owner: string; grants: Record<string, GrantPermission>; anonymous_read: boolean; known: boolean }
export interface BucketPermissionsSnapshot { version: number; buckets: BucketPermissions[] }
export interface SetBucketOwnerRequest { bucket: string; owner: string; created: boolean }
export interface BucketGrantRequest { bucket: string; user: string; permission: GrantPermission | 'none'; anonymous: boolean }

/** Promise wrapper for a unary call on a generated client. */
export function unary<Req, Res>(client: grpc.Client, method: string, req: Req, deadlineMs = 10_000): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, Function>)[method];
    fn.call(client, req, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res: Res) =>
      err ? reject(err) : resolve(res),
    );
  });
}

export { grpc };
