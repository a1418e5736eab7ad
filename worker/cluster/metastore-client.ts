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
 * The transaction buffer is a copy of coordinator/metastore/buffered-transaction.ts (worker/
 * and coordinator/ never import each other): keep the two in step.
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

/** The coordinator's limits (coordinator/metastore/backend.ts), checked here for an early, clear error. */
export const MAX_KEY_BYTES = 10_000;
export const MAX_VALUE_BYTES = 1024 * 1024;
export const MAX_COMMIT_BYTES = 8 * 1024 * 1024;

interface KeyRange {
  begin: Buffer;
  end?: Buffer;
}

type Mutation =
  | { type: 'set'; key: Buffer; value: Buffer }
  | { type: 'clear'; key: Buffer }
  | { type: 'clear_range'; key: Buffer; end: Buffer };

interface CommitRequest {
  readVersion: number;
  reads: KeyRange[];
  mutations: Mutation[];
}

interface CommitResult {
  committed: boolean;
  version: number;
  conflict: string;
}

function checkKey(key: Buffer, what = 'key'): void {
  if (key.length > MAX_KEY_BYTES) throw new MetastoreError('TooLarge', `${what} of ${key.length} bytes is over the ${MAX_KEY_BYTES}-byte limit`);
}

function checkValue(value: Buffer): void {
  if (value.length > MAX_VALUE_BYTES) throw new MetastoreError('TooLarge', `value of ${value.length} bytes is over the ${MAX_VALUE_BYTES}-byte limit`);
}

function commitSize(req: CommitRequest): number {
  let total = 0;
  for (const r of req.reads) total += r.begin.length + (r.end?.length ?? 0);
  for (const m of req.mutations) total += m.key.length + (m.type === 'set' ? m.value.length : m.type === 'clear_range' ? m.end.length : 0);
  return total;
}

interface VersionedReader {
  get(key: Buffer, readVersion: number): Promise<Buffer | undefined> | Buffer | undefined;
  getRange(begin: Buffer, end: Buffer, opts: RangeOptions, readVersion: number): Promise<KeyValue[]> | KeyValue[];
}

interface Span {
  begin: Buffer;
  end: Buffer;
}

const cmp = Buffer.compare;
const ZERO = Buffer.from([0]);

/** The first key after `key` in byte order. */
function keyAfter(key: Buffer): Buffer {
  return Buffer.concat([key, ZERO]);
}

function mapKey(key: Buffer): string {
  return key.toString('latin1');
}

class BufferedTransaction implements Transaction {
  /** Everything read from the store, for the commit's conflict check. */
  readonly reads: KeyRange[] = [];
  private readonly writes = new Map<string, { key: Buffer; value: Buffer | null }>();
  /** Cleared ranges, sorted and disjoint. */
  private cleared: Span[] = [];
  private finished = false;
  private rv: Promise<number> | undefined;
  private rvKnown: number | undefined;

  constructor(
    private readonly reader: VersionedReader,
    private readonly getReadVersion: () => Promise<number> | number,
  ) {}

  /** The read version, taken at the first read and fixed for the transaction. */
  private readVersion(): Promise<number> {
    if (!this.rv) {
      this.rv = Promise.resolve(this.getReadVersion()).then((v) => (this.rvKnown = v));
    }
    return this.rv;
  }

  private checkOpen(): void {
    if (this.finished) throw new MetastoreError('Internal', 'the transaction is already finished (used after its function returned?)');
  }

  private isCleared(key: Buffer): boolean {
    for (const s of this.cleared) {
      if (cmp(key, s.begin) < 0) return false;
      if (cmp(key, s.end) < 0) return true;
    }
    return false;
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    this.checkOpen();
    checkKey(key);
    const own = this.writes.get(mapKey(key));
    if (own) return own.value ?? undefined;
    if (this.isCleared(key)) return undefined;
    const rv = await this.readVersion();
    const value = await this.reader.get(key, rv);
    this.reads.push({ begin: Buffer.from(key) });
    return value;
  }

