/**
 * The write cache (seed 004), on one worker. With it on, the path config decides each write:
 *
 * - WRITE_BACK / TRANSIENT: the bytes go to this worker's disk (pinned) and to `writeReplicas-1`
 *   peers chosen on the ring, the entry goes to the metastore, then the client gets its answer;
 *   WRITE_BACK entries are queued and persisted to the UFS in the background (retries with
 *   exponential backoff), TRANSIENT ones never are;
 * - WRITE_THROUGH, NO_CACHE, READ_ONLY are applied by the object layer (UFS at once, no pages,
 *   refuse).
 *
 * The metastore is the truth: a restart resumes from it, a replica holder takes over the
 * persistence of a lost worker's objects, and reads find the holders there.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from '../../common/log.js';
import type { Metastore } from '../../common/metastore/types.js';
import type { ByteRange, UfsStatus, WriteOptions } from '../../common/ufs/types.js';
import { parsePathConfig, resolvePolicy, type PathConfig, type ResolvedPathPolicy } from '../../common/path-config.js';
import type { ClusterView } from '../cluster/cluster-view.js';
import type { PeerHttp } from '../cluster/peer-http.js';
import type { WorkerAddress } from '../../proto/index.js';
import type { ResolvedBucket } from '../objects/mount-table.js';
import { ObjectError } from '../objects/errors.js';
import { allEntries, clearEntry, dueForWorker, entriesFrom, entriesUnder, getEntry, pathAfterPrefix, putEntry, uploadKey, uploadsUnder, type CachePolicy, type WriteEntry } from '../../common/metastore/write-entries.js';
import { PinnedCapacityExceeded, type LocalWriteStore } from './local-store.js';
import type { ReplicaClient } from './replication.js';

export interface WriteCacheOptions {
  selfId: string;
  view: ClusterView;
  metastore: Metastore;
  local: LocalWriteStore;
  replicas: ReplicaClient;
  /** Authenticated HTTP to peers, for their copies (/_alluxio/wc). */
  peers: PeerHttp;
  resolveBucket: (bucket: string) => ResolvedBucket | undefined;
  persistThreads: number;
  retryInitialMs: number;
  retryMaxMs: number;
  orphanTimeoutMs: number;
  checkPeriodMs: number;
  danglingMs: number;
  log: Logger;
}

/** What the object layer needs from itself, set once it exists. */
export interface ObjectHooks {
  lockKey(path: string): Promise<() => void>;
  forget(path: string): void;
}

export interface PersistStats {
  queued: number;
  inFlight: number;
  failed: number;
  persisted: number;
  oldestUnpersistedAgeMs: number;
  lastError?: string;
  /** Objects persisted per second over the last minute. */
  recentObjectsPerSecond: number;
  pinnedBytes: number;
  pinnedCapacityBytes: number;
}

/** Namespace paths of write-cache objects are /bucket/key; folder objects never go here. */
export function statusOf(e: WriteEntry): UfsStatus & { writeCache: WriteEntry } {
  return { ...e.meta, key: e.key, isDirectory: false, size: e.size, mtimeMs: e.mtimeMs, etag: e.etag, fingerprint: `wc:${e.writeId}`, writeCache: e };
}

export class WriteCache {
  private hooks: ObjectHooks | undefined;
  private parsed: { version: number; config: PathConfig } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private gcTimer: NodeJS.Timeout | undefined;
  private running = 0;
  private closed = false;
  private started = false;
  private checking = false;
  private ticking = false;
  /** A kick arrived during a tick: read the queue again right after it. */
  private tickAgain = false;
  /** Paths a persister slot is working on (the queue still lists them until they are done). */
  private readonly persisting = new Set<string>();
  private readonly persistedAt: number[] = [];
  private persistedTotal = 0;
  private failuresTotal = 0;
  private lastError: string | undefined;

  constructor(private readonly o: WriteCacheOptions) {}

