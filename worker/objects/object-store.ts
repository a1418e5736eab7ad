/**
 * The object layer: buckets and objects over mounts, the page cache and the UFS. It knows
 * nothing of HTTP or XML (worker/s3 turns requests into calls here).
 *
 * Reads: metadata comes from an in-memory cache trusted for the metadata sync interval, then
 * from the UFS; bytes come from the page cache (CachedReader). Writes (WRITE_THROUGH): the body
 * streams to the UFS, which commits by rename; the pages of small objects are cached after the
 * commit under the new fingerprint.
 */
import { createHash } from 'node:crypto';
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import type { Logger } from '../../common/log.js';
import type { ByteRange, ListResult, UfsStatus } from '../../common/ufs/types.js';
import type { PageStore } from '../cache/page-store.js';
import { CachedReader } from './cached-reader.js';
import { fromUfsError, ObjectError } from './errors.js';
import type { MountTable, ResolvedBucket } from './mount-table.js';

export interface ObjectStoreOptions {
  mounts: MountTable;
  pages: PageStore;
  pageSize: number;
  /** Metadata older than this is looked up again in the UFS (0: on every request). */
  metadataSyncIntervalMs: number;
  /** Largest object whose pages are cached straight from a PUT (they are held in memory until the commit). */
  cacheOnWriteMaxBytes: number;
  enforceBucketNamingRules: boolean;
  log: Logger;
}

export interface PutOptions {
  contentType?: string;
  userMetadata?: Record<string, string>;
  contentLength?: number;
  /** Base64 Content-MD5 sent by the client: a mismatch vetoes the write (BadDigest). */
  contentMd5?: string;
  /** Replaces the MD5 as the stored entity tag (multipart: "md5-of-part-md5s-N"). */
  etag?: string;
  signal?: AbortSignal;
  /** Runs after the body is fully received, before commit: may veto by throwing. */
  verify?: () => void;
}

export interface BucketInfo {
  name: string;
  creationDateMs: number;
}

interface CachedMeta {
  status: UfsStatus;
  fetchedAt: number;
}

/** Metadata entries kept in memory; the oldest go first beyond this (they are re-read from the UFS). */
const MAX_CACHED_METADATA = 200_000;

const AWS_BUCKET_NAME = /^(?!xn--)(?!.*-s3alias$)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Computes the MD5 of everything that passes through (and counts it). */
class HashingStream extends Transform {
  private readonly md5 = createHash('md5');
  bytes = 0;
  constructor(private readonly keep?: { pages: Buffer[]; max: number; overflow: boolean }) {
    super({ highWaterMark: 1024 * 1024 });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.md5.update(chunk);
    this.bytes += chunk.length;
    if (this.keep && !this.keep.overflow) {
      if (this.bytes > this.keep.max) {
        this.keep.overflow = true;
        this.keep.pages.length = 0;
      } else {
        this.keep.pages.push(chunk);
      }
    }
    cb(null, chunk);
  }
  digest(): Buffer {
    return this.md5.digest();
  }
}

export class ObjectStore {
  private readonly meta = new Map<string, CachedMeta>();
  readonly reader: CachedReader;

  constructor(private readonly opts: ObjectStoreOptions) {
    this.reader = new CachedReader(opts.pages, opts.pageSize);
  }

  /** Forget every cached metadata entry (the ring or the mounts changed: look again). */
  forgetMetadata(): void {
    this.meta.clear();
  }

  private remember(path: string, status: UfsStatus): void {
    this.meta.delete(path);
    this.meta.set(path, { status, fetchedAt: Date.now() });
    if (this.meta.size > MAX_CACHED_METADATA) this.meta.delete(this.meta.keys().next().value!);
  }

  // ---------------- buckets ----------------

  private bucket(name: string): ResolvedBucket {
    const b = this.opts.mounts.resolve(name);
    if (!b) throw new ObjectError('UfsUnavailable', 'the mount table has not reached this worker yet');
    return b;
  }

  private async requireBucket(name: string): Promise<ResolvedBucket> {
    const b = this.bucket(name);
    if (b.isMountPoint) return b;
    if (!validBucketDirName(name)) throw new ObjectError('NoSuchBucket', `bucket ${name} does not exist`);
    const cached = this.meta.get(`/${name}/`);
    if (cached && Date.now() - cached.fetchedAt < this.opts.metadataSyncIntervalMs) return b;
    const st = await b.ufs.stat(b.prefix).catch((e) => { throw fromUfsError(e, `bucket ${name}`); });
    if (!st) throw new ObjectError('NoSuchBucket', `bucket ${name} does not exist`);
    this.remember(`/${name}/`, st);
    return b;
  }