  /** The parts of [begin, end) that no clear range of this transaction covers, ascending. */
  private uncovered(begin: Buffer, end: Buffer): Span[] {
    const out: Span[] = [];
    let cursor = begin;
    for (const s of this.cleared) {
      if (cmp(s.end, cursor) <= 0) continue;
      if (cmp(s.begin, end) >= 0) break;
      if (cmp(s.begin, cursor) > 0) out.push({ begin: cursor, end: s.begin });
      if (cmp(s.end, cursor) > 0) cursor = s.end;
    }
    if (cmp(cursor, end) < 0) out.push({ begin: cursor, end });
    return out;
  }

  async getRange(begin: Buffer, end: Buffer, opts: RangeOptions = {}): Promise<KeyValue[]> {
    this.checkOpen();
    checkKey(begin, 'range begin');
    checkKey(end, 'range end');
    const limit = Math.max(0, Math.floor(opts.limit ?? 0));
    const reverse = opts.reverse === true;
    if (cmp(begin, end) >= 0) return [];
    const spans = this.uncovered(begin, end);
    if (reverse) spans.reverse();
    const fromStore: KeyValue[] = [];
    // The part of [begin, end) fully known after the scan: every stored key in it was read.
    let knownBegin = begin;
    let knownEnd = end;
    let enough = false;
    if (spans.length > 0) {
      const rv = await this.readVersion();
      for (const span of spans) {
        let lo = span.begin;
        let hi = span.end;
        while (!enough) {
          const want = limit ? limit - fromStore.length : 0;
          const batch = await this.reader.getRange(lo, hi, { limit: want, reverse }, rv);
          const full = want > 0 && batch.length >= want;
          if (!reverse) {
            const upTo = full ? keyAfter(batch[batch.length - 1].key) : hi;
            this.reads.push({ begin: Buffer.from(lo), end: Buffer.from(upTo) });
            lo = upTo;
          } else {
            const from = full ? batch[batch.length - 1].key : lo;
            this.reads.push({ begin: Buffer.from(from), end: Buffer.from(hi) });
            hi = from;
          }
          for (const kv of batch) if (!this.writes.has(mapKey(kv.key))) fromStore.push(kv);
          if (limit && fromStore.length >= limit) {
            enough = true;
            if (!reverse) knownEnd = lo;
            else knownBegin = hi;
          }
          if (!full) break;
        }
        if (enough) break;
      }
    }
    const merged = fromStore.slice();
    for (const w of this.writes.values()) {
      if (w.value && cmp(w.key, knownBegin) >= 0 && cmp(w.key, knownEnd) < 0) merged.push({ key: w.key, value: w.value });
    }
    merged.sort((a, b) => (reverse ? cmp(b.key, a.key) : cmp(a.key, b.key)));
    return limit ? merged.slice(0, limit) : merged;
  }

  set(key: Buffer, value: Buffer): void {
    this.checkOpen();
    checkKey(key);
    checkValue(value);
    const copy = Buffer.from(key);
    this.writes.set(mapKey(copy), { key: copy, value: Buffer.from(value) });
  }

  clear(key: Buffer): void {
    this.checkOpen();
    checkKey(key);
    const copy = Buffer.from(key);
    this.writes.set(mapKey(copy), { key: copy, value: null });
  }

  clearRange(begin: Buffer, end: Buffer): void {
    this.checkOpen();
    checkKey(begin, 'range begin');
    checkKey(end, 'range end');
    if (cmp(begin, end) >= 0) return;
    for (const [k, w] of this.writes) {
      if (cmp(w.key, begin) >= 0 && cmp(w.key, end) < 0) this.writes.delete(k);
    }
    // Insert and merge overlapping or touching spans.
    let lo: Buffer = Buffer.from(begin);
    let hi: Buffer = Buffer.from(end);
    const kept: Span[] = [];
    for (const s of this.cleared) {
      if (cmp(s.end, lo) < 0 || cmp(s.begin, hi) > 0) kept.push(s);
      else {
        if (cmp(s.begin, lo) < 0) lo = s.begin;
        if (cmp(s.end, hi) > 0) hi = s.end;
      }
    }
    kept.push({ begin: lo, end: hi });
    kept.sort((a, b) => cmp(a.begin, b.begin));
    this.cleared = kept;
  }

