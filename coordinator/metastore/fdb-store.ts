/**
 * The FoundationDB metastore (production), through the `foundationdb` npm package. That
 * package needs the FoundationDB client library (libfdb_c) of the cluster's version on the
 * machine; it is an optional dependency and is loaded only here, when a cluster file is
 * configured. Without it, `openFdbMetastore` fails with MetastoreError('Unavailable').
 *
 * Layout, all under one prefix (default `alluxio/metastore/`):
 *   P + "d" + key              → 0x00 + value                     (values up to 90,000 bytes)
 *                              → 0x01 + u32 length + u16 chunks   (larger values, up to 1 MiB)
 *   P + "c" + esc(key) + 0x00 + u16 i → chunk i of a large value
 * FoundationDB caps values at 100,000 bytes; the contract promises 1 MiB, hence the chunks.
 * esc() doubles 0x00 as 0x00 0xff (the tuple layer's byte-string rule), which keeps chunk keys
 * in key order, so a clear range also finds the chunks of every key in it.
 *
 * In-process use (`transact`, `read`) maps onto `db.doTransaction`: FoundationDB gives
 * read-your-writes, conflict detection and retries itself. For the gRPC service, reads run at
 * the worker's read version (`setReadVersion`), and a Commit is one FoundationDB transaction
 * at that read version with the worker's reads added as read conflict ranges, so FoundationDB
 * detects the conflicts. FoundationDB read versions expire after about 5 seconds: a worker
 * transaction older than that is refused as too old and run again.
 */
import type { Logger } from '../../common/log.js';
import { MetastoreError, type KeyValue, type RangeOptions, type ReadTransaction, type Transaction } from '../../common/metastore/types.js';
import { checkCommitSize, checkKey, checkValue, MAX_COMMIT_BYTES, type CommitRequest, type CommitResult, type MetastoreBackend } from './backend.js';

// The subset of the `foundationdb` package (v2) used here.
export interface FdbTransactionOptions {
  retry_limit?: number;
  timeout?: number;
}
export interface FdbTransaction {
  get(key: Buffer): Promise<Buffer | undefined | null>;
  getRangeAll(start: Buffer, end: Buffer, opts?: { limit?: number; reverse?: boolean }): Promise<Array<[Buffer, Buffer]>>;
  set(key: Buffer, value: Buffer): void;
  clear(key: Buffer): void;
  clearRange(start: Buffer, end: Buffer): void;
  addReadConflictRange(start: Buffer, end: Buffer): void;
  setReadVersion(v: Buffer): void;
  getReadVersion(): Promise<Buffer>;
  getCommittedVersion(): Buffer;
  rawCommit(): Promise<void>;
  rawCancel(): void;
  snapshot(): FdbTransaction;
}
export interface FdbDatabase {
  doTransaction<T>(body: (tn: FdbTransaction) => Promise<T>, opts?: FdbTransactionOptions): Promise<T>;
  rawCreateTransaction(opts?: FdbTransactionOptions): FdbTransaction;
  close(): void;
}
export interface FdbModule {
  setAPIVersion(version: number): void;
  open(clusterFile?: string): FdbDatabase;
}

export interface FdbMetastoreOptions {
  log?: Logger;
  /** FoundationDB API version (default 710: clusters of 7.1 and later). */
  apiVersion?: number;
  /** Key prefix of everything this store writes (default `alluxio/metastore/`). */
  prefix?: Buffer;
  /** Retries of an in-process transaction (default 20). */
  retryLimit?: number;
  /** How the `foundationdb` module is loaded (tests substitute it). */
  load?: () => Promise<FdbModule>;
}

const INLINE_MAX = 90_000;
const CHUNK_BYTES = 90_000;
const OPEN_PROBE_MS = 10_000;

// FoundationDB error codes (https://apple.github.io/foundationdb/api-error-codes.html).
const FDB_TRANSACTION_TOO_OLD = 1007;
const FDB_FUTURE_VERSION = 1009;
const FDB_NOT_COMMITTED = 1020;
const FDB_COMMIT_UNKNOWN_RESULT = 1021;
const FDB_TOO_LARGE = new Set([2101, 2102, 2103]);

function fdbCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'number' ? code : undefined;
}

