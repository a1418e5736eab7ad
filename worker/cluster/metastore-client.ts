/**
 * The worker's view of the coordinator's metastore: `Metastore` (common/metastore/types.ts)
 * over the coordinator's `Metastore` gRPC service.
 *
 * `transact(fn)` takes a read version (GetReadVersion) at its first read, reads through RPC at
 * that version and records every key and range it read (a limited range read is recorded only
 * as far as the keys it returned), buffers writes locally (its own later reads see them:
 * read-your-writes, clears and clear ranges included), then sends one Commit with the read set
 * and the mutations. The coordinator refuses the commit if anything read changed since the read
 * version; the function then runs again after a jittered backoff, up to 20 retries, after
 * which MetastoreError('Conflict') is thrown. A read-only transaction sends no Commit.
 *
 * Errors: UNAVAILABLE / DEADLINE_EXCEEDED on a read is retried twice quickly, then
 * MetastoreError('Unavailable'); a Commit is never resent (it may have been applied), its
 * failure is MetastoreError('Unavailable'). OUT_OF_RANGE is 'TooOld' (the transaction is run
 * again), INVALID_ARGUMENT from the size limits is 'TooLarge'.
 *
 * The transaction buffer and retry loop are the ones the coordinator's backends use
 * (common/metastore/buffered-transaction.ts).
 */
import type { Logger } from '../../common/log.js';
import {
  MetastoreError,
  type KeyValue,
  type Metastore,
  type RangeOptions,
  type ReadTransaction,
  type Transaction,
} from '../../common/metastore/types.js';
import { grpc, MetastoreService, type MetaCommitResponse, type MetaGetResponse, type MetaRangeResponse, type MetaSessionOp, type MetaSessionResponse } from '../../proto/index.js';
import { MAX_COMMIT_BYTES, MAX_KEY_BYTES, MAX_VALUE_BYTES, checkCommitSize, type CommitRequest, type CommitResult } from '../../common/metastore/commit.js';
import { BufferedTransaction, DEFAULT_RETRY, readOnly, runOptimistic, type RetryPolicy, type VersionedReader } from '../../common/metastore/buffered-transaction.js';

/** The coordinator's limits (coordinator/metastore/backend.ts), checked here for an early, clear error. */
export { MAX_KEY_BYTES, MAX_VALUE_BYTES, MAX_COMMIT_BYTES } from '../../common/metastore/commit.js';
export type { RetryPolicy } from '../../common/metastore/buffered-transaction.js';

export interface RemoteMetastoreOptions {
  log?: Logger;
  /** Per-RPC deadline (default 10 s). */
  deadlineMs?: number;
  retry?: RetryPolicy;
  /** Transport credentials (proto/tls.ts); plain text when absent. */
  credentials?: grpc.ChannelCredentials;
}

// Range reads are paged: a page's item count adapts so that one answer stays near PAGE_BYTES.
const PAGE_ITEMS = 256;
const PAGE_BYTES = 8 * 1024 * 1024;
const UNAVAILABLE_RETRIES_MS = [50, 200];

function isTransient(err: unknown): boolean {
  const code = (err as grpc.ServiceError).code;
  return code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED;
}

/** A gRPC failure as the contract's error. */
function toMetastoreError(err: unknown, method: string): MetastoreError {
  if (err instanceof MetastoreError) return err;
  const e = err as grpc.ServiceError;
  const details = e.details || e.message || String(err);
  switch (e.code) {
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
    case grpc.status.CANCELLED:
      return new MetastoreError('Unavailable', `the coordinator's metastore is unavailable (${method}): ${details}`, { cause: err });
    case grpc.status.OUT_OF_RANGE:
      return new MetastoreError('TooOld', details, { cause: err });
    case grpc.status.ABORTED:
      return new MetastoreError('Conflict', details, { cause: err });
    case grpc.status.INVALID_ARGUMENT:
      return new MetastoreError(details.startsWith('TooLarge') ? 'TooLarge' : 'Internal', details, { cause: err });
    default:
      return new MetastoreError('Internal', `metastore ${method} failed: ${details}`, { cause: err });
  }
}

