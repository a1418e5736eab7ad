import { createHash, randomBytes } from 'node:crypto';
import { promises as fs, type Dirent } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../common/log.js';
import { PathEscapeError, resolveInside } from '../../common/safe-path.js';

export interface PageStoreOptions {
  dir: string;
  capacityBytes: number;
  pageSize: number;
  /** Bytes of recently read pages also kept in memory (0: none). */
  memoryBytes?: number;
  log: Logger;
}

export interface PageStoreUsage {
  usedBytes: number;
  capacityBytes: number;
  pages: number;
}

/** Pages evicted to make room for new ones since the store opened (the worker's metrics read them). */
export interface EvictionCounters {
  pages: number;
  bytes: number;
}

/** Written at the store root: pages cut with another page size are not reused. */
const STORE_FILE = 'store.json';
const STORE_VERSION = 1;
/** One per (key, fingerprint) directory, for people reading the disk; never needed to serve. */
const META_FILE = 'meta.json';
const PREFIX_DIR = /^[0-9a-f]{2}$/;
const KEY_DIR = /^[0-9a-f]{64}$/;
const FP_DIR = /^[0-9a-f]{40}$/;
const PAGE_FILE = /^(0|[1-9][0-9]*)$/;
/** Bounded parallelism of readdir/stat while rebuilding the index on open. */
const SCAN_CONCURRENCY = 64;
/** A read refreshes the page file's mtime (the LRU hint for the next open) at most this often. */
const TOUCH_PERSIST_MS = 60_000;

interface PageEntry {
  readonly id: string;
  readonly keyHash: string;
  readonly fpHash: string;
  readonly index: number;
  readonly size: number;
  readonly file: string;
  mtimeMs: number;
}

/** A page that left the index and whose file is being unlinked; its bytes stay accounted until then. */
interface Removal {
  readonly bytes: number;
  done: Promise<void>;
}

/** A page write in flight. `cancelled` is set when its key is invalidated or changes fingerprint. */
interface PendingPut {
  readonly keyHash: string;
  readonly fpHash: string;
  cancelled: boolean;
  done: Promise<void>;
}

/** Space taken for one write: `held` = max(size, bytes of the claimed removals still on disk). */
interface Reservation {
  held: number;
  readonly waits: Promise<void>[];
}

/**
 * The worker's local page cache: fixed-size pages of objects on one directory, within a byte
 * capacity, least recently used evicted first. See README.md beside this file for the layout
 * and the invariants.
 */
export class PageStore {
  readonly capacityBytes: number;
  readonly pageSize: number;
  private readonly dir: string;
  private readonly pagesDir: string;
  private readonly tmpDir: string;
  private readonly log: Logger;

  /** Every indexed page, least recently used first (delete + set on touch). */
  private readonly lru = new Map<string, PageEntry>();
  /** keyHash → fpHash → page indexes in the index. */
  private readonly byKey = new Map<string, Map<string, Set<number>>>();
  /** keyHash → fpHash → indexed pages + writes in flight + unlinks in flight; 0 → directory removable. */
  private readonly dirRefs = new Map<string, Map<string, number>>();
  /** `keyHash/fpHash` directories known to exist with their meta file. */
  private readonly knownDirs = new Set<string>();
  /** keyHash → key, for the keys whose name this process has seen (others are read from meta.json on demand). */
  private readonly keyNames = new Map<string, string>();
  /** Page id → unlink in flight of its file; a new file is renamed there only after it. */
  private readonly unlinking = new Map<string, Promise<void>>();
  /** Removals whose bytes no write has claimed yet (counted in pendingBytes). */
  private readonly unclaimed = new Set<Removal>();
  private readonly puts = new Map<string, PendingPut>();
  private readonly background = new Set<Promise<void>>();
  private readonly dirLocks = new KeyedLock();
  /**
   * Page id → bytes of recently read pages, least recently used first. Only indexed pages are
   * here and removeEntry drops them, so a page in memory is always the page on disk. The same
   * Buffer is handed to every reader (responses never modify it): a hot hit costs no syscall
   * and no allocation.
   */
  private readonly hot = new Map<string, Buffer>();
  private hotBytes = 0;
  private readonly memoryBytes: number;

  readonly evictions: EvictionCounters = { pages: 0, bytes: 0 };
  private usedBytes = 0;
  private pendingBytes = 0;
  private reservedBytes = 0;
  private closed = false;
  private tmpSeq = 0;

