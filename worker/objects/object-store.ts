/**
 * The object layer: buckets and objects over mounts, the page cache and the UFS. It knows
 * nothing of HTTP or XML (worker/s3 turns requests into calls here).
 *
 * Reads: metadata comes from an in-memory cache trusted for the metadata sync interval, then
 * from the UFS; bytes come from the page cache (CachedReader). Writes (WRITE_THROUGH): the body
 * streams to the UFS while its MD5 (and any checksum the client asked for) is computed; the
 * checks run before the commit, and the commit itself happens under a per-key lock, so a
 * conditional write (If-Match / If-None-Match) and the rename it guards are atomic. The pages of
 * small objects are cached after the commit under the new fingerprint.
 */
import { createHash, type Hash } from 'node:crypto';
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import type { Logger } from '../../common/log.js';
import type { ByteRange, ChecksumAlgorithm, ListResult, ObjectMetadata, StoredChecksum, UfsStatus } from '../../common/ufs/types.js';
import { createChecksumHasher, type ChecksumHasher } from '../../common/checksums.js';
import { namespacePath } from '../../common/ring.js';
import { compareKeys } from '../../common/ufs/key-order.js';
import type { PageStore } from '../cache/page-store.js';
import { CachedReader } from './cached-reader.js';
import { fromUfsError, ObjectError } from './errors.js';
import type { MountTable, ResolvedBucket } from './mount-table.js';
import { statusOf as statusOfEntry, type WriteCache } from '../writecache/write-cache.js';
import type { WriteEntry } from '../../common/metastore/write-entries.js';

export interface ObjectStoreOptions {
  mounts: MountTable;
  pages: PageStore;
  pageSize: number;
  /** Metadata older than this is looked up again in the UFS (0: on every request). */
  metadataSyncIntervalMs: number;
  /** Largest object whose pages are cached straight from a PUT (they are held in memory until the commit). */
  cacheOnWriteMaxBytes: number;
  enforceBucketNamingRules: boolean;
  /** The write cache (seed 004); its path config decides each write while it is enabled. */
  writeCache?: WriteCache;
  log: Logger;
}

/** The status of an unpersisted object carries its write-cache entry (where its bytes are). */
type CachedStatus = UfsStatus & { writeCache?: WriteEntry };

/** S3 conditional writes: If-None-Match: * creates only if absent; If-Match: etag replaces only that version. */
export interface WritePrecondition {
  ifMatch?: string;
  ifNoneMatch?: '*';
}

/** A checksum to compute while writing; `expected` (read after the body, so trailers count) is verified when it returns a value. */
export interface ChecksumRequest {
  algorithm: ChecksumAlgorithm;
  expected?: () => string | undefined;
}

export interface PutOptions extends Pick<ObjectMetadata, 'contentType' | 'headers' | 'userMetadata' | 'tags'> {
  contentLength?: number;
  /** Base64 Content-MD5 sent by the client: a mismatch vetoes the write (BadDigest). */
  contentMd5?: string;
  /** Hex x-amz-content-sha256 sent by the client: a mismatch vetoes the write. */
  sha256Hex?: string;
  checksum?: ChecksumRequest;
  /** A checksum already known (multipart COMPOSITE), stored as it is. */
  storedChecksum?: StoredChecksum;
  /** Replaces the MD5 as the stored entity tag (multipart: "md5-of-part-md5s-N"). */
  etag?: string;
  precondition?: WritePrecondition;
  signal?: AbortSignal;
}

export interface CopyOptions {
  /** REPLACE: the new metadata; undefined copies the source's (COPY). */
  replace?: Pick<ObjectMetadata, 'contentType' | 'headers' | 'userMetadata'>;
  /** The new tag set; undefined copies the source's tags. */
  tags?: Record<string, string>;
  /** Checks the source (x-amz-copy-source-if-*), throwing to refuse. */
  checkSource?: (source: UfsStatus) => void;
  precondition?: WritePrecondition;
  signal?: AbortSignal;
}

