/**
 * The `Metastore` gRPC service: the coordinator's metastore backend (SQLite or FoundationDB),
 * served to workers as versioned reads plus one optimistic Commit per transaction. Decodes and
 * validates each call, and turns MetastoreError into a gRPC status:
 *   TooLarge, malformed requests → INVALID_ARGUMENT; TooOld → OUT_OF_RANGE; Conflict → ABORTED;
 *   Unavailable → UNAVAILABLE; anything else → INTERNAL (logged).
 * A refused Commit is not an error: it answers committed=false with conflict "conflict" or "too_old".
 */
import { unaryHandler as unary } from '../grpc-unary.js';
import type { Logger } from '../../common/log.js';
import { MetastoreError } from '../../common/metastore/types.js';
import {
  grpc,
  MetastoreService,
  type Empty,
  type MetaCommitResponse,
  type MetaGetResponse,
  type MetaRangeResponse,
  type MetaVersion,
} from '../../proto/index.js';
import { checkCommitSize, checkKey, MAX_COMMIT_BYTES, type CommitRequest, type KeyRange, type MetastoreBackend, type Mutation } from './backend.js';

/**
 * Options the coordinator's grpc.Server needs for this service: a commit may carry up to
 * MAX_COMMIT_BYTES, over grpc-js's default 4 MiB receive limit.
 */
export const METASTORE_GRPC_SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': MAX_COMMIT_BYTES + 4 * 1024 * 1024,
};

class InvalidArgument extends Error {}

interface GetRequest {
  key: Buffer;
  read_version: number;
}
interface RangeRequest {
  begin: Buffer;
  end: Buffer;
  limit: number;
  reverse: boolean;
  read_version: number;
}
interface WireCommitRequest {
  read_version: number;
  reads: Array<{ begin: Buffer; end: Buffer }>;
  mutations: Array<{ type: string; key: Buffer; value: Buffer; end: Buffer }>;
}

const STATUS: Record<MetastoreError['code'], grpc.status> = {
  TooLarge: grpc.status.INVALID_ARGUMENT,
  TooOld: grpc.status.OUT_OF_RANGE,
  Conflict: grpc.status.ABORTED,
  Unavailable: grpc.status.UNAVAILABLE,
  Internal: grpc.status.INTERNAL,
};

function toStatus(err: unknown, method: string, log: Logger): Partial<grpc.StatusObject> {
  if (err instanceof InvalidArgument) {
    log.debug({ method, reason: err.message }, 'metastore request refused');
    return { code: grpc.status.INVALID_ARGUMENT, details: err.message };
  }
  if (err instanceof MetastoreError && err.code !== 'Internal') {
    log.debug({ method, code: err.code, reason: err.message }, 'metastore request refused');
    return { code: STATUS[err.code], details: `${err.code}: ${err.message}` };
  }
  log.error({ err, method }, 'metastore request failed');
  return { code: grpc.status.INTERNAL, details: `internal error in Metastore.${method}; see the coordinator log` };
}

/** Unary handlers of this service, its errors translated by toStatus. */
function unaryHandler<Req, Res>(method: string, log: Logger, fn: (req: Req) => Promise<Res> | Res): grpc.handleUnaryCall<Req, Res> {
  return unary<Req, Res>(method, (err, m) => toStatus(err, m, log), fn);
}

function version(v: unknown, what = 'read_version'): number {
  const n = Number(v ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgument(`${what} must be a non-negative integer`);
  return n;
}

function bytes(b: unknown, what: string): Buffer {
  const buf = Buffer.isBuffer(b) ? b : Buffer.alloc(0);
  checkKey(buf, what);
  return buf;
}

/** Validates and converts a wire Commit into the backend's request. */
export function decodeCommit(req: WireCommitRequest): CommitRequest {
  const reads: KeyRange[] = (req.reads ?? []).map((r) => {
    const begin = bytes(r.begin, 'read range begin');
    const end = bytes(r.end, 'read range end');
    return end.length ? { begin, end } : { begin };
  });
  const mutations: Mutation[] = (req.mutations ?? []).map((m, i) => {
    const key = bytes(m.key, 'key');
    switch (m.type) {
      case 'set':
        return { type: 'set', key, value: Buffer.isBuffer(m.value) ? m.value : Buffer.alloc(0) };
      case 'clear':
        return { type: 'clear', key };
      case 'clear_range':
        return { type: 'clear_range', key, end: bytes(m.end, 'clear_range end') };
      default:
        throw new InvalidArgument(`mutation ${i}: unknown type "${m.type}" (set, clear or clear_range)`);
    }
  });
  const out = { readVersion: version(req.read_version), reads, mutations };
  checkCommitSize(out);
  return out;
}

export function metastoreServiceImpl(store: MetastoreBackend, log: Logger): grpc.UntypedServiceImplementation {
  const at = async (readVersion: unknown): Promise<number> => version(readVersion) || (await store.readVersion());
  return {
    GetReadVersion: unaryHandler<Empty, MetaVersion>('GetReadVersion', log, async () => ({ version: await store.readVersion() })),
    Get: unaryHandler<GetRequest, MetaGetResponse>('Get', log, async (req) => {
      const key = bytes(req.key, 'key');
      const rv = await at(req.read_version);
      const value = await store.get(key, rv);
      return { found: value !== undefined, value: value ?? Buffer.alloc(0), read_version: rv };
    }),
    GetRange: unaryHandler<RangeRequest, MetaRangeResponse>('GetRange', log, async (req) => {
      const begin = bytes(req.begin, 'range begin');
      const end = bytes(req.end, 'range end');
      const limit = Number(req.limit ?? 0);
      if (!Number.isInteger(limit) || limit < 0) throw new InvalidArgument('limit must be a non-negative integer');
      const rv = await at(req.read_version);
      const items = await store.getRange(begin, end, { limit, reverse: req.reverse === true }, rv);
      return { items, read_version: rv };
    }),
    Commit: unaryHandler<WireCommitRequest, MetaCommitResponse>('Commit', log, async (req) => {
      const res = await store.commit(decodeCommit(req));
      if (!res.committed) log.debug({ conflict: res.conflict, read_version: req.read_version, version: res.version }, 'metastore commit refused');
      return { committed: res.committed, version: res.version, conflict: res.conflict };
    }),
  };
}

export { MetastoreService };