  private constructor(opts: PageStoreOptions) {
    this.dir = path.resolve(opts.dir);
    this.pagesDir = path.join(this.dir, 'pages');
    this.tmpDir = path.join(this.dir, 'tmp');
    this.capacityBytes = opts.capacityBytes;
    this.pageSize = opts.pageSize;
    this.memoryBytes = opts.memoryBytes ?? 0;
    this.log = opts.log.child({ component: 'page-store' });
  }

  /** Opens (or creates) the store in `opts.dir`, rebuilding the index from the pages on disk. */
  static async open(opts: PageStoreOptions): Promise<PageStore> {
    if (!opts.dir) throw new RangeError('page store: dir is required');
    if (!Number.isSafeInteger(opts.capacityBytes) || opts.capacityBytes < 0) {
      throw new RangeError(`page store: capacityBytes must be a non-negative integer, got ${opts.capacityBytes}`);
    }
    if (!Number.isSafeInteger(opts.pageSize) || opts.pageSize <= 0) {
      throw new RangeError(`page store: pageSize must be a positive integer, got ${opts.pageSize}`);
    }
    const store = new PageStore(opts);
    await store.load();
    return store;
  }

  /** The page's bytes, or null when absent, or when its stored length is not `expectedLength` (then it is dropped). Marks it recently used. */
  async getPage(key: string, fingerprint: string, index: number, expectedLength: number): Promise<Buffer | null> {
    checkIndex(index);
    if (this.closed) return null;
    const id = pageId(hashKey(key), hashFingerprint(fingerprint), index);
    const entry = this.lru.get(id);
    if (!entry) return null;
    this.touch(entry);
    if (entry.size !== expectedLength) {
      this.log.warn({ key, index, size: entry.size, expectedLength }, 'cached page has the wrong length; dropped');
      await this.removeEntry(entry).done;
      return null;
    }
    const hot = this.hot.get(id);
    if (hot) {
      this.hot.delete(id);
      this.hot.set(id, hot);
      this.persistTouch(entry);
      return hot;
    }
    let data: Buffer;
    try {
      data = await fs.readFile(entry.file);
    } catch (err) {
      // ENOENT here is a read racing an eviction (the entry is already gone): a plain miss.
      if (this.lru.get(id) === entry) {
        this.log.warn({ err, key, index }, 'cached page unreadable; dropped');
        await this.removeEntry(entry).done;
      }
      return null;
    }
    if (data.length !== expectedLength) {
      if (this.lru.get(id) === entry) {
        this.log.warn({ key, index, size: data.length, expectedLength }, 'cached page has the wrong length; dropped');
        await this.removeEntry(entry).done;
      }
      return null;
    }
    this.persistTouch(entry);
    // Still the indexed page (not evicted while we read it): keep it in memory.
    if (this.lru.get(id) === entry) this.remember(id, data);
    return data;
  }

  private remember(id: string, data: Buffer): void {
    if (data.length > this.memoryBytes) return;
    this.forget(id);
    this.hot.set(id, data);
    this.hotBytes += data.length;
    for (const [oldId, old] of this.hot) {
      if (this.hotBytes <= this.memoryBytes) break;
      this.hot.delete(oldId);
      this.hotBytes -= old.length;
    }
  }

  private forget(id: string): void {
    const data = this.hot.get(id);
    if (data) {
      this.hot.delete(id);
      this.hotBytes -= data.length;
    }
  }