  attach(hooks: ObjectHooks): void {
    this.hooks = hooks;
  }

  get enabled(): boolean {
    return this.o.view.writeCacheEnabled;
  }

  /** The policy of a namespace path, or undefined when the write cache is off. */
  policy(path: string): ResolvedPathPolicy | undefined {
    if (!this.enabled) return undefined;
    const doc = this.o.view.pathConfig;
    if (!doc) return resolvePolicy({ default: { policyMode: 'WRITE_THROUGH' }, rules: [] }, path);
    if (!this.parsed || this.parsed.version !== doc.version) {
      try {
        this.parsed = { version: doc.version, config: parsePathConfig(doc.json) };
      } catch (err) {
        this.o.log.error({ err }, 'the coordinator sent a path config this worker cannot parse; using WRITE_THROUGH');
        this.parsed = { version: doc.version, config: { default: { policyMode: 'WRITE_THROUGH' }, rules: [] } };
      }
    }
    return resolvePolicy(this.parsed.config, path);
  }

  async lookup(path: string): Promise<WriteEntry | undefined> {
    if (!this.enabled) return undefined;
    return this.o.metastore.read((tx) => getEntry(tx, path));
  }

  /**
   * A write target for a WRITE_BACK or TRANSIENT write: shaped like a UFS write so the object
   * layer's integrity checks, commit lock and preconditions apply unchanged.
   */
  target(bucket: string, key: string, path: string, policy: CachePolicy, replicas: number, precondition?: { ifMatch?: string; ifNoneMatch?: '*' }): { write(key: string, body: Readable, opts: WriteOptions): Promise<UfsStatus> } {
    return { write: (_k, body, opts) => this.write(bucket, key, path, policy, replicas, body, opts, precondition) };
  }

  private async write(bucket: string, key: string, path: string, policy: CachePolicy, replicaCount: number, body: Readable, opts: WriteOptions, precondition?: { ifMatch?: string; ifNoneMatch?: '*' }): Promise<UfsStatus> {
    const writeId = randomUUID();
    let release: () => void;
    try {
      release = this.o.local.reserve(opts.contentLength ?? 0);
    } catch (err) {
      body.resume();
      throw this.slowDown(err);
    }
    try {
      const received = await this.o.local.receive(path, writeId, body, opts.signal);
      if (opts.contentLength === undefined) {
        try {
          const more = this.o.local.reserve(received.size);
          more();
        } catch (err) {
          await received.abort();
          throw this.slowDown(err);
        }
      }
      let commit;
      try {
        commit = await opts.beforeCommit();
      } catch (err) {
        await received.abort();
        throw err;
      }
      const peers = this.chooseReplicas(path, replicaCount);
      const dropAll = async () => {
        await this.o.local.remove(path, writeId);
        await Promise.all(peers.map((p) => this.o.replicas.drop(`${p.address.host}:${p.address.rpc_port}`, path, writeId).catch(() => undefined)));
      };
      // The copies are made durable while the transaction reads the current entry: the read
      // overlaps the disk sync, and the entry is committed only once every copy is in place.
      const placement = (async (): Promise<WriteEntry> => {
        await received.commit();
        // The committed file now counts as pinned; the reservation has done its work.
        release();
        const placed = await Promise.allSettled(peers.map((p) => this.o.replicas.put(`${p.address.host}:${p.address.rpc_port}`, path, writeId, this.o.local.read(path, writeId), received.size, commit.md5Hex)));
        const failed = placed.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw new ObjectError('UfsUnavailable', `could not place the replicas of ${path}: ${(failed.reason as Error).message}`, { cause: failed.reason });
        const now = Date.now();
        return {
          path, bucket, key, writeId, size: received.size, md5Hex: commit.md5Hex, etag: commit.etag ?? commit.md5Hex, mtimeMs: now,
          meta: { contentType: opts.contentType, headers: opts.headers, userMetadata: opts.userMetadata ?? {}, tags: opts.tags, checksum: commit.checksum },
          policy, state: 'NOT_PERSISTED', holders: [this.o.selfId, ...peers.map((p) => p.id)], persister: this.o.selfId,
          attempts: 0, dueMs: now, createdMs: now,
        };
      })();
      // Awaited in the transaction or after its failure; never an unhandled rejection.
      placement.catch(() => undefined);
      let previous: WriteEntry | undefined;
      let entry: WriteEntry;
      try {
        previous = await this.o.metastore.transact(async (tx) => {
          const prev = await getEntry(tx, path);
          // The conditional write, checked again where it is atomic across workers: another
          // worker may have committed a version since this one checked under its own lock.
          if (precondition && prev && !prev.deleted) {
            const unquote = (t: string) => t.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
            if (precondition.ifNoneMatch === '*') throw new ObjectError('PreconditionFailed', `${path} exists (If-None-Match: *)`);
            if (precondition.ifMatch !== undefined && precondition.ifMatch.trim() !== '*' && unquote(precondition.ifMatch) !== prev.etag) {
              throw new ObjectError('PreconditionFailed', `${path} has another entity tag (If-Match)`);
            }
          }
          entry = await placement;
          // A version another worker is persisting right now stays with that worker, whose
          // key lock then orders the two uploads (the older can never land last).
          const busy = prev && prev.state === 'TO_BE_PERSISTED' && prev.persister !== this.o.selfId && this.o.view.reachable(prev.persister) !== undefined;
          await putEntry(tx, busy ? { ...entry, persister: prev.persister } : entry, prev);
          return prev;
        });
      } catch (err) {
        // Not acknowledged: unless the commit did land after all, nothing may stay pinned.
        await placement.catch(() => undefined);
        const now = await this.o.metastore.read((tx) => getEntry(tx, path)).catch(() => undefined);
        if (now?.writeId !== writeId) await dropAll();
        throw err;
      }
      if (previous && previous.writeId !== writeId) void this.dropCopies(previous);
      this.kick();
      return statusOf(entry!);
    } finally {
      release();
    }
  }

