/**
 * Reads a byte range of an object through the page cache.
 *
 * Pages already cached are read from local disk. Consecutive missing pages are fetched with one
 * ranged UFS read (a cold sequential read is one UFS request, not one per page) and cached as
 * they stream past; the reader gets the UFS's bytes as they arrive, not a page at a time. A
 * read may also start from a stream the caller already opened (UnderFileSystem.open: the
 * status and the bytes from one request). A page being fetched by another request is awaited rather than fetched
 * again, so concurrent misses on one page make a single UFS read. Every UFS read carries the
 * object's fingerprint: if the object changed since it was looked up, the read fails with
 * 'Changed' instead of mixing two versions.
 */
import type { Readable } from 'node:stream';
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
/**
 * A miss hands the reader its bytes in pieces of at least this much (or what completes a page,
 * or the end): the UFS delivers 64 KiB at a time, and a write to the client per piece cost more
 * than the latency it saved.
 */
const MIN_MISS_PIECE = 256 * 1024;

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
   * `ufs` for pages not cached. `opened`: the whole object (of exactly `status`), already
   * requested from the UFS; it is read (or destroyed) whatever happens.
   */
  async *read(ufs: UnderFileSystem, ufsKey: string, cacheKey: string, status: UfsStatus, range: ByteRange, signal?: AbortSignal, opened?: Readable): AsyncGenerator<Buffer> {
    if (opened) {
      try {
        if (status.size === 0 || range.end < range.start) return;
        const lastPage = Math.floor((status.size - 1) / this.pageSize);
        // The stream covers every page from the first: cached ones are overwritten with the same bytes.
        yield* this.fetchRun(ufs, ufsKey, cacheKey, status, 0, lastPage, range, signal, opened);
      } finally {
        opened.destroy();
      }
      return;
    }
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
      yield* this.fetchRun(ufs, ufsKey, cacheKey, status, i, j, range, signal);
      i = j + 1;
    }
  }

  /**
   * Fetches pages first..last with one UFS read (or from `opened`, which starts at page 0) and
   * yields the part of `range` in them as the bytes arrive. Each page is cached once whole.
   */
  private async *fetchRun(
    ufs: UnderFileSystem, ufsKey: string, cacheKey: string, status: UfsStatus,
    first: number, last: number, range: ByteRange, signal?: AbortSignal, opened?: Readable,
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
      const stream = opened ?? await ufs.read(ufsKey, { range: { start, end }, fingerprint, signal });
      let parts: Buffer[] = [];
      let have = 0;
      // Offset in the object of the next byte the stream delivers.
      let at = start;
      // Bytes of the range received and not yet handed to the reader.
      let outParts: Buffer[] = [];
      let outBytes = 0;
      // The first piece goes at once: the answer's headers wait for it.
      let started = false;
      const takeOut = (): Buffer => {
        const out = outParts.length === 1 ? outParts[0] : Buffer.concat(outParts, outBytes);
        outParts = [];
        outBytes = 0;
        started = true;
        this.counters.missBytes += out.length;
        return out;
      };
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        this.counters.ufsBytes += chunk.length;
        // The part of this chunk inside the range goes to the reader soon, whole pages or not.
        const from = Math.max(range.start - at, 0);
        const to = Math.min(range.end + 1 - at, chunk.length);
        if (to > from) {
          outParts.push(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to));
          outBytes += to - from;
        }
        at += chunk.length;
        let pageDone = false;
        let buf = chunk;
        while (buf.length > 0 && current <= last) {
          const need = this.pageLength(size, current) - have;
          const take = buf.length <= need ? buf : buf.subarray(0, need);
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
            current++;
            pageDone = true;
          }
        }
        if (outBytes > 0 && (!started || outBytes >= MIN_MISS_PIECE || pageDone)) yield takeOut();
        while (writes.length >= MAX_PENDING_PAGE_WRITES) await writes.shift();
      }
      if (current <= last) throw new Error(`UFS returned a short read for ${ufsKey}`);
      if (outBytes > 0) yield takeOut();
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
