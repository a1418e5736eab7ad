/**
 * The embedded metastore: one SQLite database, `<dir>/metastore.db`, owned by the coordinator.
 *
 * - `kv(key, version, value)`: live pairs with the version of the commit that wrote them (the
 *   version column sits before the value so a conflict scan never walks a large value).
 * - `tombstones(key, version, at_ms)`: keys a commit deleted, with that commit's version, kept
 *   for conflict checks until pruned (older than `tombstoneRetentionMs` or more than
 *   `tombstoneRetentionVersions` behind). `horizon` is the newest pruned tombstone's version: a
 *   commit whose read version is below it cannot be checked and fails as too old.
 * - `meta`: the commit version (monotonic, persisted) and the horizon.
 *
 * Commits are optimistic and serializable: a commit fails if any key or range it read has a
 * version (live or tombstone) newer than its read version; otherwise its mutations are applied
 * in one SQLite transaction under a new version. Reads return the newest committed data (SQLite
 * keeps no old versions): a read of anything newer than the read version makes the commit fail,
 * so a transaction that writes never acts on a state that did not exist. A read-only
 * transaction commits nothing and is not checked: each of its reads sees the latest committed
 * value of what it reads, not one point in time across reads.
 *
 * WAL journal, exclusive locking (a second process opening the same file is refused). Every
 * acknowledged commit survives power loss, but the sync is ours, not SQLite's
 * (synchronous=NORMAL: SQLite syncs only around checkpoints): `commit` syncs the WAL before it
 * returns, as synchronous=FULL would; `commitMany` applies a group and `durable()` then syncs
 * the WAL once for all of it on libuv's thread pool, so the event loop keeps serving while the
 * disk works (a blocking sync per commit held it 40% of the time under write load). Until that
 * sync is done the group is not acknowledged, and remote readers wait for it (see the gRPC
 * service), so nobody acts on a commit a power loss could take back.
 */