  private slowDown(err: unknown): ObjectError {
    if (err instanceof PinnedCapacityExceeded) return new ObjectError('SlowDown', `${err.message}; retry once persistence catches up`, { cause: err });
    return err as ObjectError;
  }

  /** `n-1` distinct live peers after this worker, in ring order for the path. */
  private chooseReplicas(path: string, n: number) {
    if (n <= 1) return [];
    const ids = this.o.view.ring.owners(path, this.o.view.ring.size).filter((id) => id !== this.o.selfId).slice(0, n - 1);
    if (ids.length < n - 1) this.o.log.warn({ path, wanted: n - 1, available: ids.length }, 'fewer live peers than writeReplicas asks; writing the replicas there are');
    return ids.map((id) => this.o.view.members.get(id)!).filter(Boolean);
  }

  /** The bytes of a write-cache object: from this worker's disk, else from another holder. */
  async read(e: WriteEntry, range: ByteRange, signal?: AbortSignal): Promise<Readable> {
    const mine = await this.o.local.open(e.path, e.writeId, range);
    if (mine) return mine;
    for (const id of e.holders) {
      const m = this.o.view.reachable(id);
      if (!m || id === this.o.selfId) continue;
      try {
        return await fetchCopy(this.o.peers, m.address, e, range, signal);
      } catch (err) {
        this.o.log.warn({ holder: id, path: e.path, err: (err as Error).message }, 'a holder could not serve its copy');
      }
    }
    const now = await this.o.metastore.read((tx) => getEntry(tx, e.path)).catch(() => e);
    // Persisted (or replaced) since it was looked up: the caller looks again.
    if (now?.writeId !== e.writeId) throw new ObjectError('Changed', `${e.path} changed while it was read`);
    throw new ObjectError('UfsUnavailable', `no live worker holds ${e.path} (holders: ${e.holders.join(', ')})`);
  }