  /** Stores a page for (key, fingerprint). Pages of `key` under any other fingerprint are dropped first (the object changed). Evicts LRU pages to fit. A page larger than capacity is not stored. */
  async putPage(key: string, fingerprint: string, index: number, data: Buffer): Promise<void> {
    checkIndex(index);
    const keyHash = hashKey(key);
    const fpHash = hashFingerprint(fingerprint);
    const id = pageId(keyHash, fpHash, index);
    const drops: Promise<void>[] = [];
    for (;;) {
      if (this.closed) return;
      drops.push(...this.dropOtherFingerprints(keyHash, fpHash));
      if (data.length > this.pageSize) {
        this.log.warn({ key, index, size: data.length, pageSize: this.pageSize }, 'page larger than the page size; not cached');
        await Promise.all(drops);
        return;
      }
      if (data.length > this.capacityBytes) {
        this.log.debug({ key, index, size: data.length }, 'page larger than the capacity; not cached');
        await Promise.all(drops);
        return;
      }
      const existing = this.lru.get(id);
      if (existing && existing.size === data.length) {
        this.touch(existing);
        await Promise.all(drops);
        return;
      }
      if (existing) drops.push(this.removeEntry(existing).done);
      const inflight = this.puts.get(id);
      if (inflight) {
        // Same page already being written: share it. A cancelled one (invalidated) is waited
        // out and this write starts afresh.
        await inflight.done;
        if (!inflight.cancelled) {
          await Promise.all(drops);
          return;
        }
        continue;
      }
      const reservation = this.reserve(data.length);
      if (!reservation) {
        this.log.debug({ key, index, size: data.length }, 'capacity taken by writes in flight; page not cached');
        await Promise.all(drops);
        return;
      }
      reservation.waits.push(...drops);
      const put: PendingPut = { keyHash, fpHash, cancelled: false, done: Promise.resolve() };
      this.addRef(keyHash, fpHash);
      put.done = this.writePage(put, key, fingerprint, index, data, reservation).then(() => {
        this.puts.delete(id);
        this.releaseRef(keyHash, fpHash);
      });
      this.puts.set(id, put);
      await put.done;
      return;
    }
  }

  hasPage(key: string, fingerprint: string, index: number): boolean {
    return this.lru.has(pageId(hashKey(key), hashFingerprint(fingerprint), index));
  }

  /** Whether any page of `key` is cached or being written, whatever its fingerprint. */
  hasAnyPage(key: string): boolean {
    const keyHash = hashKey(key);
    if ((this.byKey.get(keyHash)?.size ?? 0) > 0) return true;
    for (const put of this.puts.values()) if (put.keyHash === keyHash) return true;
    return false;
  }

  /** Drops every page of `key` (any fingerprint), including writes in flight; resolves once their files are gone. */
  async invalidate(key: string): Promise<void> {
    const keyHash = hashKey(key);
    const waits: Promise<void>[] = [];
    for (const entry of this.entriesOf(keyHash, () => true)) waits.push(this.removeEntry(entry).done);
    for (const put of this.puts.values()) {
      if (put.keyHash !== keyHash) continue;
      put.cancelled = true;
      waits.push(put.done);
    }
    await Promise.all(waits);
  }

  /**
   * Drops the pages of every key `matches` accepts (writes in flight included), as `invalidate`
   * does for one key. Keys are hashed on disk: a name this process has not seen is read from its
   * meta.json. Answers what was dropped.
   */
  async invalidateMatching(matches: (key: string) => boolean): Promise<{ keys: number; pages: number; bytes: number }> {
    const hashes = new Set<string>([...this.byKey.keys(), ...[...this.puts.values()].map((p) => p.keyHash)]);
    const waits: Promise<void>[] = [];
    let keys = 0;
    let pages = 0;
    let bytes = 0;
    for (const keyHash of hashes) {
      const name = await this.keyName(keyHash);
      if (name === undefined || !matches(name)) continue;
      const entries = this.entriesOf(keyHash, () => true);
      let inflight = false;
      for (const put of this.puts.values()) {
        if (put.keyHash !== keyHash) continue;
        put.cancelled = true;
        inflight = true;
        waits.push(put.done);
      }
      if (entries.length === 0 && !inflight) continue;
      keys++;
      for (const entry of entries) {
        pages++;
        bytes += entry.size;
        waits.push(this.removeEntry(entry).done);
      }
    }
    await Promise.all(waits);
    return { keys, pages, bytes };
  }

  /** The key a hash stands for: remembered from a write, else from the meta file of one of its fingerprints. */
  private async keyName(keyHash: string): Promise<string | undefined> {
    const known = this.keyNames.get(keyHash);
    if (known !== undefined) return known;
    for (const fpHash of this.byKey.get(keyHash)?.keys() ?? []) {
      try {
        const meta = JSON.parse(await fs.readFile(path.join(this.fpDir(keyHash, fpHash), META_FILE), 'utf8')) as { key?: unknown };
        if (typeof meta.key === 'string' && hashKey(meta.key) === keyHash) {
          this.keyNames.set(keyHash, meta.key);
          return meta.key;
        }
      } catch {
        // removed meanwhile, or unreadable: try another fingerprint
      }
    }
    return undefined;
  }

  usage(): PageStoreUsage {
    return { usedBytes: this.usedBytes, capacityBytes: this.capacityBytes, pages: this.lru.size };
  }

