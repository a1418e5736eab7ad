/**
 * The metastore contract: an ordered key-value store with serializable transactions, the shape
 * FoundationDB offers. It is the strongly consistent home of write-cache metadata (object
 * entries, persistence state and queue, replica locations, pending multipart state).
 *
 * Keys and values are bytes; keys sort by unsigned byte order. A transaction reads at one read
 * version and buffers its writes; commit succeeds only if nothing it read (keys and ranges) was
 * written by another commit since that read version, else it fails with MetastoreConflict and
 * `transact` runs the function again (bounded retries). Backends: embedded SQLite in the
 * coordinator (served to workers over gRPC) and FoundationDB; both pass tests/contract/metastore.
 */

export class MetastoreError extends Error {
  override name = 'MetastoreError';
  constructor(readonly code: 'Conflict' | 'TooOld' | 'Unavailable' | 'TooLarge' | 'Internal', message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface KeyValue {
  key: Buffer;
  value: Buffer;
}

export interface RangeOptions {
  /** At most this many pairs (0 or absent: no limit). */
  limit?: number;
  /** Highest keys first. */
  reverse?: boolean;
}

export interface ReadTransaction {
  get(key: Buffer): Promise<Buffer | undefined>;
  /** Pairs with begin <= key < end, in key order (or reverse). */
  getRange(begin: Buffer, end: Buffer, opts?: RangeOptions): Promise<KeyValue[]>;
}

export interface Transaction extends ReadTransaction {
  set(key: Buffer, value: Buffer): void;
  clear(key: Buffer): void;
  /** Clears begin <= key < end. */
  clearRange(begin: Buffer, end: Buffer): void;
}

export interface Metastore {
  /** Runs `fn` in a transaction and commits it, retrying on conflict; returns fn's result. */
  transact<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  /** A read-only snapshot (no conflicts, no commit). */
  read<T>(fn: (tx: ReadTransaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The smallest key greater than every key starting with `prefix` (for prefix ranges). */
export function strinc(prefix: Buffer): Buffer {
  const out = Buffer.from(prefix);
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i] !== 0xff) {
      out[i]++;
      return out.subarray(0, i + 1);
    }
  }
  throw new MetastoreError('Internal', 'a key of only 0xff bytes has no successor');
}