/** A FoundationDB error as the contract's error; other errors pass through. */
export function fromFdbError(err: unknown, what: string): unknown {
  const code = fdbCode(err);
  if (code === undefined || err instanceof MetastoreError) return err;
  const msg = `FoundationDB ${what}: ${(err as Error).message} (error ${code})`;
  if (code === FDB_TRANSACTION_TOO_OLD || code === FDB_FUTURE_VERSION) return new MetastoreError('TooOld', msg, { cause: err });
  if (code === FDB_NOT_COMMITTED) return new MetastoreError('Conflict', msg, { cause: err });
  if (FDB_TOO_LARGE.has(code)) return new MetastoreError('TooLarge', msg, { cause: err });
  if (code === FDB_COMMIT_UNKNOWN_RESULT) return new MetastoreError('Unavailable', `${msg}; the commit may or may not have been applied`, { cause: err });
  if (code >= 1000 && code < 2000) return new MetastoreError('Unavailable', msg, { cause: err });
  return new MetastoreError('Internal', msg, { cause: err });
}

function versionToNumber(v: Buffer): number {
  return Number(v.readBigInt64BE(0));
}

function versionToBuffer(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(v));
  return b;
}

const ZERO = Buffer.from([0x00]);
const FF = Buffer.from([0xff]);

/** Tuple-layer escaping: 0x00 → 0x00 0xff (order-preserving, and prefix-free with the 0x00 terminator). */
function escapeBytes(key: Buffer): Buffer {
  if (!key.includes(0)) return key;
  const out: number[] = [];
  for (const b of key) {
    out.push(b);
    if (b === 0) out.push(0xff);
  }
  return Buffer.from(out);
}

/** Maps contract keys to FoundationDB keys. */
export class FdbLayout {
  readonly data: Buffer;
  readonly chunks: Buffer;

  constructor(prefix: Buffer) {
    this.data = Buffer.concat([prefix, Buffer.from('d')]);
    this.chunks = Buffer.concat([prefix, Buffer.from('c')]);
  }

  dataKey(key: Buffer): Buffer {
    return Buffer.concat([this.data, key]);
  }

  userKey(dataKey: Buffer): Buffer {
    return dataKey.subarray(this.data.length);
  }

  private chunkBase(key: Buffer): Buffer {
    return Buffer.concat([this.chunks, escapeBytes(key), ZERO]);
  }

  chunkKey(key: Buffer, i: number): Buffer {
    const idx = Buffer.alloc(2);
    idx.writeUInt16BE(i);
    return Buffer.concat([this.chunkBase(key), idx]);
  }

  /** Every chunk key of `key`: chunk indexes never start with 0xff, esc(key) + 0x00 + 0xff begins longer keys. */
  chunksOf(key: Buffer): [Buffer, Buffer] {
    const base = this.chunkBase(key);
    return [base, Buffer.concat([base, FF])];
  }

  /** Every chunk key of the keys in [begin, end). */
  chunksIn(begin: Buffer, end: Buffer): [Buffer, Buffer] {
    return [this.chunkBase(begin), this.chunkBase(end)];
  }
}

/** The contract's Transaction over one FoundationDB transaction. */
class FdbTx implements Transaction {
  private finished = false;
  /** Keys and values written, against MAX_COMMIT_BYTES (FoundationDB's own limit is higher). */
  private written = 0;

  constructor(private readonly tn: FdbTransaction, private readonly layout: FdbLayout) {}

  finish(): void {
    this.finished = true;
  }

  checkSize(): void {
    if (this.written > MAX_COMMIT_BYTES) throw new MetastoreError('TooLarge', `commit of ${this.written} bytes is over the ${MAX_COMMIT_BYTES}-byte limit`);
  }

  private checkOpen(): void {
    if (this.finished) throw new MetastoreError('Internal', 'the transaction is already finished (used after its function returned?)');
  }

  private async decode(key: Buffer, raw: Buffer): Promise<Buffer> {
    if (raw[0] === 0x00) return raw.subarray(1);
    if (raw[0] === 0x01 && raw.length === 7) {
      const length = raw.readUInt32BE(1);
      const count = raw.readUInt16BE(5);
      const [b, e] = this.layout.chunksOf(key);
      const chunks = await this.tn.getRangeAll(b, e);
      const value = Buffer.concat(chunks.map(([, v]) => v));
      if (chunks.length === count && value.length === length) return value;
    }
    throw new MetastoreError('Internal', `corrupt metastore entry for key ${key.toString('hex')}`);
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    this.checkOpen();
    checkKey(key);
    const raw = await this.tn.get(this.layout.dataKey(key));
    return raw ? this.decode(key, raw) : undefined;
  }