  /** Serves this worker's copy to a peer (the /_alluxio/wc endpoint). */
  localCopy(path: string, writeId: string, range?: ByteRange): Promise<Readable | undefined> {
    return this.o.local.open(path, writeId, range);
  }

  /** Drops the entry (cancelling its persistence) and its copies; true when there was one. Call under the key's lock. */
  async remove(path: string): Promise<boolean> {
    if (!this.enabled) return false;
    const removed = await this.o.metastore.transact(async (tx) => {
      const e = await getEntry(tx, path);
      if (e) clearEntry(tx, e);
      return e;
    });
    if (removed) await this.dropCopies(removed);
    return removed !== undefined;
  }

  /**
   * A delete on a WRITE_BACK path, written back like any write: a tombstone that hides the
   * object at once (reads answer NoSuchKey, listings leave it out) and that the persister
   * applies to the UFS. Call under the key's lock.
   */
  async markDeleted(bucket: string, key: string, path: string): Promise<void> {
    const now = Date.now();
    const tombstone: WriteEntry = {
      path, bucket, key, writeId: randomUUID(), size: 0, md5Hex: '', etag: '', mtimeMs: now, meta: {},
      policy: 'WRITE_BACK', state: 'NOT_PERSISTED', holders: [], persister: this.o.selfId, attempts: 0, dueMs: now, createdMs: now, deleted: true,
    };
    const previous = await this.o.metastore.transact(async (tx) => {
      const prev = await getEntry(tx, path);
      await putEntry(tx, tombstone, prev);
      return prev;
    });
    if (previous && !previous.deleted) await this.dropCopies(previous);
    this.kick();
  }

  /** Tags or metadata of an unpersisted object, changed in its entry. Call under the key's lock. */
  async updateMeta(path: string, update: { replace?: Partial<WriteEntry['meta']>; tags?: Record<string, string> }): Promise<UfsStatus | undefined> {
    const e = await this.o.metastore.transact(async (tx) => {
      const cur = await getEntry(tx, path);
      if (!cur) return undefined;
      if (cur.deleted) throw new ObjectError('NoSuchKey', `${path} does not exist`);
      const next: WriteEntry = { ...cur, meta: { ...cur.meta, ...(update.replace ? { contentType: update.replace.contentType, headers: update.replace.headers, userMetadata: update.replace.userMetadata ?? {} } : {}), ...(update.tags ? { tags: update.tags } : {}) } };
      await putEntry(tx, next, cur);
      return next;
    });
    return e ? statusOf(e) : undefined;
  }

  /**
   * Pending multipart uploads live in the metastore too (seed 004: the metastore holds pending
   * multipart state), so any worker can list them without asking every other.
   */
  async recordUpload(info: { bucket: string; key: string; uploadId: string }): Promise<void> {
    if (!this.enabled) return;
    await this.o.metastore.transact(async (tx) => { tx.set(uploadKey(info.bucket, info.key, info.uploadId), Buffer.from(JSON.stringify(info), 'utf8')); });
  }