  /**
   * Ends the transaction: no call on it works afterwards. Returns the commit request, or
   * undefined when nothing was written (a read-only transaction commits nothing).
   */
  finish(): CommitRequest | undefined {
    this.finished = true;
    // Clear ranges first: every buffered write was made after the last clear range covering it.
    const mutations: Mutation[] = this.cleared.map((s) => ({ type: 'clear_range', key: s.begin, end: s.end }));
    for (const w of this.writes.values()) {
      mutations.push(w.value ? { type: 'set', key: w.key, value: w.value } : { type: 'clear', key: w.key });
    }
    if (mutations.length === 0) return undefined;
    return { readVersion: this.rvKnown ?? 0, reads: this.reads, mutations };
  }
}

/** A read-only view: the caller gets only get/getRange. */
function readOnly(tx: BufferedTransaction): ReadTransaction {
  return {
    get: (key) => tx.get(key),
    getRange: (begin, end, opts) => tx.getRange(begin, end, opts),
  };
}

export interface RetryPolicy {
  /** Attempts after the first before giving up with MetastoreError('Conflict'). */
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

const DEFAULT_RETRY: RetryPolicy = { maxRetries: 20, baseDelayMs: 10, maxDelayMs: 1000 };

/** Full-jitter exponential backoff. */
function backoff(attempt: number, policy: RetryPolicy): Promise<void> {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * cap));
}

/**
 * Runs `fn` in a fresh transaction and commits it; on a conflict or a too-old read version
 * (from the commit or from a read) it backs off and runs `fn` again, up to the policy's limit.
 * An error thrown by `fn` itself ends the transaction with nothing committed.
 */
async function runOptimistic<T>(
  newTx: () => BufferedTransaction,
  commit: (req: CommitRequest) => Promise<CommitResult> | CommitResult,
  fn: (tx: Transaction) => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
): Promise<T> {
  let last = '';
  for (let attempt = 0; attempt <= policy.maxRetries; attempt++) {
    if (attempt > 0) await backoff(attempt - 1, policy);
    const tx = newTx();
    let result: T;
    try {
      result = await fn(tx);
    } catch (err) {
      tx.finish();
      if (err instanceof MetastoreError && err.code === 'TooOld') {
        last = 'too_old';
        continue;
      }
      throw err;
    }
    const req = tx.finish();
    if (!req) return result;
    const res = await commit(req);
    if (res.committed) return result;
    last = res.conflict || 'conflict';
  }
  throw new MetastoreError('Conflict', `transaction not committed after ${policy.maxRetries + 1} attempts (last: ${last})`);
}

export interface RemoteMetastoreOptions {
  log?: Logger;
  /** Per-RPC deadline (default 10 s). */
  deadlineMs?: number;
  retry?: RetryPolicy;
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
    this.client = new MetastoreService(address, grpc.credentials.createInsecure(), {
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
    const size = commitSize(req);
    if (size > MAX_COMMIT_BYTES) throw new MetastoreError('TooLarge', `commit of ${size} bytes is over the ${MAX_COMMIT_BYTES}-byte limit`);
    const wire = {
      read_version: req.readVersion,
      reads: req.reads.map((r) => ({ begin: r.begin, end: r.end ?? Buffer.alloc(0) })),
      mutations: req.mutations.map((m) =>
        m.type === 'set' ? { type: 'set', key: m.key, value: m.value } : m.type === 'clear' ? { type: 'clear', key: m.key } : { type: 'clear_range', key: m.key, end: m.end },
      ),
    };
    try {
      // Never resent: a commit whose answer was lost may have been applied.
      return await unary<object, MetaCommitResponse>(this.client, 'Commit', wire, this.deadlineMs);
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