  async getRange(begin: Buffer, end: Buffer, opts: RangeOptions = {}): Promise<KeyValue[]> {
    this.checkOpen();
    checkKey(begin, 'range begin');
    checkKey(end, 'range end');
    if (Buffer.compare(begin, end) >= 0) return [];
    const limit = Math.max(0, Math.floor(opts.limit ?? 0));
    const rows = await this.tn.getRangeAll(this.layout.dataKey(begin), this.layout.dataKey(end), {
      ...(limit ? { limit } : {}),
      reverse: opts.reverse === true,
    });
    return Promise.all(
      rows.map(async ([k, raw]) => {
        const key = Buffer.from(this.layout.userKey(k));
        return { key, value: await this.decode(key, raw) };
      }),
    );
  }

  set(key: Buffer, value: Buffer): void {
    this.checkOpen();
    checkKey(key);
    checkValue(value);
    this.written += key.length + value.length;
    const [cb, ce] = this.layout.chunksOf(key);
    this.tn.clearRange(cb, ce);
    if (value.length <= INLINE_MAX) {
      this.tn.set(this.layout.dataKey(key), Buffer.concat([ZERO, value]));
      return;
    }
    const count = Math.ceil(value.length / CHUNK_BYTES);
    const header = Buffer.alloc(7);
    header[0] = 0x01;
    header.writeUInt32BE(value.length, 1);
    header.writeUInt16BE(count, 5);
    this.tn.set(this.layout.dataKey(key), header);
    for (let i = 0; i < count; i++) this.tn.set(this.layout.chunkKey(key, i), value.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES));
  }

  clear(key: Buffer): void {
    this.checkOpen();
    checkKey(key);
    this.written += key.length;
    this.tn.clear(this.layout.dataKey(key));
    const [cb, ce] = this.layout.chunksOf(key);
    this.tn.clearRange(cb, ce);
  }

  clearRange(begin: Buffer, end: Buffer): void {
    this.checkOpen();
    checkKey(begin, 'range begin');
    checkKey(end, 'range end');
    if (Buffer.compare(begin, end) >= 0) return;
    this.written += begin.length + end.length;
    this.tn.clearRange(this.layout.dataKey(begin), this.layout.dataKey(end));
    const [cb, ce] = this.layout.chunksIn(begin, end);
    this.tn.clearRange(cb, ce);
  }
}

export class FdbMetastore implements MetastoreBackend {
  readonly kind = 'foundationdb' as const;
  private readonly layout: FdbLayout;
  private readonly retryLimit: number;
  private closed = false;

  constructor(private readonly db: FdbDatabase, opts: FdbMetastoreOptions = {}) {
    this.layout = new FdbLayout(opts.prefix ?? Buffer.from('alluxio/metastore/'));
    this.retryLimit = opts.retryLimit ?? 20;
  }

  private checkOpen(): void {
    if (this.closed) throw new MetastoreError('Unavailable', 'the metastore is closed');
  }

  /** A transaction for one low-level call, reading at `readVersion` (0: FoundationDB's current). */
  private at(readVersion: number, opts?: FdbTransactionOptions): FdbTransaction {
    this.checkOpen();
    const tn = this.db.rawCreateTransaction(opts);
    if (readVersion > 0) tn.setReadVersion(versionToBuffer(readVersion));
    return tn;
  }

  async readVersion(opts?: FdbTransactionOptions): Promise<number> {
    try {
      return versionToNumber(await this.at(0, opts).getReadVersion());
    } catch (err) {
      throw fromFdbError(err, 'read version');
    }
  }

  async get(key: Buffer, readVersion: number): Promise<Buffer | undefined> {
    try {
      return await new FdbTx(this.at(readVersion).snapshot(), this.layout).get(key);
    } catch (err) {
      throw fromFdbError(err, 'get');
    }
  }

  async getRange(begin: Buffer, end: Buffer, opts: RangeOptions, readVersion: number): Promise<KeyValue[]> {
    try {
      return await new FdbTx(this.at(readVersion).snapshot(), this.layout).getRange(begin, end, opts);
    } catch (err) {
      throw fromFdbError(err, 'get range');
    }
  }

