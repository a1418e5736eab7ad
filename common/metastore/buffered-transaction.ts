/**
 * An optimistic transaction over a versioned reader: reads go to the store at one read version
 * and are recorded (the conflict set); writes are buffered and seen by the transaction's own
 * later reads (read-your-writes, clears and clear ranges included); `finish()` turns the buffer
 * into one commit request. `runOptimistic` is the retry loop around it.
 *
 * Shared by the coordinator's backends and the worker's RemoteMetastore.
 */
import {
  MetastoreError,
  type KeyValue,
  type RangeOptions,
  type ReadTransaction,
  type Transaction,
} from './types.js';
import { checkKey, checkValue, type CommitRequest, type CommitResult, type KeyRange, type Mutation } from './commit.js';

export interface VersionedReader {
  get(key: Buffer, readVersion: number): Promise<Buffer | undefined> | Buffer | undefined;
  getRange(begin: Buffer, end: Buffer, opts: RangeOptions, readVersion: number): Promise<KeyValue[]> | KeyValue[];
  /**
   * A read at the store's current version, answering that version too: a remote reader's
   * first read then needs no separate read-version round trip.
   */
  getCurrent?(key: Buffer): Promise<{ value: Buffer | undefined; version: number }>;
  getRangeCurrent?(begin: Buffer, end: Buffer, opts: RangeOptions): Promise<{ items: KeyValue[]; version: number }>;
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

export class BufferedTransaction implements Transaction {
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

  /**
   * The first read of the transaction fixes its read version: at the version the store answers
   * it at when the reader can say (one round trip instead of two), else at a fresh read version.
   */
  private async readKey(key: Buffer): Promise<Buffer | undefined> {
    if (!this.rv && this.reader.getCurrent) {
      const first = this.reader.getCurrent(key);
      this.rv = first.then((r) => (this.rvKnown = r.version));
      // Later reads await the version; a failed first read fails them, never the process.
      this.rv.catch(() => undefined);
      return (await first).value;
    }
    return this.reader.get(key, await this.readVersion());
  }

  private async readRange(begin: Buffer, end: Buffer, opts: RangeOptions): Promise<KeyValue[]> {
    if (!this.rv && this.reader.getRangeCurrent) {
      const first = this.reader.getRangeCurrent(begin, end, opts);
      this.rv = first.then((r) => (this.rvKnown = r.version));
      this.rv.catch(() => undefined);
      return (await first).items;
    }
    return this.reader.getRange(begin, end, opts, await this.readVersion());
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
    const value = await this.readKey(key);
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
      for (const span of spans) {
        let lo = span.begin;
        let hi = span.end;
        while (!enough) {
          const want = limit ? limit - fromStore.length : 0;
          const batch = await this.readRange(lo, hi, { limit: want, reverse });
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
export function readOnly(tx: BufferedTransaction): ReadTransaction {
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

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 20, baseDelayMs: 10, maxDelayMs: 1000 };

/** Full-jitter exponential backoff. */
export function backoff(attempt: number, policy: RetryPolicy): Promise<void> {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * cap));
}

/**
 * Runs `fn` in a fresh transaction and commits it; on a conflict or a too-old read version
 * (from the commit or from a read) it backs off and runs `fn` again, up to the policy's limit.
 * An error thrown by `fn` itself ends the transaction with nothing committed.
 */
export async function runOptimistic<T>(
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