/** A call's failure, shaped like the grpc.ServiceError its unary twin would end with. */
function callError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), { code, details, metadata: new grpc.Metadata() });
}

/**
 * The calls of one transaction ride one long-lived `Session` stream (opened at the first call,
 * opened again after it breaks), answered by id: in grpc-js a message on an open stream costs
 * a fraction of a unary call. Each call has its own deadline; when the stream breaks, every
 * call on it fails UNAVAILABLE, and a commit among them may or may not have been applied,
 * exactly as when a unary Commit's answer is lost.
 */
class MetaSession {
  private stream: grpc.ClientDuplexStream<object, MetaSessionResponse> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: MetaSessionResponse) => void; reject: (e: grpc.ServiceError) => void; timer: NodeJS.Timeout }>();

  constructor(private readonly client: grpc.Client, private readonly deadlineMs: number) {}

  private open(): grpc.ClientDuplexStream<object, MetaSessionResponse> {
    if (this.stream) return this.stream;
    const stream = (this.client as unknown as { Session(): grpc.ClientDuplexStream<object, MetaSessionResponse> }).Session();
    const broken = (err: grpc.ServiceError) => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.failAll(err.code === grpc.status.UNIMPLEMENTED ? err : callError(grpc.status.UNAVAILABLE, `the metastore session ended: ${err.details || err.message}`));
    };
    stream.on('data', (res: MetaSessionResponse) => {
      const id = Number(res.id);
      const p = this.pending.get(id);
      if (!p) return; // its deadline passed: nobody waits for it any more
      this.pending.delete(id);
      clearTimeout(p.timer);
      if (res.code !== grpc.status.OK) p.reject(callError(res.code, res.details));
      else p.resolve(res);
    });
    stream.on('error', (err: grpc.ServiceError) => broken(err));
    stream.on('end', () => broken(callError(grpc.status.UNAVAILABLE, 'closed by the coordinator')));
    this.stream = stream;
    return stream;
  }

  private failAll(err: grpc.ServiceError): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(err);
    }
  }

  call(op: MetaSessionOp): Promise<MetaSessionResponse> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(callError(grpc.status.DEADLINE_EXCEEDED, `no answer in ${this.deadlineMs} ms`));
      }, this.deadlineMs);
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.open().write({ id, ...op });
      } catch (err) {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(callError(grpc.status.UNAVAILABLE, (err as Error).message));
      }
    });
  }

  close(): void {
    const s = this.stream;
    this.stream = undefined;
    this.failAll(callError(grpc.status.CANCELLED, 'the metastore client is closed'));
    s?.cancel();
  }
}

export class RemoteMetastore implements Metastore {
  private readonly client: grpc.Client;
  private readonly deadlineMs: number;
  private readonly retry: RetryPolicy;
  private readonly reader: VersionedReader;
  private readonly session: MetaSession;
  private pageItems = PAGE_ITEMS;
  private closed = false;

