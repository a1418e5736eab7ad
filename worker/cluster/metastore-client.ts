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
import { grpc, MetastoreService, unary, type MetaCommitResponse, type MetaGetResponse, type MetaRangeResponse, type MetaVersion } from '../../proto/index.js';
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

export class RemoteMetastore implements Metastore {
  private readonly client: grpc.Client;
  private readonly deadlineMs: number;
  private readonly retry: RetryPolicy;
  private readonly reader: VersionedReader;
  private pageItems = PAGE_ITEMS;
  private closed = false;

  constructor(readonly address: string, private readonly opts: RemoteMetastoreOptions = {}) {
    this.client = new MetastoreService(address, opts.credentials ?? grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': PAGE_ITEMS * (MAX_VALUE_BYTES + MAX_KEY_BYTES) + 1024 * 1024,
      'grpc.max_send_message_length': MAX_COMMIT_BYTES + 4 * 1024 * 1024,
    });
    this.deadlineMs = opts.deadlineMs ?? 10_000;
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.reader = { get: (k, rv) => this.rpcGet(k, rv), getRange: (b, e, o, rv) => this.rpcGetRange(b, e, o, rv) };
  }

  private checkOpen(): void {
    if (this.closed) throw new MetastoreError('Unavailable', 'the metastore client is closed');
  }

  /** A read RPC, retried twice quickly when the coordinator cannot be reached. */
  private async call<Res>(method: string, req: object): Promise<Res> {
    this.checkOpen();
    for (let attempt = 0; ; attempt++) {
      try {
        return await unary<object, Res>(this.client, method, req, this.deadlineMs);
      } catch (err) {
        if (!isTransient(err) || attempt >= UNAVAILABLE_RETRIES_MS.length || this.closed) throw toMetastoreError(err, method);
        this.opts.log?.debug({ method, err: (err as Error).message }, 'metastore RPC failed; retrying');
        await new Promise((r) => setTimeout(r, UNAVAILABLE_RETRIES_MS[attempt]));
      }
    }
  }

  private async readVersion(): Promise<number> {
    return (await this.call<MetaVersion>('GetReadVersion', {})).version;
  }

  private async rpcGet(key: Buffer, readVersion: number): Promise<Buffer | undefined> {
    const res = await this.call<MetaGetResponse>('Get', { key, read_version: readVersion });
    return res.found ? res.value : undefined;
  }

  /** All of the range (or `limit` pairs of it), fetched in pages. */
  private async rpcGetRange(begin: Buffer, end: Buffer, opts: RangeOptions, readVersion: number): Promise<KeyValue[]> {
    const limit = Math.max(0, Math.floor(opts.limit ?? 0));
    const reverse = opts.reverse === true;
    const out: KeyValue[] = [];
    let lo = begin;
    let hi = end;
    while (Buffer.compare(lo, hi) < 0) {
      const page = limit ? Math.min(limit - out.length, this.pageItems) : this.pageItems;
      const res = await this.call<MetaRangeResponse>('GetRange', { begin: lo, end: hi, limit: page, reverse, read_version: readVersion });
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
    return out;
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
      const res = await unary<object, MetaCommitResponse>(this.client, 'Commit', wire, this.deadlineMs);
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
    this.client.close();
  }
}