  async commit(req: CommitRequest): Promise<CommitResult> {
    checkCommitSize(req);
    const hasReads = req.reads.length > 0;
    const tn = this.at(hasReads ? req.readVersion : 0);
    try {
      for (const r of req.reads) {
        const begin = this.layout.dataKey(r.begin);
        const end = r.end && r.end.length > 0 ? this.layout.dataKey(r.end) : Buffer.concat([begin, ZERO]);
        if (Buffer.compare(begin, end) < 0) tn.addReadConflictRange(begin, end);
      }
      const tx = new FdbTx(tn, this.layout);
      for (const m of req.mutations) {
        if (m.type === 'set') tx.set(m.key, m.value);
        else if (m.type === 'clear') tx.clear(m.key);
        else tx.clearRange(m.key, m.end);
      }
      await tn.rawCommit();
      const committed = req.mutations.length > 0 ? versionToNumber(tn.getCommittedVersion()) : -1;
      return { committed: true, version: committed >= 0 ? committed : req.readVersion, conflict: '' };
    } catch (err) {
      const code = fdbCode(err);
      if (code === FDB_NOT_COMMITTED) return { committed: false, version: req.readVersion, conflict: 'conflict' };
      if (code === FDB_TRANSACTION_TOO_OLD || code === FDB_FUTURE_VERSION) return { committed: false, version: req.readVersion, conflict: 'too_old' };
      throw fromFdbError(err, 'commit');
    }
  }

  async transact<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    this.checkOpen();
    try {
      return await this.db.doTransaction(
        async (tn) => {
          const tx = new FdbTx(tn, this.layout);
          try {
            const result = await fn(tx);
            tx.checkSize();
            return result;
          } finally {
            tx.finish();
          }
        },
        { retry_limit: this.retryLimit },
      );
    } catch (err) {
      throw fromFdbError(err, 'transaction');
    }
  }

  async read<T>(fn: (tx: ReadTransaction) => Promise<T>): Promise<T> {
    this.checkOpen();
    try {
      return await this.db.doTransaction(
        async (tn) => {
          const tx = new FdbTx(tn.snapshot(), this.layout);
          try {
            return await fn({ get: (k) => tx.get(k), getRange: (b, e, o) => tx.getRange(b, e, o) });
          } finally {
            tx.finish();
          }
        },
        { retry_limit: this.retryLimit },
      );
    } catch (err) {
      throw fromFdbError(err, 'read');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

async function loadFoundationdb(): Promise<FdbModule> {
  // A variable specifier: the package is optional and has no types when it is not installed.
  const specifier = 'foundationdb';
  const mod = (await import(specifier)) as { default?: FdbModule } & Partial<FdbModule>;
  return (mod.default ?? mod) as FdbModule;
}

/**
 * Connects to the FoundationDB cluster of `clusterFile` and checks that it answers (a read
 * version within 10 s). MetastoreError('Unavailable') when the client library is missing or
 * the cluster cannot be reached.
 */
export async function openFdbMetastore(clusterFile: string, opts: FdbMetastoreOptions = {}): Promise<FdbMetastore> {
  let fdb: FdbModule;
  try {
    fdb = await (opts.load ?? loadFoundationdb)();
    fdb.setAPIVersion(opts.apiVersion ?? 710);
  } catch (err) {
    throw new MetastoreError(
      'Unavailable',
      `FoundationDB client library not available: ${(err as Error).message} (install the FoundationDB client package of your cluster's version, which provides libfdb_c, and the "foundationdb" npm package)`,
      { cause: err },
    );
  }
  let db: FdbDatabase;
  try {
    db = fdb.open(clusterFile);
  } catch (err) {
    throw new MetastoreError('Unavailable', `cannot open the FoundationDB cluster file ${clusterFile}: ${(err as Error).message}`, { cause: err });
  }
  const store = new FdbMetastore(db, opts);
  try {
    const version = await store.readVersion({ timeout: OPEN_PROBE_MS });
    opts.log?.info({ cluster_file: clusterFile, version }, 'metastore opened (FoundationDB)');
  } catch (err) {
    await store.close();
    throw new MetastoreError('Unavailable', `the FoundationDB cluster of ${clusterFile} does not answer: ${(err as Error).message}`, { cause: err });
  }
  return store;
}
