/**
 * Counts what reaches an under storage, per operation. Wrapped around every mounted UFS so a
 * worker can say how often it touched the UFS (the proof that a cache hit did not). An
 * optional observer also hears each call's operation, duration and outcome (the worker's
 * Prometheus metrics); the counters stay the source of /_alluxio/stats.
 */
import type { Readable } from 'node:stream';
import type { ListOptions, ListResult, MetadataUpdate, OpenedObject, ReadOptions, UfsMultipart, UfsStatus, UnderFileSystem, WriteOptions } from './types.js';

export interface UfsCounters {
  stats: number;
  reads: number;
  readBytes: number;
  writes: number;
  writeBytes: number;
  deletes: number;
  lists: number;
  errors: number;
}

/** Operation names the observer hears: one per UnderFileSystem method (multipart parts: `upload_part`). */
export type UfsOperation = 'stat' | 'read' | 'write' | 'delete' | 'mkdir' | 'list' | 'update_metadata' | 'upload_part';

/** Told of every UFS call once it settles; `seconds` is until the answer (for a read: until the stream opened). */
export type UfsObserver = (op: UfsOperation, seconds: number, failed: boolean) => void;

export function newUfsCounters(): UfsCounters {
  return { stats: 0, reads: 0, readBytes: 0, writes: 0, writeBytes: 0, deletes: 0, lists: 0, errors: 0 };
}

/**
 * Counts a read's bytes as its consumer takes them. A 'data' listener alone would start the
 * stream flowing at the next tick, with nobody reading yet if the consumer attaches later
 * (after another await): those bytes would be lost. Paused, read() still emits 'data'.
 */
function countBytes(stream: Readable, counters: UfsCounters): void {
  stream.on('data', (chunk: Buffer) => { counters.readBytes += chunk.length; });
  stream.pause();
}

export class CountingUfs implements UnderFileSystem {
  /** Only where the store has it (callers test for it); one request, counted as a read. */
  readonly open?: (key: string, opts?: { signal?: AbortSignal }) => Promise<OpenedObject | null>;

  constructor(private readonly inner: UnderFileSystem, readonly counters: UfsCounters, private readonly observer?: UfsObserver) {
    if (inner.open) {
      const open = inner.open.bind(inner);
      this.open = async (key, opts) => {
        const opened = await this.count('reads', 'read', () => open(key, opts));
        if (opened) countBytes(opened.body, this.counters);
        return opened;
      };
    }
  }

  get uri(): string {
    return this.inner.uri;
  }

  private async count<T>(field: 'stats' | 'writes' | 'deletes' | 'lists' | 'reads', name: UfsOperation, op: () => Promise<T>): Promise<T> {
    this.counters[field]++;
    const started = this.observer ? process.hrtime.bigint() : 0n;
    let failed = false;
    try {
      return await op();
    } catch (err) {
      failed = true;
      this.counters.errors++;
      throw err;
    } finally {
      this.observer?.(name, Number(process.hrtime.bigint() - started) / 1e9, failed);
    }
  }

  stat(key: string): Promise<UfsStatus | null> {
    return this.count('stats', 'stat', () => this.inner.stat(key));
  }

  async read(key: string, opts?: ReadOptions): Promise<Readable> {
    const stream = await this.count('reads', 'read', () => this.inner.read(key, opts));
    countBytes(stream, this.counters);
    return stream;
  }

  async write(key: string, body: Readable, opts: WriteOptions): Promise<UfsStatus> {
    const st = await this.count('writes', 'write', () => this.inner.write(key, body, opts));
    this.counters.writeBytes += st.size;
    return st;
  }

  delete(key: string): Promise<void> {
    return this.count('deletes', 'delete', () => this.inner.delete(key));
  }

  mkdir(key: string): Promise<void> {
    return this.count('writes', 'mkdir', () => this.inner.mkdir(key));
  }

  list(opts: ListOptions): Promise<ListResult> {
    return this.count('lists', 'list', () => this.inner.list(opts));
  }

  updateMetadata(key: string, update: MetadataUpdate): Promise<UfsStatus> {
    return this.count('writes', 'update_metadata', () => this.inner.updateMetadata(key, update));
  }

  /** The store's multipart upload, its part uploads counted as writes. */
  get multipart(): UfsMultipart | undefined {
    const mp = this.inner.multipart;
    if (!mp) return undefined;
    return {
      createUpload: (key, meta) => mp.createUpload(key, meta),
      uploadPart: async (key, id, n, body, opts) => {
        const r = await this.count('writes', 'upload_part', () => mp.uploadPart(key, id, n, body, opts));
        this.counters.writeBytes += r.size;
        return r;
      },
      completeUpload: (key, id, parts) => mp.completeUpload(key, id, parts),
      abortUpload: (key, id) => mp.abortUpload(key, id),
    };
  }

  probe(readOnly: boolean): Promise<void> {
    return this.inner.probe(readOnly);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