  /** Stops taking pages and waits for writes, unlinks and directory cleanup in flight. */
  async close(): Promise<void> {
    if (!this.closed) this.log.info({ pages: this.lru.size, usedBytes: this.usedBytes }, 'page store closing');
    this.closed = true;
    await this.idle();
  }

  // ---- opening ----

  private async load(): Promise<void> {
    const started = Date.now();
    await fs.mkdir(this.dir, { recursive: true });
    const tempFilesRemoved = (await readdirQuiet(this.tmpDir)).length;
    await fs.rm(this.tmpDir, { recursive: true, force: true });
    await fs.mkdir(this.tmpDir, { recursive: true });
    await this.checkPageSize();
    await fs.mkdir(this.pagesDir, { recursive: true });

    const found = await this.scan();
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const entry of found) this.insert(entry);
    const evictions: Promise<void>[] = [];
    for (const entry of this.lru.values()) {
      if (this.usedBytes <= this.capacityBytes) break;
      evictions.push(this.removeEntry(entry).done);
    }
    await Promise.all(evictions);
    await this.idle();
    this.log.info(
      {
        dir: this.dir, pages: this.lru.size, usedBytes: this.usedBytes, capacityBytes: this.capacityBytes,
        evicted: evictions.length, tempFilesRemoved, ms: Date.now() - started,
      },
      'page store opened',
    );
  }

  /** Pages cut with another page size cover other byte ranges: a page size change empties the store. */
  private async checkPageSize(): Promise<void> {
    const file = path.join(this.dir, STORE_FILE);
    let recorded: { version?: unknown; pageSize?: unknown } | null = null;
    try {
      recorded = JSON.parse(await fs.readFile(file, 'utf8')) as { version?: unknown; pageSize?: unknown };
    } catch (err) {
      if (errCode(err) !== 'ENOENT') this.log.warn({ err, file }, 'unreadable store file; rewritten');
    }
    if (recorded?.version === STORE_VERSION && recorded.pageSize === this.pageSize) return;
    if (recorded !== null) {
      this.log.warn({ was: recorded.pageSize, now: this.pageSize }, 'page size changed; cached pages discarded');
      await fs.rm(this.pagesDir, { recursive: true, force: true });
    }
    await this.writeAtomically(file, JSON.stringify({ version: STORE_VERSION, pageSize: this.pageSize }) + '\n');
  }

  /** Walks pages/<h[0:2]>/<keyHash>/<fpHash>/<index> with bounded parallelism; removes empty directories. */
  private async scan(): Promise<PageEntry[]> {
    let ignored = 0;
    const prefixes: string[] = [];
    for (const d of await readdirQuiet(this.pagesDir)) {
      if (d.isDirectory() && PREFIX_DIR.test(d.name)) prefixes.push(d.name);
      else ignored++;
    }
    const keyDirs: { keyHash: string; dir: string }[] = [];
    await mapLimit(prefixes, SCAN_CONCURRENCY, async (prefix) => {
      const dir = path.join(this.pagesDir, prefix);
      for (const d of await readdirQuiet(dir, this.log)) {
        if (d.isDirectory() && KEY_DIR.test(d.name) && d.name.startsWith(prefix)) keyDirs.push({ keyHash: d.name, dir: path.join(dir, d.name) });
        else ignored++;
      }
    });
    const fpDirs: { keyHash: string; fpHash: string; dir: string }[] = [];
    await mapLimit(keyDirs, SCAN_CONCURRENCY, async ({ keyHash, dir }) => {
      const entries = await readdirQuiet(dir, this.log);
      if (entries.length === 0) await rmdirQuiet(dir);
      for (const d of entries) {
        if (d.isDirectory() && FP_DIR.test(d.name)) fpDirs.push({ keyHash, fpHash: d.name, dir: path.join(dir, d.name) });
        else ignored++;
      }
    });
    const files: { keyHash: string; fpHash: string; index: number; file: string }[] = [];
    await mapLimit(fpDirs, SCAN_CONCURRENCY, async ({ keyHash, fpHash, dir }) => {
      let pages = 0;
      for (const d of await readdirQuiet(dir, this.log)) {
        if (d.isFile() && PAGE_FILE.test(d.name)) {
          files.push({ keyHash, fpHash, index: Number(d.name), file: path.join(dir, d.name) });
          pages++;
        } else if (d.name !== META_FILE) {
          ignored++;
        }
      }
      if (pages === 0) {
        await unlinkQuiet(path.join(dir, META_FILE), this.log);
        await rmdirQuiet(dir);
        await rmdirQuiet(path.dirname(dir));
      } else {
        this.knownDirs.add(`${keyHash}/${fpHash}`);
      }
    });
    const entries: PageEntry[] = [];
    await mapLimit(files, SCAN_CONCURRENCY, async (f) => {
      try {
        const st = await fs.stat(f.file);
        const id = pageId(f.keyHash, f.fpHash, f.index);
        entries.push({ ...f, id, size: st.size, mtimeMs: st.mtimeMs });
      } catch (err) {
        if (errCode(err) !== 'ENOENT') this.log.warn({ err, file: f.file }, 'page file unreadable on open; skipped');
      }
    });
    if (ignored > 0) this.log.warn({ ignored, dir: this.pagesDir }, 'unrecognised entries in the page directory left alone');
    return entries;
  }

  // ---- index and accounting ----

  private insert(entry: PageEntry): void {
    this.lru.set(entry.id, entry);
    let fps = this.byKey.get(entry.keyHash);
    if (!fps) this.byKey.set(entry.keyHash, (fps = new Map()));
    let indexes = fps.get(entry.fpHash);
    if (!indexes) fps.set(entry.fpHash, (indexes = new Set()));
    indexes.add(entry.index);
    this.usedBytes += entry.size;
    this.addRef(entry.keyHash, entry.fpHash);
  }

  private touch(entry: PageEntry): void {
    this.lru.delete(entry.id);
    this.lru.set(entry.id, entry);
  }

  /** Refreshes the file's mtime now and then, so the next open approximates this LRU order. */
  private persistTouch(entry: PageEntry): void {
    const now = Date.now();
    if (now - entry.mtimeMs < TOUCH_PERSIST_MS) return;
    entry.mtimeMs = now;
    this.track(fs.utimes(entry.file, now / 1000, now / 1000).catch(() => undefined));
  }

  /**
   * Takes the entry out of the index (synchronously) and unlinks its file. Its bytes stay
   * accounted (pendingBytes) until the unlink is done, unless a write claims them.
   */
  private removeEntry(entry: PageEntry): Removal {
    this.lru.delete(entry.id);
    this.forget(entry.id);
    const fps = this.byKey.get(entry.keyHash);
    const indexes = fps?.get(entry.fpHash);
    indexes?.delete(entry.index);
    if (fps && indexes?.size === 0) fps.delete(entry.fpHash);
    if (fps?.size === 0) this.byKey.delete(entry.keyHash);
    this.usedBytes -= entry.size;
    this.pendingBytes += entry.size;

    const removal: Removal = { bytes: entry.size, done: Promise.resolve() };
    this.unclaimed.add(removal);
    const previous = this.unlinking.get(entry.id);
    const done: Promise<void> = (async () => {
      if (previous) await previous;
      await unlinkQuiet(entry.file, this.log);
    })().then(() => {
      if (this.unclaimed.delete(removal)) this.pendingBytes -= removal.bytes;
      if (this.unlinking.get(entry.id) === done) this.unlinking.delete(entry.id);
      this.releaseRef(entry.keyHash, entry.fpHash);
    });
    removal.done = done;
    this.unlinking.set(entry.id, done);
    this.track(done);
    return removal;
  }

  /**
   * Reserves `size` bytes synchronously: claims bytes of unlinks in flight, then evicts least
   * recently used pages, until used + pending + reserved fits the capacity. Null when the
   * capacity is taken by other writes in flight.
   */
  private reserve(size: number): Reservation | null {
    if (this.reservedBytes + size > this.capacityBytes) return null;
    let claimed = 0;
    const waits: Promise<void>[] = [];
    const over = (): boolean => this.usedBytes + this.pendingBytes + this.reservedBytes + Math.max(size, claimed) > this.capacityBytes;
    const claim = (removal: Removal): void => {
      this.unclaimed.delete(removal);
      this.pendingBytes -= removal.bytes;
      claimed += removal.bytes;
      waits.push(removal.done);
    };
    for (const removal of this.unclaimed) {
      if (!over()) break;
      claim(removal);
    }
    let evicted = 0;
    while (over()) {
      const oldest = this.lru.values().next();
      if (oldest.done) break; // unreachable: used + pending + reserved ≤ capacity always holds
      claim(this.removeEntry(oldest.value));
      evicted++;
      this.evictions.bytes += oldest.value.size;
    }
    this.evictions.pages += evicted;
    if (evicted > 0) this.log.debug({ evicted, size }, 'evicted pages to make room');
    const held = Math.max(size, claimed);
    this.reservedBytes += held;
    return { held, waits };
  }

  /** Removes entries and cancels writes of `keyHash` under fingerprints other than `fpHash`. */
  private dropOtherFingerprints(keyHash: string, fpHash: string): Promise<void>[] {
    const waits: Promise<void>[] = [];
    for (const entry of this.entriesOf(keyHash, (fp) => fp !== fpHash)) waits.push(this.removeEntry(entry).done);
    for (const put of this.puts.values()) {
      if (put.keyHash !== keyHash || put.fpHash === fpHash) continue;
      put.cancelled = true;
      waits.push(put.done);
    }
    return waits;
  }

  private entriesOf(keyHash: string, fingerprintMatches: (fpHash: string) => boolean): PageEntry[] {
    const out: PageEntry[] = [];
    for (const [fpHash, indexes] of this.byKey.get(keyHash) ?? []) {
      if (!fingerprintMatches(fpHash)) continue;
      for (const index of indexes) {
        const entry = this.lru.get(pageId(keyHash, fpHash, index));
        if (entry) out.push(entry);
      }
    }
    return out;
  }

  // ---- writing ----

  /** temp file → rename → index entry; never rejects (a failed write is logged and not cached). */
  private async writePage(put: PendingPut, key: string, fingerprint: string, index: number, data: Buffer, res: Reservation): Promise<void> {
    const { keyHash, fpHash } = put;
    const id = pageId(keyHash, fpHash, index);
    const file = this.pageFile(keyHash, fpHash, index);
    let tmp: string | null = null;
    try {
      // Space freed by evictions is on disk until their unlinks finish; a previous file of this
      // page must be gone before ours takes its name.
      await Promise.all(res.waits);
      await this.unlinking.get(id);
      this.reservedBytes -= res.held - data.length;
      res.held = data.length;
      if (put.cancelled) {
        this.log.trace({ key, index, stage: 'before write' }, 'page write cancelled');
        return;
      }
      await this.ensureDir(keyHash, fpHash, key, fingerprint);
      tmp = this.tempPath();
      await fs.writeFile(tmp, data, { flag: 'wx' });
      if (put.cancelled) {
        this.log.trace({ key, index, stage: 'before rename' }, 'page write cancelled');
        return;
      }
      try {
        await fs.rename(tmp, file);
      } catch (err) {
        if (errCode(err) !== 'ENOENT') throw err;
        // The directory vanished under us (removed from outside): recreate it once.
        this.knownDirs.delete(`${keyHash}/${fpHash}`);
        await this.ensureDir(keyHash, fpHash, key, fingerprint);
        await fs.rename(tmp, file);
      }
      tmp = null;
      if (put.cancelled) {
        // Invalidated while renaming: take the file back out before anyone sees it.
        await unlinkQuiet(file, this.log);
        this.log.trace({ key, index, stage: 'after rename' }, 'page write cancelled');
        return;
      }
      this.reservedBytes -= data.length;
      res.held = 0;
      this.insert({ id, keyHash, fpHash, index, size: data.length, file, mtimeMs: Date.now() });
    } catch (err) {
      this.log.warn({ err, key, index, size: data.length }, 'page write failed; not cached');
    } finally {
      this.reservedBytes -= res.held;
      res.held = 0;
      if (tmp !== null) await unlinkQuiet(tmp, this.log);
    }
  }

  /** Creates pages/<h[0:2]>/<keyHash>/<fpHash>/ with its meta file, under the key's directory lock. */
  private async ensureDir(keyHash: string, fpHash: string, key: string, fingerprint: string): Promise<void> {
    const name = `${keyHash}/${fpHash}`;
    this.keyNames.set(keyHash, key);
    if (this.knownDirs.has(name)) return;
    await this.dirLocks.run(keyHash, async () => {
      if (this.knownDirs.has(name)) return;
      const dir = this.fpDir(keyHash, fpHash);
      await fs.mkdir(dir, { recursive: true });
      await this.writeAtomically(path.join(dir, META_FILE), JSON.stringify({ key, fingerprint }) + '\n');
      this.knownDirs.add(name);
    });
  }

  private async writeAtomically(file: string, text: string): Promise<void> {
    const tmp = this.tempPath();
    try {
      await fs.writeFile(tmp, text, { flag: 'wx' });
      await fs.rename(tmp, file);
    } catch (err) {
      await unlinkQuiet(tmp, this.log);
      throw err;
    }
  }

  // ---- directory lifetime ----

  private addRef(keyHash: string, fpHash: string): void {
    let fps = this.dirRefs.get(keyHash);
    if (!fps) this.dirRefs.set(keyHash, (fps = new Map()));
    fps.set(fpHash, (fps.get(fpHash) ?? 0) + 1);
  }

  private releaseRef(keyHash: string, fpHash: string): void {
    const fps = this.dirRefs.get(keyHash);
    const n = (fps?.get(fpHash) ?? 0) - 1;
    if (!fps || n > 0) {
      fps?.set(fpHash, n);
      return;
    }
    fps.delete(fpHash);
    if (fps.size === 0) this.dirRefs.delete(keyHash);
    this.track(this.dirLocks.run(keyHash, () => this.removeDirs(keyHash, fpHash)).catch(() => undefined));
  }

  /** Best effort: removes the (key, fingerprint) directory, and the key's once it holds nothing. */
  private async removeDirs(keyHash: string, fpHash: string): Promise<void> {
    const fps = this.dirRefs.get(keyHash);
    if (fps?.has(fpHash)) return; // taken again since
    this.knownDirs.delete(`${keyHash}/${fpHash}`);
    const dir = this.fpDir(keyHash, fpHash);
    await unlinkQuiet(path.join(dir, META_FILE), this.log);
    await rmdirQuiet(dir);
    if (!this.dirRefs.has(keyHash)) {
      this.keyNames.delete(keyHash);
      await rmdirQuiet(path.dirname(dir));
    }
  }

  // ---- helpers ----

  // Page files are named by hashes and a page index, never by the key itself; still, every
  // name is checked to stay under the pages directory (common/safe-path.ts).
  private fpDir(keyHash: string, fpHash: string): string {
    if (!HEX.test(keyHash) || !HEX.test(fpHash)) throw new PathEscapeError(`not a page directory name: ${keyHash}/${fpHash}`);
    return resolveInside(this.pagesDir, keyHash.slice(0, 2), keyHash, fpHash);
  }

  private pageFile(keyHash: string, fpHash: string, index: number): string {
    if (!Number.isSafeInteger(index) || index < 0) throw new PathEscapeError(`not a page index: ${index}`);
    return resolveInside(this.fpDir(keyHash, fpHash), String(index));
  }

  private tempPath(): string {
    return path.join(this.tmpDir, `${process.pid}.${++this.tmpSeq}.${randomBytes(4).toString('hex')}`);
  }

  /** Keeps a background promise (which must not reject) until it settles; close() waits for it. */
  private track(p: Promise<void>): void {
    this.background.add(p);
    void p.then(() => this.background.delete(p));
  }

  private async idle(): Promise<void> {
    while (this.puts.size > 0 || this.background.size > 0) {
      await Promise.all([...[...this.puts.values()].map((p) => p.done), ...this.background]);
    }
  }
}

/** Serialises async sections per key (here: directory create/remove of one object key). */
class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

const HEX = /^[0-9a-f]{40,64}$/;

function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

function hashFingerprint(fingerprint: string): string {
  return createHash('sha1').update(fingerprint, 'utf8').digest('hex');
}

function pageId(keyHash: string, fpHash: string, index: number): string {
  return `${keyHash}/${fpHash}/${index}`;
}

function checkIndex(index: number): void {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`page index must be a non-negative integer, got ${index}`);
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

async function readdirQuiet(dir: string, log?: Logger): Promise<Dirent[]> {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errCode(err) !== 'ENOENT') log?.warn({ err, dir }, 'page directory unreadable; skipped');
    return [];
  }
}

async function unlinkQuiet(file: string, log?: Logger): Promise<void> {
  try {
    await fs.unlink(file);
  } catch (err) {
    if (errCode(err) !== 'ENOENT') log?.warn({ err, file }, 'could not remove page file');
  }
}

async function rmdirQuiet(dir: string): Promise<void> {
  try {
    await fs.rmdir(dir);
  } catch {
    // not empty (taken again) or already gone: fine
  }
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