  async listBuckets(): Promise<BucketInfo[]> {
    const root = this.opts.mounts.root();
    const out = new Map<string, BucketInfo>();
    if (root) {
      let startAfter: string | undefined;
      for (;;) {
        const page = await root.ufs.list({ prefix: '', delimiter: '/', startAfter, maxKeys: 1000 }).catch((e) => { throw fromUfsError(e, 'the root mount'); });
        for (const cp of page.commonPrefixes) {
          const name = cp.slice(0, -1);
          if (!validBucketDirName(name)) continue;
          const st = await root.ufs.stat(cp).catch(() => null);
          out.set(name, { name, creationDateMs: st?.mtimeMs ?? Date.now() });
        }
        if (!page.isTruncated || !page.lastKey) break;
        startAfter = page.lastKey;
      }
    }
    for (const name of this.opts.mounts.mountPointBuckets()) out.set(name, { name, creationDateMs: Date.now() });
    return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async headBucket(name: string): Promise<void> {
    await this.requireBucket(name);
  }

  async createBucket(name: string): Promise<void> {
    if (!validBucketDirName(name) || (this.opts.enforceBucketNamingRules && !AWS_BUCKET_NAME.test(name))) {
      throw new ObjectError('InvalidBucketName', `the bucket name "${name}" is not valid`);
    }
    const b = this.bucket(name);
    if (b.isMountPoint) throw new ObjectError('BucketAlreadyOwnedByYou', `bucket ${name} already exists (it is a mount point)`);
    const st = await b.ufs.stat(b.prefix).catch((e) => { throw fromUfsError(e, `bucket ${name}`); });
    if (st) throw new ObjectError('BucketAlreadyOwnedByYou', `bucket ${name} already exists`);
    if (b.readOnly) throw new ObjectError('ReadOnly', 'the root mount is read-only');
    await b.ufs.mkdir(b.prefix).catch((e) => { throw fromUfsError(e, `bucket ${name}`); });
    this.meta.delete(`/${name}/`);
  }

  async deleteBucket(name: string): Promise<void> {
    const b = await this.requireBucket(name);
    if (b.isMountPoint) throw new ObjectError('BucketIsMountPoint', `bucket ${name} is a mount point: remove it with "alluxio mount remove /${name}"`);
    if (b.readOnly) throw new ObjectError('ReadOnly', 'the root mount is read-only');
    const page = await b.ufs.list({ prefix: b.prefix, maxKeys: 2 }).catch((e) => { throw fromUfsError(e, `bucket ${name}`); });
    if (page.objects.some((o) => o.key !== b.prefix) || page.commonPrefixes.length > 0) {
      throw new ObjectError('BucketNotEmpty', `bucket ${name} is not empty`);
    }
    await b.ufs.delete(b.prefix).catch((e) => { throw fromUfsError(e, `bucket ${name}`); });
    this.meta.delete(`/${name}/`);
  }

  // ---------------- objects ----------------

  /** Metadata of an object (or folder object "dir/"), from the cache while it is fresh. */
  async statObject(bucket: string, key: string, opts: { useCache: boolean } = { useCache: true }): Promise<UfsStatus> {
    const b = await this.requireBucket(bucket);
    const path = `/${bucket}/${key}`;
    const cached = opts.useCache ? this.meta.get(path) : undefined;
    if (cached && Date.now() - cached.fetchedAt < this.opts.metadataSyncIntervalMs) return cached.status;
    const st = await b.ufs.stat(b.prefix + key).catch((e) => { throw fromUfsError(e, `${path}`); });
    if (!st) {
      this.meta.delete(path);
      throw new ObjectError('NoSuchKey', `${path} does not exist`);
    }
    const status = { ...st, key };
    if (cached && cached.status.fingerprint !== status.fingerprint) void this.opts.pages.invalidate(path);
    if (opts.useCache) this.remember(path, status);
    return status;
  }

  /**
   * The bytes of `range` of an object. With `useCache` false (serving for an unreachable owner)
   * the UFS is read directly and nothing is cached here.
   */
  readObject(bucket: string, key: string, status: UfsStatus, range: ByteRange, opts: { useCache: boolean; signal?: AbortSignal }): AsyncGenerator<Buffer> {
    const b = this.bucket(bucket);
    const path = `/${bucket}/${key}`;
    if (opts.useCache) return this.translateErrors(this.reader.read(b.ufs, b.prefix + key, path, status, range, opts.signal), path);
    return this.translateErrors(this.direct(b, key, status, range, opts.signal), path);
  }

  private async *direct(b: ResolvedBucket, key: string, status: UfsStatus, range: ByteRange, signal?: AbortSignal): AsyncGenerator<Buffer> {
    if (status.size === 0) return;
    const stream = await b.ufs.read(b.prefix + key, { range, fingerprint: status.fingerprint, signal });
    yield* stream as AsyncIterable<Buffer>;
  }

  private async *translateErrors(gen: AsyncGenerator<Buffer>, path: string): AsyncGenerator<Buffer> {
    try {
      yield* gen;
    } catch (err) {
      const e = fromUfsError(err, path);
      if (e instanceof ObjectError && (e.code === 'Changed' || e.code === 'NoSuchKey')) this.meta.delete(path);
      throw e;
    }
  }

  async putObject(bucket: string, key: string, body: Readable, opts: PutOptions): Promise<UfsStatus> {
    const b = await this.requireBucket(bucket);
    if (b.readOnly) throw new ObjectError('ReadOnly', `bucket ${bucket} is read-only`);
    const path = `/${bucket}/${key}`;
    if (key.endsWith('/')) {
      // A folder object: a directory in the UFS. S3 clients (s3fs, consoles) send it empty.
      for await (const _ of body) { /* drain */ }
      await b.ufs.mkdir(b.prefix + key).catch((e) => { throw fromUfsError(e, path); });
      this.meta.delete(path);
      return this.statObject(bucket, key);
    }
    const keep = { pages: [] as Buffer[], max: this.opts.cacheOnWriteMaxBytes, overflow: false };
    const hasher = new HashingStream(keep);
    // pipeline also forwards an error the body already had before we got here.
    pipeline(body, hasher, () => undefined);
    const source = hasher;
    let status: UfsStatus;
    try {
      status = await b.ufs.write(b.prefix + key, source, {
        contentType: opts.contentType,
        userMetadata: opts.userMetadata,
        contentLength: opts.contentLength,
        signal: opts.signal,
        beforeCommit: () => {
          const digest = hasher.digest();
          if (opts.contentLength !== undefined && hasher.bytes !== opts.contentLength) {
            throw new ObjectError('IncompleteBody', `received ${hasher.bytes} of ${opts.contentLength} bytes`);
          }
          if (opts.contentMd5 !== undefined && digest.toString('base64') !== opts.contentMd5) {
            throw new ObjectError('BadDigest', 'the Content-MD5 does not match the body');
          }
          opts.verify?.();
          return { md5Hex: opts.etag ?? digest.toString('hex') };
        },
      });
    } catch (err) {
      throw fromUfsError(err, path);
    } finally {
      this.meta.delete(path);
    }
    status = { ...status, key };
    this.remember(path, status);
    await this.opts.pages.invalidate(path);
    if (!keep.overflow) await this.cacheWrittenPages(path, status, keep.pages);
    return status;
  }

  private async cacheWrittenPages(path: string, status: UfsStatus, chunks: Buffer[]): Promise<void> {
    if (status.size === 0) return;
    const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    if (all.length !== status.size) return;
    for (let i = 0, off = 0; off < all.length; i++, off += this.opts.pageSize) {
      await this.opts.pages.putPage(path, status.fingerprint, i, Buffer.from(all.subarray(off, off + this.opts.pageSize)));
    }
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const b = await this.requireBucket(bucket);
    if (b.readOnly) throw new ObjectError('ReadOnly', `bucket ${bucket} is read-only`);
    const path = `/${bucket}/${key}`;
    this.meta.delete(path);
    try {
      await b.ufs.delete(b.prefix + key);
    } catch (err) {
      const e = fromUfsError(err, path);
      if (!(e instanceof ObjectError && e.code === 'NoSuchKey')) throw e;
    } finally {
      this.meta.delete(path);
      await this.opts.pages.invalidate(path);
    }
  }

  async listObjects(bucket: string, opts: { prefix: string; delimiter?: string; startAfter?: string; maxKeys: number }): Promise<ListResult> {
    const b = await this.requireBucket(bucket);
    const res = await b.ufs.list({
      prefix: b.prefix + opts.prefix,
      delimiter: opts.delimiter || undefined,
      startAfter: opts.startAfter ? b.prefix + opts.startAfter : b.prefix,
      maxKeys: opts.maxKeys,
    }).catch((e) => { throw fromUfsError(e, `bucket ${bucket}`); });
    const strip = (k: string) => k.slice(b.prefix.length);
    return {
      objects: res.objects.filter((o) => o.key !== b.prefix).map((o) => ({ ...o, key: strip(o.key) })),
      commonPrefixes: res.commonPrefixes.map(strip),
      isTruncated: res.isTruncated,
      lastKey: res.lastKey === undefined ? undefined : strip(res.lastKey),
    };
  }
}

/**
 * A bucket of the root mount is a directory: whatever S3 allows must also be a safe single
 * path segment (no '/', no '.', '..', nothing reserved).
 */
export function validBucketDirName(name: string): boolean {
  return name.length >= 1 && name.length <= 255 && !name.includes('/') && !name.includes('\\') && !name.includes('\0') && !name.startsWith('.') && name !== '..';
}