  constructor(readonly address: string, private readonly opts: RemoteMetastoreOptions = {}) {
    this.client = new MetastoreService(address, opts.credentials ?? grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': PAGE_ITEMS * (MAX_VALUE_BYTES + MAX_KEY_BYTES) + 1024 * 1024,
      'grpc.max_send_message_length': MAX_COMMIT_BYTES + 4 * 1024 * 1024,
    });
    this.deadlineMs = opts.deadlineMs ?? 10_000;
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.session = new MetaSession(this.client, this.deadlineMs);
    this.reader = {
      get: async (k, rv) => (await this.rpcGet(k, rv)).value,
      getRange: async (b, e, o, rv) => (await this.rpcGetRange(b, e, o, rv)).items,
      // Read version 0 asks the coordinator to read at its current version and say which.
      getCurrent: (k) => this.rpcGet(k, 0),
      getRangeCurrent: (b, e, o) => this.rpcGetRange(b, e, o, 0),
    };
  }

  private checkOpen(): void {
    if (this.closed) throw new MetastoreError('Unavailable', 'the metastore client is closed');
  }

  /** A read on the session, retried twice quickly when the coordinator cannot be reached. */
  private async call<K extends 'version' | 'get' | 'range'>(method: string, op: MetaSessionOp, result: K): Promise<NonNullable<MetaSessionResponse[K]>> {
    this.checkOpen();
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.session.call(op);
        return res[result]!;
      } catch (err) {
        if (!isTransient(err) || attempt >= UNAVAILABLE_RETRIES_MS.length || this.closed) throw toMetastoreError(err, method);
        this.opts.log?.debug({ method, err: (err as Error).message }, 'metastore RPC failed; retrying');
        await new Promise((r) => setTimeout(r, UNAVAILABLE_RETRIES_MS[attempt]));
      }
    }
  }

  private async readVersion(): Promise<number> {
    return Number((await this.call('GetReadVersion', { read_version: {} }, 'version')).version);
  }

  /** One key at `readVersion` (0: the current version), with the version it was read at. */
  private async rpcGet(key: Buffer, readVersion: number): Promise<{ value: Buffer | undefined; version: number }> {
    const res: MetaGetResponse = await this.call('Get', { get: { key, read_version: readVersion } }, 'get');
    return { value: res.found ? res.value : undefined, version: Number(res.read_version) };
  }

  /** All of the range (or `limit` pairs of it), fetched in pages at one version (0 at the start: the current one). */
  private async rpcGetRange(begin: Buffer, end: Buffer, opts: RangeOptions, readVersion: number): Promise<{ items: KeyValue[]; version: number }> {
    const limit = Math.max(0, Math.floor(opts.limit ?? 0));
    const reverse = opts.reverse === true;
    const out: KeyValue[] = [];
    let lo = begin;
    let hi = end;
    while (Buffer.compare(lo, hi) < 0) {
      const page = limit ? Math.min(limit - out.length, this.pageItems) : this.pageItems;
      const res: MetaRangeResponse = await this.call('GetRange', { range: { begin: lo, end: hi, limit: page, reverse, read_version: readVersion } }, 'range');
      // Every page after the first reads at the version the first was read at.
      readVersion = Number(res.read_version);
      let bytes = 0;
      for (const kv of res.items) {
        out.push({ key: kv.key, value: kv.value });
        bytes += kv.key.length + kv.value.length;
      }
      if (res.items.length > 0) this.pageItems = Math.max(1, Math.min(PAGE_ITEMS, Math.floor(PAGE_BYTES / Math.max(1, bytes / res.items.length))));
      if (res.items.length < page || (limit && out.length >= limit)) break;
      const last = res.items[res.items.length - 1].key;
      if (reverse) hi = last;
      else lo = Buffer.concat([last, Buffer.from([0])]);
    }
    return { items: out, version: readVersion || (await this.readVersion()) };
  }

  private async commit(req: CommitRequest): Promise<CommitResult> {
    this.checkOpen();
    checkCommitSize(req);
    const wire = {
      read_version: req.readVersion,
      reads: req.reads.map((r) => ({ begin: r.begin, end: r.end ?? Buffer.alloc(0) })),
      mutations: req.mutations.map((m) =>
        m.type === 'set' ? { type: 'set', key: m.key, value: m.value } : m.type === 'clear' ? { type: 'clear', key: m.key } : { type: 'clear_range', key: m.key, end: m.end },
      ),
    };
    try {
      // Never resent: a commit whose answer was lost may have been applied.
      const res: MetaCommitResponse = (await this.session.call({ commit: wire as never })).commit!;
      return { committed: res.committed, version: Number(res.version), conflict: (res.conflict || '') as CommitResult['conflict'] };
    } catch (err) {
      const e = toMetastoreError(err, 'Commit');
      if (e.code === 'Unavailable') e.message += ' (the commit may or may not have been applied)';
      throw e;
    }
  }

  private newTransaction(): BufferedTransaction {
    return new BufferedTransaction(this.reader, () => this.readVersion());
  }

  async transact<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    this.checkOpen();
    return runOptimistic(() => this.newTransaction(), (req) => this.commit(req), fn, this.retry);
  }

  async read<T>(fn: (tx: ReadTransaction) => Promise<T>): Promise<T> {
    this.checkOpen();
    const tx = this.newTransaction();
    try {
      return await fn(readOnly(tx));
    } finally {
      tx.finish();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.session.close();
    this.client.close();
  }
}
