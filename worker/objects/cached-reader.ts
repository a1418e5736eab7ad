/**
 * Reads a byte range of an object through the page cache.
 *
 * Pages already cached are read from local disk. Consecutive missing pages are fetched with one
 * ranged UFS read (a cold sequential read is one UFS request, not one per page) and cached as
 * they stream past. A page being fetched by another request is awaited rather than fetched
 * again, so concurrent misses on one page make a single UFS read. Every UFS read carries the
 * object's fingerprint: if the object changed since it was looked up, the read fails with
 * 'Changed' instead of mixing two versions.
 */
import type { UfsStatus, UnderFileSystem, ByteRange } from '../../common/ufs/types.js';
import type { PageStore } from '../cache/page-store.js';

/** Longest run of missing pages fetched by one UFS request (bounds what a slow reader pins). */
const MAX_RUN_PAGES = 64;
/**
 * Page writes to the cache one reader may have in flight. A reader faster than the disk
 * otherwise leaves every page it passed in memory until written. Past this, the reader waits
 * for the oldest write.
 */
const MAX_PENDING_PAGE_WRITES = 4;

export interface CacheCounters {
  pageHits: number;
  pageMisses: number;
  /** Bytes served from cached pages (or from a page another reader was fetching). */
  hitBytes: number;
  /** Bytes served from pages this reader fetched from the UFS. */
  missBytes: number;
  ufsReads: number;
  ufsBytes: number;
}

export class CachedReader {
  /** In-flight page fetches: `${key}\0${fingerprint}\0${index}` → page bytes. */
  private readonly inflight = new Map<string, Promise<Buffer>>();
  readonly counters: CacheCounters = { pageHits: 0, pageMisses: 0, hitBytes: 0, missBytes: 0, ufsReads: 0, ufsBytes: 0 };

  constructor(private readonly pages: PageStore, private readonly pageSize: number) {}

  private pageLength(size: number, index: number): number {
    return Math.min(this.pageSize, size - index * this.pageSize);
  }

  /**
   * Yields the bytes of `range` (inclusive) of the object at `cacheKey`, reading `ufsKey` from
   * `ufs` for pages not cached.
   */
  async *read(ufs: UnderFileSystem, ufsKey: string, cacheKey: string, status: UfsStatus, range: ByteRange, signal?: AbortSignal): AsyncGenerator<Buffer> {
    if (status.size === 0 || range.end < range.start) return;
    const { fingerprint, size } = status;
    const first = Math.floor(range.start / this.pageSize);
    const last = Math.floor(range.end / this.pageSize);
    const slice = (index: number, page: Buffer): Buffer => {
      const base = index * this.pageSize;
      const from = Math.max(range.start - base, 0);
      const to = Math.min(range.end - base + 1, page.length);
      return from === 0 && to === page.length ? page : page.subarray(from, to);
    };

    let i = first;
    while (i <= last) {
      signal?.throwIfAborted();
      const id = `${cacheKey}\0${fingerprint}\0${i}`;
      const pending = this.inflight.get(id);
      if (pending) {
        let page: Buffer;
        try {
          page = await pending;
        } catch {
          continue; // the other reader gave up or failed: fetch it ourselves
        }
        this.counters.pageHits++;
        const out = slice(i, page);
        this.counters.hitBytes += out.length;
        yield out;
        i++;
        continue;
      }
      const cached = await this.pages.getPage(cacheKey, fingerprint, i, this.pageLength(size, i));
      if (cached) {
        this.counters.pageHits++;
        const out = slice(i, cached);
        this.counters.hitBytes += out.length;
        yield out;
        i++;
        continue;
      }
      // A run of pages nobody has and nobody is fetching.
      let j = i;
      while (
        j + 1 <= last && j + 1 - i < MAX_RUN_PAGES &&
        !this.inflight.has(`${cacheKey}\0${fingerprint}\0${j + 1}`) &&
        !this.pages.hasPage(cacheKey, fingerprint, j + 1)
      ) j++;
      yield* this.fetchRun(ufs, ufsKey, cacheKey, status, i, j, slice, signal);
      i = j + 1;
    }
  }

  private async *fetchRun(
    ufs: UnderFileSystem, ufsKey: string, cacheKey: string, status: UfsStatus,
    first: number, last: number, slice: (i: number, page: Buffer) => Buffer, signal?: AbortSignal,
  ): AsyncGenerator<Buffer> {
    const { fingerprint, size } = status;
    const settle = new Map<number, { resolve: (b: Buffer) => void; reject: (e: unknown) => void }>();
    for (let p = first; p <= last; p++) {
      const id = `${cacheKey}\0${fingerprint}\0${p}`;
      const promise = new Promise<Buffer>((resolve, reject) => settle.set(p, { resolve, reject }));
      // Waiters handle a rejection; an unobserved one must not crash the process. A failed
      // fetch is forgotten at once; a successful one stays in flight until the page is stored,
      // so a reader arriving in between waits instead of fetching the page again.
      promise.catch(() => { if (this.inflight.get(id) === promise) this.inflight.delete(id); });
      this.inflight.set(id, promise);
    }
    const stored = (p: number) => {
      const id = `${cacheKey}\0${fingerprint}\0${p}`;
      const promise = this.inflight.get(id);
      return () => { if (this.inflight.get(id) === promise) this.inflight.delete(id); };
    };
    this.counters.pageMisses += last - first + 1;
    this.counters.ufsReads++;
    let current = first;
    const writes: Promise<void>[] = [];
    try {
      const start = first * this.pageSize;
      const end = Math.min((last + 1) * this.pageSize, size) - 1;
      const stream = await ufs.read(ufsKey, { range: { start, end }, fingerprint, signal });
      let parts: Buffer[] = [];
      let have = 0;
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        this.counters.ufsBytes += chunk.length;
        let buf = chunk;
        while (buf.length > 0 && current <= last) {
          const need = this.pageLength(size, current) - have;
          const take = buf.subarray(0, need);
          parts.push(take);
          have += take.length;
          buf = buf.subarray(take.length);
          if (have === this.pageLength(size, current)) {
            const page = parts.length === 1 ? parts[0] : Buffer.concat(parts, have);
            parts = [];
            have = 0;
            // A resolving function keeps its promise, and so the page, alive: dropped here, or
            // a run would pin all its pages (64 MiB per reader) until it ends.
            settle.get(current)!.resolve(page);
            settle.delete(current);
            // Caching is best effort and off the reader's path (the store never rejects), but
            // bounded: see MAX_PENDING_PAGE_WRITES.
            writes.push(this.pages.putPage(cacheKey, fingerprint, current, page).finally(stored(current)));
            const out = slice(current, page);
            this.counters.missBytes += out.length;
            current++;
            yield out;
            if (writes.length >= MAX_PENDING_PAGE_WRITES) await writes.shift();
          }
        }
      }
      if (current <= last) throw new Error(`UFS returned a short read for ${ufsKey}`);
    } catch (err) {
      for (let p = current; p <= last; p++) settle.get(p)?.reject(err);
      throw err;
    } finally {
      // A reader that stopped early (client went away) releases the pages it did not fetch.
      const stopped = new Error('read stopped');
      for (let p = current; p <= last; p++) settle.get(p)?.reject(stopped);
    }
  }
}
