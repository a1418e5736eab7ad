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
  type MetaSessionResponse,
  type MetaVersion,
} from '../../proto/index.js';
import { checkCommitSize, checkKey, MAX_COMMIT_BYTES, type CommitRequest, type CommitResult, type KeyRange, type MetastoreBackend, type Mutation } from './backend.js';

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

/**
 * Group commit: commits that arrive while the previous group is being synced wait, and go to
 * the backend together as the next group when it can take one (`commitMany`): one disk sync
 * for all of them instead of one each. Each commit is still checked and applied in arrival
 * order, seeing the ones before it, and answered once its group is on disk.
 *
 * One group at a time: nothing is applied while a sync runs, so when a sync ends every applied
 * commit is durable, and a read waiting for it (see `metastoreOps`) runs before the next group
 * is applied (that happens in a later turn of the event loop). Readers never see a commit a
 * power loss could take back, and never wait for more than one sync.
 */
class CommitQueue {
  private queue: Array<{ req: CommitRequest; resolve: (r: CommitResult) => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;
  private syncing = false;

  constructor(private readonly store: MetastoreBackend) {}

  commit(req: CommitRequest): Promise<CommitResult> {
    if (!this.store.commitMany) return Promise.resolve(this.store.commit(req));
    return new Promise((resolve, reject) => {
      this.queue.push({ req, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.syncing || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue.splice(0);
    let results: CommitResult[];
    try {
      results = this.store.commitMany!(batch.map((b) => b.req));
    } catch {
      // One commit the backend refuses must not fail the others: each on its own (each synced
      // before it returns), with its own answer.
      for (const b of batch) {
        try {
          b.resolve(this.store.commit(b.req) as CommitResult);
        } catch (err) {
          b.reject(err);
        }
      }
      this.schedule();
      return;
    }
    const synced = this.store.durable?.();
    if (!synced) {
      batch.forEach((b, i) => b.resolve(results[i]!));
      this.schedule();
      return;
    }
    this.syncing = true;
    synced.then(
      () => batch.forEach((b, i) => b.resolve(results[i]!)),
      (err) => batch.forEach((b) => b.reject(new MetastoreError('Unavailable', `the metastore could not sync its log: ${(err as Error).message}`, { cause: err }))),
    ).finally(() => {
      this.syncing = false;
      this.schedule();
    });
  }
}

/** The four calls of the service as plain functions, shared by the unary methods and Session. */
function metastoreOps(store: MetastoreBackend, log: Logger) {
  // A read waits for the sync of the group before it (see CommitQueue): no worker acts on a
  // commit that is not yet durable (nor yet acknowledged to its writer).
  const at = async (readVersion: unknown): Promise<number> => {
    await store.durable?.();
    return version(readVersion) || (await store.readVersion());
  };
  const commits = new CommitQueue(store);
  return {
    GetReadVersion: async (): Promise<MetaVersion> => {
      await store.durable?.();
      return { version: await store.readVersion() };
    },
    Get: async (req: GetRequest): Promise<MetaGetResponse> => {
      const key = bytes(req.key, 'key');
      const rv = await at(req.read_version);
      const value = await store.get(key, rv);
      return { found: value !== undefined, value: value ?? Buffer.alloc(0), read_version: rv };
    },
    GetRange: async (req: RangeRequest): Promise<MetaRangeResponse> => {
      const begin = bytes(req.begin, 'range begin');
      const end = bytes(req.end, 'range end');
      const limit = Number(req.limit ?? 0);
      if (!Number.isInteger(limit) || limit < 0) throw new InvalidArgument('limit must be a non-negative integer');
      const rv = await at(req.read_version);
      const items = await store.getRange(begin, end, { limit, reverse: req.reverse === true }, rv);
      return { items, read_version: rv };
    },
    Commit: async (req: WireCommitRequest): Promise<MetaCommitResponse> => {
      const res = await commits.commit(decodeCommit(req));
      if (!res.committed) log.debug({ conflict: res.conflict, read_version: req.read_version, version: res.version }, 'metastore commit refused');
      return { committed: res.committed, version: res.version, conflict: res.conflict };
    },
  };
}

/** Which call a Session message carries, and where its answer goes. */
const SESSION_OPS = {
  read_version: { method: 'GetReadVersion', result: 'version' },
  get: { method: 'Get', result: 'get' },
  range: { method: 'GetRange', result: 'range' },
  commit: { method: 'Commit', result: 'commit' },
} as const;

type SessionRequest = { id: number; op?: keyof typeof SESSION_OPS } & Partial<Record<keyof typeof SESSION_OPS, unknown>>;

export function metastoreServiceImpl(store: MetastoreBackend, log: Logger): grpc.UntypedServiceImplementation {
  return metastoreService(store, log).implementation;
}

/** Told of every call answered inside a session (method, gRPC status code, seconds taken). */
export type SessionCallObserver = (method: string, code: number, seconds: number) => void;

/**
 * The service and its open sessions: `close()` ends them (workers open theirs again), so a
 * graceful gRPC shutdown does not wait on them.
 */
export function metastoreService(store: MetastoreBackend, log: Logger, observe?: SessionCallObserver): { implementation: grpc.UntypedServiceImplementation; close(): void } {
  const sessions = new Set<() => void>();
  return { implementation: serviceImpl(store, log, sessions, observe), close: () => { for (const end of [...sessions]) end(); } };
}

function serviceImpl(store: MetastoreBackend, log: Logger, sessions: Set<() => void>, observe?: SessionCallObserver): grpc.UntypedServiceImplementation {
  const ops = metastoreOps(store, log);
  const call = (method: keyof typeof ops, req: unknown): Promise<unknown> => (ops[method] as (r: unknown) => Promise<unknown>)(req);
  return {
    GetReadVersion: unaryHandler<Empty, MetaVersion>('GetReadVersion', log, ops.GetReadVersion),
    Get: unaryHandler<GetRequest, MetaGetResponse>('Get', log, ops.Get),
    GetRange: unaryHandler<RangeRequest, MetaRangeResponse>('GetRange', log, ops.GetRange),
    Commit: unaryHandler<WireCommitRequest, MetaCommitResponse>('Commit', log, ops.Commit),
    // Each message is one call, answered by id as soon as it is done; errors end that call
    // only (with the status its unary twin would end with), never the stream.
    Session: ((stream: grpc.ServerDuplexStream<SessionRequest, MetaSessionResponse>) => {
      let open = true;
      let running = 0;
      let ended = false;
      const end = () => {
        sessions.delete(end);
        if (!open) return;
        open = false;
        stream.end();
      };
      sessions.add(end);
      const finishIfDone = () => {
        if (ended && running === 0) end();
      };
      stream.on('data', (req: SessionRequest) => {
        const id = Number(req.id);
        const kind = req.op;
        const started = process.hrtime.bigint();
        running++;
        const spec = kind ? SESSION_OPS[kind] : undefined;
        Promise.resolve()
          .then(() => {
            if (!spec) throw new InvalidArgument('a Session message names no call');
            return call(spec.method, req[kind!]);
          })
          .then(
            (value) => ({ id, code: grpc.status.OK, details: '', [spec!.result]: value }),
            (err) => {
              const st = toStatus(err, spec?.method ?? 'Session', log);
              return { id, code: st.code ?? grpc.status.INTERNAL, details: st.details ?? '' };
            },
          )
          .then((answer) => {
            running--;
            observe?.(spec?.method ?? 'Session', answer.code, Number(process.hrtime.bigint() - started) / 1e9);
            if (open) stream.write(answer as MetaSessionResponse);
            finishIfDone();
          });
      });
      stream.on('end', () => {
        ended = true;
        finishIfDone();
      });
      const gone = () => {
        open = false;
        sessions.delete(end);
      };
      stream.on('error', gone);
      stream.on('cancelled', gone);
    }) as unknown as grpc.UntypedHandleCall,
  };
}

export { MetastoreService };