export interface BucketInfo {
  name: string;
  creationDateMs: number;
}

async function* streamed(stream: Readable): AsyncGenerator<Buffer> {
  try {
    yield* stream as AsyncIterable<Buffer>;
  } finally {
    stream.destroy();
  }
}

interface CachedMeta {
  status: UfsStatus;
  fetchedAt: number;
}

/** Metadata entries kept in memory; the oldest go first beyond this (they are re-read from the UFS). */
const MAX_CACHED_METADATA = 200_000;

const AWS_BUCKET_NAME = /^(?!xn--)(?!.*-s3alias$)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Computes the MD5, and on request the SHA-256 and an additional checksum, of what passes through. */
class HashingStream extends Transform {
  private readonly md5 = createHash('md5');
  readonly sha256: Hash | undefined;
  readonly checksum: ChecksumHasher | undefined;
  bytes = 0;
  constructor(opts: { sha256: boolean; checksum?: ChecksumAlgorithm }, private readonly keep?: { pages: Buffer[]; max: number; overflow: boolean }) {
    super({ highWaterMark: 1024 * 1024 });
    this.sha256 = opts.sha256 ? createHash('sha256') : undefined;
    this.checksum = opts.checksum ? createChecksumHasher(opts.checksum) : undefined;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.md5.update(chunk);
    this.sha256?.update(chunk);
    this.checksum?.update(chunk);
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

/** S3 compares entity tags without quotes. */
export function sameEtag(a: string, b: string): boolean {
  const norm = (s: string) => s.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  return norm(a) === norm(b);
}

export class ObjectStore {
  private readonly meta = new Map<string, CachedMeta>();
  private readonly keyLocks = new Map<string, Promise<void>>();
  readonly reader: CachedReader;

  constructor(private readonly opts: ObjectStoreOptions) {
    this.reader = new CachedReader(opts.pages, opts.pageSize);
    opts.writeCache?.attach({ lockKey: (p) => this.lockKey(p), forget: (p) => this.meta.delete(p) });
  }

  private get wc(): WriteCache | undefined {
    return this.opts.writeCache?.enabled ? this.opts.writeCache : undefined;
  }

  /** The object as it is now: an unpersisted write-cache entry shadows the UFS. */
  private async current(b: ResolvedBucket, key: string, path: string): Promise<CachedStatus | null> {
    const e = await this.wc?.lookup(path);
    if (e) return e.deleted ? null : statusOfEntry(e);
    const st = await b.ufs.stat(b.prefix + key).catch((err) => { throw fromUfsError(err, path); });
    return st ? { ...st, key } : null;
  }

  /** Whether a multipart upload of this path may pass straight through to the UFS. */
  passThroughAllowed(bucket: string, key: string): boolean {
    const mode = this.wc?.policy(namespacePath(bucket, key))?.policyMode;
    return mode === undefined || mode === 'WRITE_THROUGH' || mode === 'NO_CACHE';
  }

  /** READ_ONLY paths refuse every write. */
  checkPolicyWritable(bucket: string, key: string): void {
    const path = namespacePath(bucket, key);
    if (this.wc?.policy(path)?.policyMode === 'READ_ONLY') throw new ObjectError('PolicyReadOnly', `${path} is READ_ONLY by the path config`);
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

  /**
   * Serialises commits of one key on this worker (its owner): the holder can check the
   * current version and replace it with nothing in between.
   */
  private async lockKey(path: string): Promise<() => void> {
    const previous = this.keyLocks.get(path) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => { release = resolve; });
    const chained = previous.then(() => mine);
    this.keyLocks.set(path, chained);
    await previous;
    return () => {
      release();
      if (this.keyLocks.get(path) === chained) this.keyLocks.delete(path);
    };
  }

  /** Checks a conditional write against the object as the UFS has it now (never the cache). */
  private async checkPrecondition(b: ResolvedBucket, key: string, path: string, pre: WritePrecondition | undefined): Promise<void> {
    if (!pre || (pre.ifMatch === undefined && pre.ifNoneMatch === undefined)) return;
    const current = await this.current(b, key, path);
    if (pre.ifNoneMatch === '*' && current) throw new ObjectError('PreconditionFailed', `${path} exists (If-None-Match: *)`);
    if (pre.ifMatch !== undefined) {
      if (!current) throw new ObjectError('NoSuchKey', `${path} does not exist`);
      if (pre.ifMatch.trim() !== '*' && !sameEtag(pre.ifMatch, current.etag)) throw new ObjectError('PreconditionFailed', `${path} has another entity tag (If-Match)`);
    }
  }

  // ---------------- buckets ----------------

  private bucket(name: string): ResolvedBucket {
    const b = this.opts.mounts.resolve(name);
    if (!b) throw new ObjectError('UfsUnavailable', 'the mount table has not reached this worker yet');
    return b;
  }

  private async requireBucket(name: string): Promise<ResolvedBucket> {
    if (!validBucketDirName(name)) throw new ObjectError('NoSuchBucket', `bucket ${name} does not exist`);
    const b = this.bucket(name);
    if (b.isMountPoint) return b;
    const path = namespacePath(name, '');
    const cached = this.meta.get(path);
    if (cached && Date.now() - cached.fetchedAt < this.opts.metadataSyncIntervalMs) return b;
    const st = await b.ufs.stat(b.prefix).catch((e) => { throw fromUfsError(e, `bucket ${name}`); });
    if (!st) throw new ObjectError('NoSuchBucket', `bucket ${name} does not exist`);
    this.remember(path, st);
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
          if (!validBucketDirName(name) || name.includes(':')) continue;
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
    // Asked outright, existence comes from the UFS: behind a load balancer the bucket may have
    // just been created or deleted through another worker.
    this.meta.delete(namespacePath(name, ''));
    await this.requireBucket(name);
  }

  async createBucket(name: string): Promise<void> {
    // Sub-directory buckets ("a:b") name directories that are made like any other bucket.
    const plain = !name.includes(':');
    if (!validBucketDirName(name) || (plain && this.opts.enforceBucketNamingRules && !AWS_BUCKET_NAME.test(name))) {
      throw new ObjectError('InvalidBucketName', `the bucket name "${name}" is not valid`);
    }
    const b = this.bucket(name);
    if (b.isMountPoint) throw new ObjectError('BucketAlreadyOwnedByYou', `bucket ${name} already exists (it is a mount point)`);
    const st = await b.ufs.stat(b.prefix).catch((e) => { throw fromUfsError(e, `bucket ${name}`); });
    if (st) throw new ObjectError('BucketAlreadyOwnedByYou', `bucket ${name} already exists`);
    if (b.readOnly) throw new ObjectError('ReadOnly', 'the mount is read-only');
    await b.ufs.mkdir(b.prefix).catch((e) => { throw fromUfsError(e, `bucket ${name}`); });
    this.meta.delete(namespacePath(name, ''));
  }

  async deleteBucket(name: string): Promise<void> {
    const b = await this.requireBucket(name);
    if (b.isMountPoint) throw new ObjectError('BucketIsMountPoint', `bucket ${name} is a mount point: remove it with "alluxio mount remove /${name}"`);
    if (b.readOnly) throw new ObjectError('ReadOnly', 'the mount is read-only');
    const page = await b.ufs.list({ prefix: b.prefix, maxKeys: 2 }).catch((e) => { throw fromUfsError(e, `bucket ${name}`); });
    if (page.objects.some((o) => o.key !== b.prefix) || page.commonPrefixes.length > 0) {
      throw new ObjectError('BucketNotEmpty', `bucket ${name} is not empty`);
    }
    await b.ufs.delete(b.prefix).catch((e) => { throw fromUfsError(e, `bucket ${name}`); });
    this.meta.delete(namespacePath(name, ''));
  }

  // ---------------- objects ----------------

  /** Metadata of an object (or folder object "dir/"), from the cache while it is fresh. */
  async statObject(bucket: string, key: string, opts: { useCache: boolean } = { useCache: true }): Promise<UfsStatus> {
    const b = await this.requireBucket(bucket);
    const path = namespacePath(bucket, key);
    const cached = opts.useCache ? this.meta.get(path) : undefined;
    if (cached && Date.now() - cached.fetchedAt < this.opts.metadataSyncIntervalMs) return cached.status;
    const entry = await this.wc?.lookup(path);
    if (entry?.deleted) throw new ObjectError('NoSuchKey', `${path} does not exist`);
    if (entry) {
      const status: CachedStatus = statusOfEntry(entry);
      if (opts.useCache) this.remember(path, status);
      return status;
    }
    const st = await b.ufs.stat(b.prefix + key).catch((e) => { throw fromUfsError(e, path); });
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
   * The bytes of `range` of an object. With `useCache` false (serving for an unreachable owner,
   * or reading a copy source owned elsewhere) the UFS is read directly and nothing is cached.
   */
  readObject(bucket: string, key: string, status: UfsStatus, range: ByteRange, opts: { useCache: boolean; signal?: AbortSignal }): AsyncGenerator<Buffer> {
    const b = this.bucket(bucket);
    const path = namespacePath(bucket, key);
    const entry = (status as CachedStatus).writeCache;
    if (entry) return this.translateErrors(this.fromWriteCache(entry, range, opts.signal), path);
    // NO_CACHE paths are read straight from the UFS and leave no pages.
    const noCache = this.wc?.policy(path)?.policyMode === 'NO_CACHE';
    if (opts.useCache && !noCache) return this.translateErrors(this.reader.read(b.ufs, b.prefix + key, path, status, range, opts.signal), path);
    return this.translateErrors(this.direct(b, key, status, range, opts.signal), path);
  }

  /**
   * A whole-object read whose metadata is not cached, in one UFS request where the store has
   * UnderFileSystem.open (S3): the status comes from the response that carries the bytes, so
   * the pages cached are exactly that version's. Undefined when that does not apply, and the
   * caller uses statObject and readObject: the metadata is fresh; pages of the key are cached
   * (a stat and the cache beat a GET that would be dropped); the write cache holds the object;
   * the store has no open. `cancel` releases the UFS stream if the body is never read.
   */
  async openObject(bucket: string, key: string, opts: { useCache: boolean; signal?: AbortSignal }): Promise<{ status: UfsStatus; body: AsyncGenerator<Buffer>; cancel: () => void } | undefined> {
    const b = await this.requireBucket(bucket);
    if (!b.ufs.open || key === '' || key.endsWith('/')) return undefined;
    const path = namespacePath(bucket, key);
    const cached = opts.useCache ? this.meta.get(path) : undefined;
    if (cached && Date.now() - cached.fetchedAt < this.opts.metadataSyncIntervalMs) return undefined;
    if (this.opts.pages.hasAnyPage(path)) return undefined;
    // The write cache shadows the UFS; asked at the same time rather than before the GET.
    const [entry, opened] = await Promise.allSettled([this.wc?.lookup(path), b.ufs.open(b.prefix + key, { signal: opts.signal })]);
    if (entry.status === 'rejected' || entry.value) {
      if (opened.status === 'fulfilled') opened.value?.body.destroy();
      if (entry.status === 'rejected') throw entry.reason;
      return undefined;
    }
    if (opened.status === 'rejected') throw fromUfsError(opened.reason, path);
    if (!opened.value) {
      this.meta.delete(path);
      throw new ObjectError('NoSuchKey', `${path} does not exist`);
    }
    const stream = opened.value.body;
    const status: UfsStatus = { ...opened.value.status, key };
    if (cached && cached.status.fingerprint !== status.fingerprint) void this.opts.pages.invalidate(path);
    if (opts.useCache) this.remember(path, status);
    const noCache = this.wc?.policy(path)?.policyMode === 'NO_CACHE';
    const body = opts.useCache && !noCache
      ? this.reader.read(b.ufs, b.prefix + key, path, status, { start: 0, end: status.size - 1 }, opts.signal, stream)
      : streamed(stream);
    return { status, body: this.translateErrors(body, path), cancel: () => stream.destroy() };
  }

  private async *fromWriteCache(entry: WriteEntry, range: ByteRange, signal?: AbortSignal): AsyncGenerator<Buffer> {
    if (entry.size === 0 || range.end < range.start) return;
    yield* (await this.opts.writeCache!.read(entry, range, signal)) as AsyncIterable<Buffer>;
  }

  private async *direct(b: ResolvedBucket, key: string, status: UfsStatus, range: ByteRange, signal?: AbortSignal): AsyncGenerator<Buffer> {
    if (status.size === 0 || range.end < range.start) return;
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
    const path = namespacePath(bucket, key);
    this.checkPolicyWritable(bucket, key);
    if (key.endsWith('/')) return this.putFolder(b, bucket, key, body, opts);
    const policy = this.wc?.policy(path);
    const cached = policy && (policy.policyMode === 'WRITE_BACK' || policy.policyMode === 'TRANSIENT');
    const target = cached ? this.opts.writeCache!.target(bucket, key, path, policy.policyMode as 'WRITE_BACK' | 'TRANSIENT', policy.writeReplicas, opts.precondition) : b.ufs;
    // Pages are cached from a write only for UFS writes on a caching path: write-cache objects
    // are served from their pinned copy, NO_CACHE paths keep nothing.
    const keep = { pages: [] as Buffer[], max: this.opts.cacheOnWriteMaxBytes, overflow: cached || policy?.policyMode === 'NO_CACHE' };
    const hasher = new HashingStream({ sha256: opts.sha256Hex !== undefined, checksum: opts.checksum?.algorithm }, keep);
    // pipeline also forwards an error the body already had before we got here.
    pipeline(body, hasher, () => undefined);
    let release: (() => void) | undefined;
    let status: UfsStatus;
    try {
      status = await target.write(b.prefix + key, hasher, {
        contentType: opts.contentType,
        headers: opts.headers,
        userMetadata: opts.userMetadata,
        tags: opts.tags,
        contentLength: opts.contentLength,
        signal: opts.signal,
        beforeCommit: async () => {
          const digest = hasher.digest();
          if (opts.contentLength !== undefined && hasher.bytes !== opts.contentLength) {
            throw new ObjectError('IncompleteBody', `received ${hasher.bytes} of ${opts.contentLength} bytes`);
          }
          if (opts.contentMd5 !== undefined && digest.toString('base64') !== opts.contentMd5) {
            throw new ObjectError('BadDigest', 'The Content-MD5 you specified did not match what we received.');
          }
          if (opts.sha256Hex !== undefined && hasher.sha256!.digest('hex') !== opts.sha256Hex.toLowerCase()) {
            throw new ObjectError('ContentSha256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
          }
          let checksum = opts.storedChecksum;
          if (opts.checksum && hasher.checksum) {
            const value = (await hasher.checksum.digest()).toString('base64');
            const expected = opts.checksum.expected?.();
            if (expected !== undefined && expected !== value) {
              throw new ObjectError('BadDigest', `The ${opts.checksum.algorithm} you specified did not match the calculated checksum.`);
            }
            checksum = { algorithm: opts.checksum.algorithm, value, type: 'FULL_OBJECT' };
          }
          release = await this.lockKey(path);
          await this.checkPrecondition(b, key, path, opts.precondition);
          return { md5Hex: digest.toString('hex'), etag: opts.etag, checksum };
        },
      });
      // A write that went to the UFS supersedes an unpersisted version (its persistence is cancelled).
      if (!cached && this.wc) await this.wc.remove(path);
    } catch (err) {
      throw fromUfsError(err, path);
    } finally {
      this.meta.delete(path);
      release?.();
    }
    status = { ...status, key };
    this.remember(path, status);
    await this.opts.pages.invalidate(path);
    if (!keep.overflow) await this.cacheWrittenPages(path, status, keep.pages);
    return status;
  }

  /** A folder object "dir/": a directory in the UFS. S3 clients (s3fs, consoles) send it empty. */
  private async putFolder(b: ResolvedBucket, bucket: string, key: string, body: Readable, opts: PutOptions): Promise<UfsStatus> {
    const path = namespacePath(bucket, key);
    let bytes = 0;
    for await (const chunk of body) bytes += (chunk as Buffer).length;
    if (bytes > 0) throw new ObjectError('InvalidArgument', `a key ending in "/" names a folder and cannot hold data (${bytes} bytes sent)`);
    const release = await this.lockKey(path);
    try {
      await this.checkPrecondition(b, key, path, opts.precondition);
      await b.ufs.mkdir(b.prefix + key).catch((e) => { throw fromUfsError(e, path); });
      if (opts.tags || opts.userMetadata || opts.headers) {
        await b.ufs.updateMetadata(b.prefix + key, { replace: { contentType: opts.contentType ?? 'application/x-directory', headers: opts.headers, userMetadata: opts.userMetadata }, tags: opts.tags })
          .catch((e) => { throw fromUfsError(e, path); });
      }
    } finally {
      release();
    }
    this.meta.delete(path);
    return this.statObject(bucket, key);
  }

  private async cacheWrittenPages(path: string, status: UfsStatus, chunks: Buffer[]): Promise<void> {
    if (status.size === 0) return;
    const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    if (all.length !== status.size) return;
    for (let i = 0, off = 0; off < all.length; i++, off += this.opts.pageSize) {
      await this.opts.pages.putPage(path, status.fingerprint, i, Buffer.from(all.subarray(off, off + this.opts.pageSize)));
    }
  }

  /**
   * CopyObject: the source's bytes streamed into the destination (any mount to any mount), or,
   * onto itself with new metadata, a metadata update that leaves the bytes alone.
   */
  async copyObject(src: { bucket: string; key: string }, dst: { bucket: string; key: string }, opts: CopyOptions): Promise<UfsStatus> {
    const source = await this.statObject(src.bucket, src.key, { useCache: false });
    opts.checkSource?.(source);
    if (source.isDirectory) throw new ObjectError('InvalidArgument', 'a folder object cannot be copied');
    const srcPath = namespacePath(src.bucket, src.key);
    const dstPath = namespacePath(dst.bucket, dst.key);
    if (srcPath === dstPath) {
      if (!opts.replace && opts.tags === undefined) {
        throw new ObjectError('InvalidRequest', 'This copy request is illegal because it is trying to copy an object to itself without changing the object\'s metadata, storage class, website redirect location or encryption attributes.');
      }
      return this.updateMetadata(dst.bucket, dst.key, { replace: opts.replace, tags: opts.tags, precondition: opts.precondition });
    }
    const meta = opts.replace ?? { contentType: source.contentType, headers: source.headers, userMetadata: source.userMetadata };
    const body = Readable.from(this.readObject(src.bucket, src.key, source, { start: 0, end: source.size - 1 }, { useCache: false, signal: opts.signal }));
    return this.putObject(dst.bucket, dst.key, body, {
      ...meta,
      tags: opts.tags ?? source.tags,
      contentLength: source.size,
      // The copy carries the source's checksum algorithm, computed afresh over the whole object.
      checksum: source.checksum ? { algorithm: source.checksum.algorithm } : undefined,
      precondition: opts.precondition,
      signal: opts.signal,
    });
  }

  /** Metadata and/or tags changed in place, under the key's commit lock. */
  async updateMetadata(bucket: string, key: string, update: { replace?: CopyOptions['replace']; tags?: Record<string, string>; precondition?: WritePrecondition }): Promise<UfsStatus> {
    const b = await this.requireBucket(bucket);
    if (b.readOnly) throw new ObjectError('ReadOnly', `bucket ${bucket} is read-only`);
    const path = namespacePath(bucket, key);
    this.checkPolicyWritable(bucket, key);
    const release = await this.lockKey(path);
    try {
      await this.checkPrecondition(b, key, path, update.precondition);
      const inCache = await this.wc?.updateMeta(path, { replace: update.replace, tags: update.tags });
      if (inCache) {
        const status = { ...(await this.wc!.lookup(path).then((e) => (e ? statusOfEntry(e) : inCache))), key };
        this.remember(path, status);
        return status;
      }
      const before = this.meta.get(path)?.status;
      const st = await b.ufs.updateMetadata(b.prefix + key, { replace: update.replace, tags: update.tags }).catch((e) => { throw fromUfsError(e, path); });
      const status = { ...st, key };
      if (before && before.fingerprint !== status.fingerprint) await this.opts.pages.invalidate(path);
      this.remember(path, status);
      return status;
    } finally {
      release();
    }
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const b = await this.requireBucket(bucket);
    if (b.readOnly) throw new ObjectError('ReadOnly', `bucket ${bucket} is read-only`);
    const path = namespacePath(bucket, key);
    this.checkPolicyWritable(bucket, key);
    const release = await this.lockKey(path);
    this.meta.delete(path);
    try {
      if (this.wc?.policy(path)?.policyMode === 'WRITE_BACK') {
        // Written back like a write: acknowledged now, applied to the UFS by the persister
        // (and cancelling the persistence of an unpersisted version).
        await this.wc.markDeleted(bucket, key, path);
        return;
      }
      // Deleting an unpersisted object cancels its persistence and drops its copies.
      await this.wc?.remove(path);
      await b.ufs.delete(b.prefix + key);
    } catch (err) {
      const e = fromUfsError(err, path);
      if (!(e instanceof ObjectError && e.code === 'NoSuchKey')) throw e;
    } finally {
      this.meta.delete(path);
      release();
      await this.opts.pages.invalidate(path);
    }
  }

  async listObjects(bucket: string, opts: { prefix: string; delimiter?: string; startAfter?: string; maxKeys: number }): Promise<ListResult> {
    const b = await this.requireBucket(bucket);
    // The write cache is read before the UFS: the persister writes an object to the UFS before
    // it drops its entry, so an object persisted meanwhile is in one or the other (read the
    // other way round, it could be in neither).
    const base = namespacePath(bucket, '');
    const scan = this.wc ? await this.wc.listPage(base, opts.prefix, opts.startAfter ?? '', opts.delimiter || undefined, opts.maxKeys) : undefined;
    const res = await b.ufs.list({
      prefix: b.prefix + opts.prefix,
      delimiter: opts.delimiter || undefined,
      startAfter: opts.startAfter ? b.prefix + opts.startAfter : b.prefix,
      maxKeys: opts.maxKeys,
    }).catch((e) => { throw fromUfsError(e, `bucket ${bucket}`); });
    const strip = (k: string) => k.slice(b.prefix.length);
    const page: ListResult = {
      objects: res.objects.filter((o) => o.key !== b.prefix).map((o) => ({ ...o, key: strip(o.key) })),
      commonPrefixes: res.commonPrefixes.map(strip),
      isTruncated: res.isTruncated,
      lastKey: res.lastKey === undefined ? undefined : strip(res.lastKey),
    };
    // Nothing unpersisted in range (the usual case): the UFS page is the answer as it stands.
    if (!scan || (scan.complete && scan.items.length === 0)) return page;
    return this.withUnpersisted(base, page, scan, opts.maxKeys);
  }

  /**
   * Listings include unpersisted objects: the write-cache entries in the page's key range are
   * merged in key order (an entry shadows a UFS object of the same key), rolled up at the
   * delimiter, and the page cut back to maxKeys.
   */
  private withUnpersisted(base: string, page: ListResult, scan: Awaited<ReturnType<WriteCache['listPage']>>, maxKeys: number): ListResult {
    // Items are exact only up to where both sources were read: the UFS page's last key (when
    // truncated) and the last item of an entry scan that stopped at the limit.
    const horizons: string[] = [];
    if (page.isTruncated && page.lastKey !== undefined) horizons.push(page.lastKey);
    if (!scan.complete && scan.items.length) horizons.push(scan.items[scan.items.length - 1].path.slice(base.length));
    const horizon = horizons.sort(compareKeys)[0];
    type Item = { key: string; object?: UfsStatus };
    const items = new Map<string, Item>();
    for (const o of page.objects) items.set(o.key, { key: o.key, object: o });
    for (const p of page.commonPrefixes) items.set(p, { key: p });
    for (const it of scan.items) {
      const key = it.path.slice(base.length);
      if (!it.entry) {
        if (!items.has(key)) items.set(key, { key });
      } else if (it.entry.deleted) {
        // A delete not yet applied to the UFS hides the UFS's copy.
        items.delete(key);
      } else {
        items.set(key, { key, object: { ...statusOfEntry(it.entry), key } });
      }
    }
    const sorted = [...items.values()]
      .filter((i) => horizon === undefined || compareKeys(i.key, horizon) <= 0)
      .sort((a, z) => compareKeys(a.key, z.key));
    const kept = sorted.slice(0, maxKeys);
    const truncated = page.isTruncated || !scan.complete || sorted.length > kept.length;
    const lastKey = kept.length ? kept[kept.length - 1].key : horizon ?? page.lastKey;
    return {
      objects: kept.flatMap((i) => (i.object ? [i.object] : [])),
      commonPrefixes: kept.flatMap((i) => (i.object ? [] : [i.key])),
      isTruncated: truncated && lastKey !== undefined,
      lastKey,
    };
  }

  /**
   * The cheap refusals of a write, before its body is read: no bucket, a read-only mount, a
   * precondition that already fails. (The precondition is checked again at commit, under the
   * key's lock; this early look only spares a client an upload that could not succeed.)
   */
  async checkWrite(bucket: string, key: string, precondition?: WritePrecondition): Promise<void> {
    const b = await this.resolveForWrite(bucket);
    await this.checkPrecondition(b, key, namespacePath(bucket, key), precondition);
  }

  /** The UFS behind a bucket, for the multipart store's pass-through. */
  resolveForWrite(bucket: string): Promise<ResolvedBucket> {
    return this.requireBucket(bucket).then((b) => {
      if (b.readOnly) throw new ObjectError('ReadOnly', `bucket ${bucket} is read-only`);
      return b;
    });
  }

  /** Records the result of a write done outside putObject (a pass-through multipart complete). */
  async committed(bucket: string, key: string, status: UfsStatus): Promise<void> {
    const path = namespacePath(bucket, key);
    await this.opts.pages.invalidate(path);
    this.remember(path, { ...status, key });
  }

  /**
   * Runs `fn` (a write straight to the UFS, e.g. a pass-through multipart Complete) holding the
   * key's commit lock after checking the precondition; the new UFS object then supersedes any
   * unpersisted version, as a PUT to the UFS does.
   */
  async withCommitLock<T>(bucket: string, key: string, precondition: WritePrecondition | undefined, fn: () => Promise<T>): Promise<T> {
    const b = await this.requireBucket(bucket);
    const path = namespacePath(bucket, key);
    const release = await this.lockKey(path);
    try {
      await this.checkPrecondition(b, key, path, precondition);
      const result = await fn();
      if (this.wc) await this.wc.remove(path);
      return result;
    } finally {
      release();
    }
  }
}

/**
 * A bucket of the root mount is a directory: whatever S3 allows must also be a safe path. A
 * name may hold ':' separators for sub-directory buckets (seed 003: "a:b:c" is /a/b/c), each
 * segment a safe single path segment (no '/', '.', '..', nothing reserved).
 */
export function validBucketDirName(name: string): boolean {
  if (name.length < 1 || name.length > 255) return false;
  return name.split(':').every((seg) => seg.length >= 1 && !seg.includes('/') && !seg.includes('\\') && !seg.includes('\0') && !seg.startsWith('.') && seg !== '..');
}


