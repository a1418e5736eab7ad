/**
 * Counts what reaches an under storage, per operation. Wrapped around every mounted UFS so a
 * worker can say how often it touched the UFS (the proof that a cache hit did not).
 */
import type { Readable } from 'node:stream';
import type { ListOptions, ListResult, MetadataUpdate, ReadOptions, UfsMultipart, UfsStatus, UnderFileSystem, WriteOptions } from './types.js';

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

export function newUfsCounters(): UfsCounters {
  return { stats: 0, reads: 0, readBytes: 0, writes: 0, writeBytes: 0, deletes: 0, lists: 0, errors: 0 };
}

export class CountingUfs implements UnderFileSystem {
  constructor(private readonly inner: UnderFileSystem, readonly counters: UfsCounters) {}

  get uri(): string {
    return this.inner.uri;
  }

  private async count<T>(field: 'stats' | 'writes' | 'deletes' | 'lists' | 'reads', op: () => Promise<T>): Promise<T> {
    this.counters[field]++;
    try {
      return await op();
    } catch (err) {
      this.counters.errors++;
      throw err;
    }
  }

  stat(key: string): Promise<UfsStatus | null> {
    return this.count('stats', () => this.inner.stat(key));
  }

  async read(key: string, opts?: ReadOptions): Promise<Readable> {
    const stream = await this.count('reads', () => this.inner.read(key, opts));
    stream.on('data', (chunk: Buffer) => { this.counters.readBytes += chunk.length; });
    return stream;
  }

  async write(key: string, body: Readable, opts: WriteOptions): Promise<UfsStatus> {
    const st = await this.count('writes', () => this.inner.write(key, body, opts));
    this.counters.writeBytes += st.size;
    return st;
  }

  delete(key: string): Promise<void> {
    return this.count('deletes', () => this.inner.delete(key));
  }

  mkdir(key: string): Promise<void> {
    return this.count('writes', () => this.inner.mkdir(key));
  }

  list(opts: ListOptions): Promise<ListResult> {
    return this.count('lists', () => this.inner.list(opts));
  }

  updateMetadata(key: string, update: MetadataUpdate): Promise<UfsStatus> {
    return this.count('writes', () => this.inner.updateMetadata(key, update));
  }

  /** The store's multipart upload, its part uploads counted as writes. */
  get multipart(): UfsMultipart | undefined {
    const mp = this.inner.multipart;
    if (!mp) return undefined;
    return {
      createUpload: (key, meta) => mp.createUpload(key, meta),
      uploadPart: async (key, id, n, body, opts) => {
        const r = await this.count('writes', () => mp.uploadPart(key, id, n, body, opts));
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