import { closeSync, fdatasync, fdatasyncSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../../common/log.js';
import { MetastoreError, type KeyValue, type RangeOptions, type ReadTransaction, type Transaction } from '../../common/metastore/types.js';
import { checkCommitSize, type CommitRequest, type CommitResult, type KeyRange, type MetastoreBackend } from './backend.js';
import { BufferedTransaction, DEFAULT_RETRY, readOnly, runOptimistic, type RetryPolicy } from '../../common/metastore/buffered-transaction.js';

export interface SqliteMetastoreOptions {
  /** Tombstones older than this are pruned (default 5 minutes). */
  tombstoneRetentionMs?: number;
  /** Tombstones more than this many versions behind the newest are pruned (default 100,000). */
  tombstoneRetentionVersions?: number;
  /** Pruning runs after a commit at most this often (default 1 s; 0: after every commit). */
  pruneIntervalMs?: number;
  retry?: RetryPolicy;
  log?: Logger;
}

export const METASTORE_DB_FILE = 'metastore.db';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, version INTEGER NOT NULL, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tombstones (key BLOB PRIMARY KEY, version INTEGER NOT NULL, at_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tombstones_by_version ON tombstones (version);
CREATE INDEX IF NOT EXISTS tombstones_by_time ON tombstones (at_ms, version);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (name, value) VALUES ('schema', 1), ('version', 0), ('horizon', 0);
`;

interface Row {
  key: Buffer;
  value: Buffer;
}

function prepareAll(db: Database.Database) {
  return {
    get: db.prepare<[Buffer], { value: Buffer }>('SELECT value FROM kv WHERE key = ?'),
    rangeAsc: db.prepare<[Buffer, Buffer], Row>('SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key'),
    rangeAscLimit: db.prepare<[Buffer, Buffer, number], Row>('SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key LIMIT ?'),
    rangeDesc: db.prepare<[Buffer, Buffer], Row>('SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key DESC'),
    rangeDescLimit: db.prepare<[Buffer, Buffer, number], Row>('SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key DESC LIMIT ?'),
    keyChanged: db.prepare<[Buffer, number, Buffer, number], { x: number }>(
      'SELECT 1 AS x FROM kv WHERE key = ? AND version > ? UNION ALL SELECT 1 FROM tombstones WHERE key = ? AND version > ? LIMIT 1',
    ),
    rangeChangedLive: db.prepare<[Buffer, Buffer, number], { x: number }>('SELECT 1 AS x FROM kv WHERE key >= ? AND key < ? AND version > ? LIMIT 1'),
    rangeChangedDead: db.prepare<[Buffer, Buffer, number], { x: number }>('SELECT 1 AS x FROM tombstones WHERE key >= ? AND key < ? AND version > ? LIMIT 1'),
    set: db.prepare<[Buffer, number, Buffer]>(
      'INSERT INTO kv (key, version, value) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET version = excluded.version, value = excluded.value',
    ),
    clear: db.prepare<[Buffer]>('DELETE FROM kv WHERE key = ?'),
    tombstone: db.prepare<[Buffer, number, number]>('INSERT OR REPLACE INTO tombstones (key, version, at_ms) VALUES (?, ?, ?)'),
    tombstoneRange: db.prepare<[number, number, Buffer, Buffer]>(
      'INSERT OR REPLACE INTO tombstones (key, version, at_ms) SELECT key, ?, ? FROM kv WHERE key >= ? AND key < ?',
    ),
    clearRange: db.prepare<[Buffer, Buffer]>('DELETE FROM kv WHERE key >= ? AND key < ?'),
    newestOlderThan: db.prepare<[number], { v: number | null }>('SELECT max(version) AS v FROM tombstones WHERE at_ms < ?'),
    newestAtOrBelow: db.prepare<[number], { v: number | null }>('SELECT max(version) AS v FROM tombstones WHERE version <= ?'),
    prune: db.prepare<[number]>('DELETE FROM tombstones WHERE version <= ?'),
    readMeta: db.prepare<[string], { value: number }>('SELECT value FROM meta WHERE name = ?'),
    writeMeta: db.prepare<[number, string]>('UPDATE meta SET value = ? WHERE name = ?'),
  };
}

export class SqliteMetastore implements MetastoreBackend {
  readonly kind = 'sqlite' as const;
  /** The database file. */
  readonly file: string;
  private readonly db: Database.Database;
  private readonly st: ReturnType<typeof prepareAll>;
  private readonly commitTx: Database.Transaction<(req: CommitRequest, now: number) => CommitResult>;
  private readonly commitManyTx: Database.Transaction<(reqs: CommitRequest[], now: number) => CommitResult[]>;
  private readonly retentionMs: number;
  private readonly retentionVersions: number;
  private readonly pruneIntervalMs: number;
  private readonly retry: RetryPolicy;
  private readonly log: Logger | undefined;
  private version: number;
  private horizonVersion: number;
  private lastPruneMs = 0;
  private closed = false;
  /** The WAL, open for syncing (SQLite keeps the same file while its connection is open). */
  private walFd: number | undefined;
  /** Every commit up to this version is on disk. */
  private syncedVersion: number;
  private syncing: Promise<void> | undefined;

  /** Opens (creating if needed) `<dir>/metastore.db`. */
  static open(dir: string, opts: SqliteMetastoreOptions = {}): SqliteMetastore {
    mkdirSync(dir, { recursive: true });
    return new SqliteMetastore(path.join(dir, METASTORE_DB_FILE), opts);
  }

  private constructor(file: string, opts: SqliteMetastoreOptions) {
    this.file = file;
    this.retentionMs = opts.tombstoneRetentionMs ?? 5 * 60_000;
    this.retentionVersions = opts.tombstoneRetentionVersions ?? 100_000;
    this.pruneIntervalMs = opts.pruneIntervalMs ?? 1000;
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.log = opts.log;
    let db: Database.Database | undefined;
    try {
      db = new Database(file, { timeout: 1000 });
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(SCHEMA); // a write: takes and keeps the exclusive lock
    } catch (err) {
      db?.close();
      const busy = (err as { code?: string }).code?.startsWith('SQLITE_BUSY');
      throw new MetastoreError(
        'Unavailable',
        busy ? `the metastore ${file} is in use by another process` : `cannot open the metastore ${file}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    this.db = db;
    this.st = prepareAll(db);
    this.commitTx = db.transaction((req: CommitRequest, now: number) => this.applyCommit(req, now));
    this.commitManyTx = db.transaction((reqs: CommitRequest[], now: number) => reqs.map((req) => {
      const res = this.applyCommit(req, now);
      // The next commit of the batch is checked against this one.
      if (res.committed && res.version > this.version) this.version = res.version;
      return res;
    }));
    this.version = this.st.readMeta.get('version')!.value;
    this.syncedVersion = this.version;
    this.horizonVersion = this.st.readMeta.get('horizon')!.value;
    this.prune(Date.now());
    this.log?.info({ file, version: this.version, horizon: this.horizonVersion }, 'metastore opened (embedded SQLite)');
  }

  /** Tombstones at or below this version are gone: commits reading below it fail as too old. */
  get horizon(): number {
    return this.horizonVersion;
  }

  private checkOpen(): void {
    if (this.closed) throw new MetastoreError('Unavailable', 'the metastore is closed');
  }

  readVersion(): number {
    this.checkOpen();
    return this.version;
  }

  get(key: Buffer, _readVersion: number): Buffer | undefined {
    this.checkOpen();
    return this.st.get.get(key)?.value;
  }

  getRange(begin: Buffer, end: Buffer, opts: RangeOptions, _readVersion: number): KeyValue[] {
    this.checkOpen();
    if (Buffer.compare(begin, end) >= 0) return [];
    const limit = Math.max(0, Math.floor(opts.limit ?? 0));
    const rows = opts.reverse
      ? limit ? this.st.rangeDescLimit.all(begin, end, limit) : this.st.rangeDesc.all(begin, end)
      : limit ? this.st.rangeAscLimit.all(begin, end, limit) : this.st.rangeAsc.all(begin, end);
    return rows.map((r) => ({ key: r.key, value: r.value }));
  }

  private changedSince(r: KeyRange, readVersion: number): boolean {
    if (!r.end || r.end.length === 0) return this.st.keyChanged.get(r.begin, readVersion, r.begin, readVersion) !== undefined;
    if (Buffer.compare(r.begin, r.end) >= 0) return false;
    return (
      this.st.rangeChangedLive.get(r.begin, r.end, readVersion) !== undefined ||
      this.st.rangeChangedDead.get(r.begin, r.end, readVersion) !== undefined
    );
  }

  commit(req: CommitRequest): CommitResult {
    this.checkOpen();
    checkCommitSize(req);
    const now = Date.now();
    const result = this.commitTx.immediate(req, now);
    if (result.committed && result.version > this.version) {
      this.version = result.version;
      this.syncWalNow();
      if (now - this.lastPruneMs >= this.pruneIntervalMs) this.prune(now);
    }
    return result;
  }

  private wal(): number {
    if (this.walFd === undefined) this.walFd = openSync(`${this.file}-wal`, 'r');
    return this.walFd;
  }

  /** Blocks until the WAL is on disk (the single-commit path, as synchronous=FULL). */
  private syncWalNow(): void {
    const v = this.version;
    fdatasyncSync(this.wal());
    this.syncedVersion = Math.max(this.syncedVersion, v);
  }

  /**
   * Resolves once every commit applied so far is on disk (undefined when it already is): one
   * WAL sync, on the thread pool, covers every commit applied before it started.
   */
  durable(): Promise<void> | undefined {
    if (this.syncedVersion >= this.version) return undefined;
    const target = this.version;
    const wait = async (): Promise<void> => {
      while (this.syncedVersion < target) {
        if (!this.syncing) {
          const upTo = this.version;
          const fd = this.wal();
          this.syncing = new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())))
            .then(() => { this.syncedVersion = Math.max(this.syncedVersion, upTo); })
            .finally(() => { this.syncing = undefined; });
        }
        await this.syncing;
      }
    };
    return wait();
  }

  /**
   * Group commit: one SQLite transaction for the whole batch, each request checked against the
   * store including the requests before it; a failed batch rolls back whole. Applied, not yet
   * durable: acknowledge after `durable()` resolves.
   */
  commitMany(reqs: CommitRequest[]): CommitResult[] {
    this.checkOpen();
    for (const req of reqs) checkCommitSize(req);
    const now = Date.now();
    const before = this.version;
    try {
      const results = this.commitManyTx.immediate(reqs, now);
      if (this.version > before && now - this.lastPruneMs >= this.pruneIntervalMs) this.prune(now);
      return results;
    } catch (err) {
      this.version = before;
      throw err;
    }
  }

  private applyCommit(req: CommitRequest, now: number): CommitResult {
    const current = this.version;
    if (req.reads.length > 0) {
      // A read version from the future (a store replaced under a running client) is as unusable as an old one.
      if (req.readVersion < this.horizonVersion || req.readVersion > current) return { committed: false, version: current, conflict: 'too_old' };
      for (const r of req.reads) {
        if (this.changedSince(r, req.readVersion)) return { committed: false, version: current, conflict: 'conflict' };
      }
    }
    if (req.mutations.length === 0) return { committed: true, version: current, conflict: '' };
    const v = current + 1;
    for (const m of req.mutations) {
      switch (m.type) {
        case 'set':
          this.st.set.run(m.key, v, m.value);
          break;
        case 'clear':
          if (this.st.clear.run(m.key).changes > 0) this.st.tombstone.run(m.key, v, now);
          break;
        case 'clear_range':
          if (Buffer.compare(m.key, m.end) < 0) {
            this.st.tombstoneRange.run(v, now, m.key, m.end);
            this.st.clearRange.run(m.key, m.end);
          }
          break;
      }
    }
    this.st.writeMeta.run(v, 'version');
    return { committed: true, version: v, conflict: '' };
  }

  /** Drops tombstones past the retention and moves the horizon to the newest one dropped. */
  prune(now = Date.now()): void {
    this.checkOpen();
    this.lastPruneMs = now;
    const byVersions = this.version - this.retentionVersions;
    const byTime = this.st.newestOlderThan.get(now - this.retentionMs)?.v ?? -1;
    const cutoff = Math.max(byVersions, byTime);
    if (cutoff <= this.horizonVersion) return;
    const newest = this.st.newestAtOrBelow.get(cutoff)?.v;
    if (newest === null || newest === undefined) return;
    this.db
      .transaction(() => {
        this.st.prune.run(cutoff);
        this.st.writeMeta.run(newest, 'horizon');
      })
      .immediate();
    this.horizonVersion = newest;
    this.log?.debug({ horizon: newest, version: this.version }, 'metastore tombstones pruned');
  }

  private newTransaction(): BufferedTransaction {
    return new BufferedTransaction(this, () => this.readVersion());
  }

  transact<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return runOptimistic(() => this.newTransaction(), (req) => this.commit(req), fn, this.retry);
  }

  async read<T>(fn: (tx: ReadTransaction) => Promise<T>): Promise<T> {
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
    await this.syncing?.catch(() => undefined);
    this.db.close();
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.log?.info({ file: this.file, version: this.version }, 'metastore closed');
  }
}