  async forgetUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    if (!this.enabled) return;
    await this.o.metastore.transact(async (tx) => { tx.clear(uploadKey(bucket, key, uploadId)); });
  }

  listUploads<T>(bucket: string, prefix: string): Promise<T[]> {
    return uploadsUnder<T>(this.o.metastore, bucket, prefix);
  }

  /** Unpersisted entries under a namespace prefix (listings merge them with the UFS's). */
  list(prefix: string, startAfter: string, limit: number): Promise<WriteEntry[]> {
    if (!this.enabled) return Promise.resolve([]);
    return entriesUnder(this.o.metastore, prefix, startAfter, limit);
  }

  /**
   * Unpersisted entries for one listing page, rolled up at the delimiter: each common prefix
   * counts once and the scan jumps past it (so a prefix holding many entries costs one item, and
   * a page that ended on it never returns it again). Up to `limit` items, in key order; keys are
   * namespace paths. `complete` is false when the scan stopped at the limit.
   */
  async listPage(base: string, prefix: string, startAfter: string, delimiter: string | undefined, limit: number): Promise<{ items: { path: string; entry?: WriteEntry }[]; complete: boolean }> {
    const items: { path: string; entry?: WriteEntry }[] = [];
    if (!this.enabled) return { items, complete: true };
    const after = base + startAfter;
    let cursor = startAfter > prefix ? `${after}\0` : base + prefix;
    while (items.length < limit) {
      const want = limit - items.length;
      const batch = await entriesFrom(this.o.metastore, cursor, base + prefix, want);
      let jumped = false;
      for (const e of batch) {
        const key = e.path.slice(base.length);
        const at = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
        if (at >= 0) {
          const cp = key.slice(0, at + delimiter!.length);
          if (cp > startAfter) items.push({ path: base + cp });
          cursor = pathAfterPrefix(base + cp);
          jumped = true;
          break;
        }
        items.push({ path: e.path, entry: e });
        cursor = `${e.path}\0`;
        if (items.length >= limit) break;
      }
      if (!jumped && batch.length < want) return { items, complete: true };
    }
    return { items, complete: false };
  }

  private async dropCopies(e: WriteEntry): Promise<void> {
    for (const id of e.holders) {
      if (id === this.o.selfId) {
        await this.o.local.remove(e.path, e.writeId, e.size).catch(() => undefined);
        continue;
      }
      const m = this.o.view.reachable(id);
      // An unreachable holder keeps an orphan its own orphan check removes later.
      if (m) await this.o.replicas.drop(`${m.address.host}:${m.address.rpc_port}`, e.path, e.writeId).catch(() => undefined);
    }
  }

  // ---------------- persistence ----------------

  /** Starts the persister and the orphan check (owned here; stop() ends them). */
  start(): void {
    this.started = true;
    this.schedule(200);
    this.gcTimer = setInterval(() => void this.checkOrphans(), this.o.checkPeriodMs);
    this.gcTimer.unref();
    this.o.view.on('change', (c) => {
      if (c.membersChanged) void this.takeOver();
    });
  }

  /** After a tick that started work the queue is read again at once; an idle queue is polled every 200 ms. */
  private schedule(ms: number): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick().then((busy) => this.schedule(busy ? 0 : 200), () => this.schedule(200)), ms);
  }

  /** A new WRITE_BACK entry or a free persister slot: look at the queue now rather than at the next tick. */
  private kick(): void {
    if (!this.started || this.running >= this.o.persistThreads) return;
    if (this.ticking) this.tickAgain = true;
    else this.schedule(0);
  }

  async stop(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.gcTimer);
    while (this.running > 0) await new Promise((r) => setTimeout(r, 50));
  }

  /** True when it started work (more may be due). */
  private async tick(): Promise<boolean> {
    if (!this.enabled || !this.hooks || this.ticking || this.running >= this.o.persistThreads) return false;
    this.ticking = true;
    this.tickAgain = false;
    try {
      return (await this.tickOnce()) || this.tickAgain;
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Fills the free persister slots from the queue and returns without waiting for them: each
   * slot that frees up asks for the next entry at once (a pool, not batches separated by a
   * poll interval, which capped persistence at ~40 objects/s).
   */
  private async tickOnce(): Promise<boolean> {
    let due: string[];
    try {
      due = await dueForWorker(this.o.metastore, this.o.selfId, Date.now(), this.o.persistThreads * 4 + this.persisting.size);
    } catch (err) {
      this.lastError = `metastore: ${(err as Error).message}`;
      return false;
    }
    const work = due.filter((p) => !this.persisting.has(p)).slice(0, Math.max(0, this.o.persistThreads - this.running));
    for (const p of work) {
      this.persisting.add(p);
      void this.persistOne(p).catch((err: Error) => { this.lastError = `${p}: ${err.message}`; }).finally(() => {
        this.persisting.delete(p);
        this.kick();
      });
    }
    return work.length > 0;
  }

  private async persistOne(path: string): Promise<void> {
    this.running++;
    const release = await this.hooks!.lockKey(path);
    let entry: WriteEntry | undefined;
    try {
      // Claimed in one transaction: the version read is the one marked and then uploaded; one
      // taken over since it was queued (its persister is leaving the ring) goes to the heir.
      entry = await this.o.metastore.transact(async (tx) => {
        const cur = await getEntry(tx, path);
        if (!cur || cur.persister !== this.o.selfId || cur.policy !== 'WRITE_BACK') return undefined;
        if (cur.state !== 'TO_BE_PERSISTED') await putEntry(tx, { ...cur, state: 'TO_BE_PERSISTED' }, cur);
        return cur;
      });
      if (!entry) return;
      const e = entry;
      const b = this.o.resolveBucket(e.bucket);
      if (!b) throw new Error('the mount table has not reached this worker');
      if (e.deleted) {
        await b.ufs.delete(b.prefix + e.key);
      } else {
        const body = await this.read(e, { start: 0, end: Math.max(0, e.size - 1) });
        const source = e.size === 0 ? emptyStream(body) : body;
        await b.ufs.write(b.prefix + e.key, source, {
          ...e.meta,
          contentLength: e.size,
          beforeCommit: () => ({ md5Hex: e.md5Hex, etag: e.etag, checksum: e.meta.checksum }),
        });
      }
      const done = await this.o.metastore.transact(async (tx) => {
        const cur = await getEntry(tx, path);
        if (cur?.writeId !== e.writeId) return false;
        clearEntry(tx, cur);
        return true;
      });
      if (done) {
        this.hooks!.forget(path);
        await this.dropCopies(e);
        this.persistedTotal++;
        this.persistedAt.push(Date.now());
        if (this.persistedAt.length > 100_000) this.persistedAt.splice(0, 50_000);
      }
    } catch (err) {
      this.failuresTotal++;
      this.lastError = `${path}: ${(err as Error).message}`;
      this.o.log.warn({ path, err: (err as Error).message, attempts: (entry?.attempts ?? 0) + 1 }, 'persistence failed; will retry');
      if (entry) {
        const e = entry;
        const delay = Math.min(this.o.retryInitialMs * 2 ** e.attempts, this.o.retryMaxMs);
        await this.o.metastore.transact(async (tx) => {
          const cur = await getEntry(tx, path);
          if (cur?.writeId === e.writeId) await putEntry(tx, { ...cur, state: 'NOT_PERSISTED', attempts: cur.attempts + 1, dueMs: Date.now() + delay, lastError: (err as Error).message }, cur);
        }).catch(() => undefined);
      }
    } finally {
      release();
      this.running--;
    }
  }

  /**
   * After a membership change: the entries whose persister left the ring (lost, or being
   * decommissioned) are claimed by their first live holder (WRITE_BACK), so nothing
   * acknowledged waits on a dead or departing worker. A draining persister keeps what it is
   * uploading right now, and what no ring member holds a copy of: it persists those itself.
   */
  async takeOver(): Promise<void> {
    if (!this.enabled) return;
    const live = this.o.view.members;
    const keeps = (e: WriteEntry) => live.has(e.persister) || (this.o.view.draining.has(e.persister) && e.state === 'TO_BE_PERSISTED');
    let entries: WriteEntry[];
    try {
      entries = await allEntries(this.o.metastore);
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.policy !== 'WRITE_BACK' || keeps(e)) continue;
      // A tombstone has no copies: the path's owner on the ring takes it.
      const heir = e.holders.length ? e.holders.find((h) => live.has(h)) : this.o.view.ring.owner(e.path);
      if (heir !== this.o.selfId) continue;
      await this.o.metastore.transact(async (tx) => {
        const cur = await getEntry(tx, e.path);
        if (cur?.writeId !== e.writeId || keeps(cur) || cur.persister === this.o.selfId) return false;
        await putEntry(tx, { ...cur, persister: this.o.selfId, dueMs: Date.now() }, cur);
        return true;
      }).then((claimed) => { if (claimed) this.o.log.info({ path: e.path, from: e.persister }, 'took over the persistence of an object whose persister left the ring'); }, () => undefined);
    }
  }

  /**
   * Orphans (copies no entry names any more) and dangling temp writes are removed. A copy is an
   * orphan when it was already older than the orphan timeout when the entries were read and no
   * entry names its write id: write ids are unique, so one scan of the entries answers for every
   * file (the copies carry no path), and a copy whose entry was committed after the scan is
   * younger than the timeout.
   */
  async checkOrphans(): Promise<void> {
    if (!this.enabled || this.checking) return;
    this.checking = true;
    try {
      // Also the retry of a takeover that failed when the membership changed.
      await this.takeOver();
      await this.o.local.sweepDangling(this.o.danglingMs).catch(() => 0);
      const scannedAt = Date.now();
      // Straight from the metastore: entries we could not read are never taken for "none".
      const named = new Set((await allEntries(this.o.metastore)).map((e) => e.writeId));
      for (const f of await this.o.local.files()) {
        if (scannedAt - f.mtimeMs < this.o.orphanTimeoutMs || named.has(f.writeId)) continue;
        await this.o.local.removeFile(f.file);
        this.o.log.info({ write_id: f.writeId, file: f.file }, 'removed an orphaned write-cache copy');
      }
    } catch (err) {
      this.o.log.warn({ err }, 'the orphan check failed; it runs again next period');
    } finally {
      this.checking = false;
    }
  }

  async stats(): Promise<PersistStats> {
    const mine = (await allEntries(this.o.metastore).catch(() => [] as WriteEntry[])).filter((e) => e.persister === this.o.selfId);
    const now = Date.now();
    const recent = this.persistedAt.filter((t) => now - t < 60_000).length;
    const u = this.o.local.usage();
    return {
      queued: mine.filter((e) => e.policy === 'WRITE_BACK').length,
      inFlight: this.running,
      failed: mine.filter((e) => e.lastError).length,
      persisted: this.persistedTotal,
      oldestUnpersistedAgeMs: mine.reduce((m, e) => Math.max(m, now - e.createdMs), 0),
      lastError: this.lastError,
      recentObjectsPerSecond: recent / 60,
      pinnedBytes: u.pinnedBytes,
      pinnedCapacityBytes: u.capacityBytes,
    };
  }

  /** In-memory numbers, cheap enough for every metrics scrape: persisted and failed attempts since start, uploads running now. */
  persistCounters(): { persisted: number; failures: number; inFlight: number } {
    return { persisted: this.persistedTotal, failures: this.failuresTotal, inFlight: this.running };
  }

  async entriesOf(worker: string): Promise<WriteEntry[]> {
    return (await allEntries(this.o.metastore)).filter((e) => e.persister === worker);
  }
}

function emptyStream(r: Readable): Readable {
  r.resume();
  const p = new PassThrough();
  p.end();
  return p;
}

/** Another holder's copy, over its internal endpoint. */
function fetchCopy(peers: PeerHttp, address: WorkerAddress, e: WriteEntry, range: ByteRange, signal?: AbortSignal): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const q = new URLSearchParams({ path: e.path, writeId: e.writeId });
    const req = peers.request(address, { method: 'GET', path: `/_alluxio/wc?${q}`, signal, requestId: randomBytes(8).toString('hex').toUpperCase(), headers: { Range: `bytes=${range.start}-${range.end}` } });
    req.on('response', (res) => {
      if (res.statusCode !== 200 && res.statusCode !== 206) {
        res.resume();
        reject(new Error(`HTTP ${res.statusCode}`));
        return;
      }
      resolve(res);
    });
    req.on('error', reject);
    req.end();
  });
}
