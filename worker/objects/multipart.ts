/**
 * Multipart uploads. The upload's record lives on the local disk of the worker that created it
 * (the upload id names that worker, `<workerId>.<32 hex>`, so every part reaches it even if the
 * ring changes mid-upload). Parts go one of two ways:
 *
 * - pass-through (seed 000, the default for an S3 UFS): each part streams straight into the
 *   store's own multipart upload and Complete completes it there;
 * - staged (a local-directory UFS): parts are files here, and Complete streams them, in order,
 *   into one object that becomes visible atomically like any PUT.
 *
 * Complete is idempotent (a retry of a finished upload answers the same result), checksums are
 * kept per part and combined the way S3 does (COMPOSITE, or FULL_OBJECT over the whole
 * object), and a cleaner aborts uploads that saw no activity for the cleaner timeout.
 */
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { PassThrough, Readable, Transform } from 'node:stream';
import type { ChecksumAlgorithm, ObjectMetadata, StoredChecksum, UfsStatus } from '../../common/ufs/types.js';
import { compositeChecksum, createChecksumHasher } from '../../common/checksums.js';
import type { Logger } from '../../common/log.js';
import { fromUfsError, ObjectError } from './errors.js';
import type { ChecksumRequest, ObjectStore, WritePrecondition } from './object-store.js';
import { resolveInside } from '../../common/safe-path.js';

const UPLOAD_ID = /^([A-Za-z0-9_-]+)\.([0-9a-f]{32})$/;
export const MAX_PART_NUMBER = 10000;
/** S3 objects are at most 5 TiB, however many parts make them. */
export const MAX_OBJECT_SIZE = 5 * 1024 ** 4;

/**
 * The size rules of a Complete, judged on the recorded part sizes before a byte is copied:
 * every part but the last at least `minPartSize` (EntityTooSmall), the whole at most
 * `maxObjectSize` (EntityTooLarge).
 */
export function checkCompletedSizes(parts: readonly { partNumber: number; size: number }[], minPartSize: number, maxObjectSize = MAX_OBJECT_SIZE): number {
  let total = 0;
  parts.forEach((p, i) => {
    if (minPartSize > 0 && i < parts.length - 1 && p.size < minPartSize) {
      throw new ObjectError('EntityTooSmall', `Part ${p.partNumber} is ${p.size} bytes, below the minimum allowed size of ${minPartSize}.`);
    }
    total += p.size;
  });
  if (total > maxObjectSize) throw new ObjectError('EntityTooLarge', `The parts add up to ${total} bytes, above the maximum object size of ${maxObjectSize}.`);
  return total;
}

function checkPartNumber(partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw new ObjectError('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive.`);
  }
}
/** How long a finished upload's result is kept to answer a retried Complete. */
const COMPLETED_RETENTION_MS = 60 * 60 * 1000;

export interface UploadInfo extends Pick<ObjectMetadata, 'contentType' | 'headers' | 'userMetadata' | 'tags'> {
  uploadId: string;
  bucket: string;
  key: string;
  initiatedMs: number;
  /** Set when parts pass through to the UFS's own multipart upload. */
  ufsUploadId?: string;
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: 'COMPOSITE' | 'FULL_OBJECT';
}

export interface PartInfo {
  partNumber: number;
  etag: string;
  size: number;
  lastModifiedMs: number;
  /** Base64 checksum of the part, when the upload has a checksum algorithm. */
  checksum?: string;
}

interface CompletedRecord {
  uploadId: string;
  bucket: string;
  key: string;
  etag: string;
  checksum?: StoredChecksum;
  completedMs: number;
}

export interface CompleteResult {
  etag: string;
  checksum?: StoredChecksum;
}

/** The worker that staged an upload, from its id. */
export function uploadOwner(uploadId: string): string | undefined {
  return UPLOAD_ID.exec(uploadId)?.[1];
}

export interface CleanerOptions {
  timeoutMs: number;
  retryCount: number;
  retryDelayMs: number;
  log: Logger;
}

export class MultipartStore {
  private readonly completing = new Map<string, Promise<CompleteResult>>();
  private cleanerTimer: NodeJS.Timeout | undefined;
  private cleaning = false;

  constructor(
    private readonly dir: string,
    private readonly workerId: string,
    private readonly objects: ObjectStore,
    private readonly minPartSize: number,
    /** With the write cache on, pending uploads are also recorded in the metastore. */
    private readonly registry?: { recordUpload(u: UploadInfo): Promise<void>; forgetUpload(bucket: string, key: string, uploadId: string): Promise<void> },
  ) {}

  /** An upload's staging directory; the id comes from the client, so it is checked twice (shape, then path). */
  private uploadDir(uploadId: string): string {
    if (!UPLOAD_ID.test(uploadId)) throw new ObjectError('NoSuchUpload', `no such upload: ${uploadId}`);
    return resolveInside(this.dir, uploadId);
  }

  private completedFile(uploadId: string): string {
    if (!UPLOAD_ID.test(uploadId)) throw new ObjectError('NoSuchUpload', `no such upload: ${uploadId}`);
    return resolveInside(this.dir, 'completed', `${uploadId}.json`);
  }

  async create(bucket: string, key: string, meta: Pick<ObjectMetadata, 'contentType' | 'headers' | 'userMetadata' | 'tags'>, checksum?: { algorithm: ChecksumAlgorithm; type: 'COMPOSITE' | 'FULL_OBJECT' }): Promise<UploadInfo> {
    const b = await this.objects.resolveForWrite(bucket);
    if (key.endsWith('/')) throw new ObjectError('InvalidArgument', 'a key ending in "/" names a folder and cannot be uploaded in parts');
    this.objects.checkPolicyWritable(bucket, key);
    const uploadId = `${this.workerId}.${randomBytes(16).toString('hex')}`;
    let ufsUploadId: string | undefined;
    // WRITE_BACK and TRANSIENT uploads must not reach the UFS before (or instead of) the cache.
    if (b.ufs.multipart && this.objects.passThroughAllowed(bucket, key)) {
      ufsUploadId = await b.ufs.multipart.createUpload(b.prefix + key, meta).catch((e) => { throw fromUfsError(e, `/${bucket}/${key}`); });
    }
    const info: UploadInfo = { uploadId, bucket, key, ...meta, initiatedMs: Date.now(), ufsUploadId, checksumAlgorithm: checksum?.algorithm, checksumType: checksum?.type };
    const dir = this.uploadDir(uploadId);
    await fs.mkdir(dir, { recursive: true });
    await writeJsonAtomic(path.join(dir, 'upload.json'), info);
    await this.registry?.recordUpload(info);
    return info;
  }

  async get(uploadId: string, bucket: string, key: string): Promise<UploadInfo> {
    let info: UploadInfo;
    try {
      info = JSON.parse(await fs.readFile(path.join(this.uploadDir(uploadId), 'upload.json'), 'utf8')) as UploadInfo;
    } catch {
      throw new ObjectError('NoSuchUpload', `no such upload: ${uploadId}`);
    }
    if (info.bucket !== bucket || info.key !== key) throw new ObjectError('NoSuchUpload', `upload ${uploadId} is not for /${bucket}/${key}`);
    return info;
  }

  async uploadPart(uploadId: string, bucket: string, key: string, partNumber: number, body: Readable, opts: { contentLength?: number; contentMd5?: string; sha256Hex?: string; checksum?: ChecksumRequest; signal?: AbortSignal }): Promise<PartInfo> {
    checkPartNumber(partNumber);
    const upload = await this.get(uploadId, bucket, key);
    const dir = this.uploadDir(uploadId);
    if (opts.checksum && upload.checksumAlgorithm && opts.checksum.algorithm !== upload.checksumAlgorithm) {
      throw new ObjectError('InvalidRequest', `this upload uses ${upload.checksumAlgorithm} checksums, the part sent ${opts.checksum.algorithm}`);
    }
    const algorithm = upload.checksumAlgorithm ?? opts.checksum?.algorithm;
    const md5 = createHash('md5');
    const sha256 = opts.sha256Hex !== undefined ? createHash('sha256') : undefined;
    const sum = algorithm ? createChecksumHasher(algorithm) : undefined;
    let size = 0;
    const hasher = new Transform({
      transform(chunk: Buffer, _e, cb) {
        md5.update(chunk);
        sha256?.update(chunk);
        sum?.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    const verify = async (): Promise<{ etagHex: string; checksum?: string }> => {
      if (opts.contentLength !== undefined && size !== opts.contentLength) throw new ObjectError('IncompleteBody', `received ${size} of ${opts.contentLength} bytes`);
      const digest = md5.digest();
      if (opts.contentMd5 !== undefined && digest.toString('base64') !== opts.contentMd5) throw new ObjectError('BadDigest', 'The Content-MD5 you specified did not match what we received.');
      if (opts.sha256Hex !== undefined && sha256!.digest('hex') !== opts.sha256Hex.toLowerCase()) throw new ObjectError('ContentSha256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
      let checksum: string | undefined;
      if (sum) {
        checksum = (await sum.digest()).toString('base64');
        const expected = opts.checksum?.expected?.();
        if (expected !== undefined && expected !== checksum) throw new ObjectError('BadDigest', `The ${algorithm} you specified did not match the calculated checksum.`);
      }
      return { etagHex: digest.toString('hex'), checksum };
    };

    let part: PartInfo;
    if (upload.ufsUploadId) {
      const b = await this.objects.resolveForWrite(bucket);
      const through = new PassThrough({ highWaterMark: 1024 * 1024 });
      const flowing = pipeline(body, hasher, through, { signal: opts.signal });
      flowing.catch((err) => through.destroy(err));
      const res = await b.ufs.multipart!.uploadPart(b.prefix + key, upload.ufsUploadId, partNumber, through, { contentLength: opts.contentLength, md5Base64: opts.contentMd5, signal: opts.signal })
        .catch((e) => { throw fromUfsError(e, `/${bucket}/${key}`); });
      await flowing;
      const v = await verify();
      part = { partNumber, etag: res.etag, size, lastModifiedMs: Date.now(), checksum: v.checksum };
    } else {
      const tmp = resolveInside(dir, `tmp-${randomBytes(8).toString('hex')}`);
      try {
        await pipeline(body, hasher, createWriteStream(tmp), { signal: opts.signal });
        const v = await verify();
        part = { partNumber, etag: v.etagHex, size, lastModifiedMs: Date.now(), checksum: v.checksum };
        await fs.rename(tmp, resolveInside(dir, `part-${partNumber}`));
      } catch (err) {
        await fs.rm(tmp, { force: true });
        throw err;
      }
    }
    await writeJsonAtomic(resolveInside(dir, `part-${partNumber}.json`), part);
    return part;
  }

  /** UploadPartCopy: a byte range of an existing object becomes a part. */
  async uploadPartCopy(uploadId: string, bucket: string, key: string, partNumber: number, source: { bucket: string; key: string; range?: { start: number; end: number } }, checkSource: (st: UfsStatus) => void, signal?: AbortSignal): Promise<PartInfo> {
    await this.get(uploadId, bucket, key);
    const st = await this.objects.statObject(source.bucket, source.key, { useCache: false });
    checkSource(st);
    const range = source.range ?? { start: 0, end: st.size - 1 };
    if (source.range && (range.end >= st.size || range.start > range.end)) {
      throw new ObjectError('InvalidArgument', `The x-amz-copy-source-range value must be within the source object of ${st.size} bytes.`);
    }
    const body = Readable.from(this.objects.readObject(source.bucket, source.key, st, range, { useCache: false, signal }));
    return this.uploadPart(uploadId, bucket, key, partNumber, body, { contentLength: range.end - range.start + 1, signal });
  }

  async listParts(uploadId: string, bucket: string, key: string): Promise<{ upload: UploadInfo; parts: PartInfo[] }> {
    const upload = await this.get(uploadId, bucket, key);
    const dir = this.uploadDir(uploadId);
    const names = (await fs.readdir(dir)).filter((n) => /^part-\d+\.json$/.test(n));
    const parts = await Promise.all(names.map(async (n) => JSON.parse(await fs.readFile(path.join(dir, n), 'utf8')) as PartInfo));
    parts.sort((a, b) => a.partNumber - b.partNumber);
    return { upload, parts };
  }

  /** Uploads of a bucket held by this worker (the S3 edge merges every worker's answer). */
  async listUploads(bucket: string, prefix: string): Promise<UploadInfo[]> {
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    const out: UploadInfo[] = [];
    for (const name of names) {
      if (!UPLOAD_ID.test(name)) continue;
      try {
        const info = JSON.parse(await fs.readFile(path.join(this.dir, name, 'upload.json'), 'utf8')) as UploadInfo;
        if (info.bucket === bucket && info.key.startsWith(prefix)) out.push(info);
      } catch {
        // being created or aborted right now
      }
    }
    return out;
  }

  complete(uploadId: string, bucket: string, key: string, requested: { partNumber: number; etag: string; checksum?: string }[], opts: { precondition?: WritePrecondition; fullObjectChecksum?: string } = {}): Promise<CompleteResult> {
    // A client that retries while the first Complete is still running waits for that one.
    const running = this.completing.get(uploadId);
    if (running) return running;
    const p = this.doComplete(uploadId, bucket, key, requested, opts).finally(() => this.completing.delete(uploadId));
    this.completing.set(uploadId, p);
    return p;
  }

  private async doComplete(uploadId: string, bucket: string, key: string, requested: { partNumber: number; etag: string; checksum?: string }[], opts: { precondition?: WritePrecondition; fullObjectChecksum?: string }): Promise<CompleteResult> {
    let listed: { upload: UploadInfo; parts: PartInfo[] };
    try {
      listed = await this.listParts(uploadId, bucket, key);
    } catch (err) {
      const done = await this.completedResult(uploadId, bucket, key);
      if (done) return done;
      throw err;
    }
    const { upload, parts } = listed;
    if (requested.length === 0) throw new ObjectError('InvalidPart', 'You must specify at least one part.');
    const byNumber = new Map(parts.map((p) => [p.partNumber, p]));
    const chosen: PartInfo[] = [];
    let prev = 0;
    for (const r of requested) {
      checkPartNumber(r.partNumber);
      if (r.partNumber <= prev) throw new ObjectError('InvalidPartOrder', 'The list of parts was not in ascending order. Parts must be ordered by part number.');
      prev = r.partNumber;
      const p = byNumber.get(r.partNumber);
      if (!p || p.etag !== r.etag) throw new ObjectError('InvalidPart', `Part ${r.partNumber} was not uploaded or its ETag does not match.`);
      if (r.checksum !== undefined && p.checksum !== undefined && r.checksum !== p.checksum) throw new ObjectError('InvalidPart', `The checksum of part ${r.partNumber} does not match the uploaded part.`);
      chosen.push(p);
    }
    checkCompletedSizes(chosen, this.minPartSize);
    const etag = `${createHash('md5').update(Buffer.concat(chosen.map((p) => Buffer.from(p.etag, 'hex')))).digest('hex')}-${chosen.length}`;
    const algorithm = upload.checksumAlgorithm;
    let composite: StoredChecksum | undefined;
    if (algorithm && upload.checksumType !== 'FULL_OBJECT' && chosen.every((p) => p.checksum)) {
      composite = { algorithm, value: await compositeChecksum(algorithm, chosen.map((p) => p.checksum!)), type: 'COMPOSITE' };
    }

    let result: CompleteResult;
    if (upload.ufsUploadId) {
      const b = await this.objects.resolveForWrite(bucket);
      const st = await this.objects.withCommitLock(bucket, key, opts.precondition, () =>
        b.ufs.multipart!.completeUpload(b.prefix + key, upload.ufsUploadId!, chosen.map((p) => ({ partNumber: p.partNumber, etag: p.etag }))))
        .catch((e) => { throw fromUfsError(e, `/${bucket}/${key}`); });
      await this.objects.committed(bucket, key, st);
      result = { etag: st.etag, checksum: composite };
    } else {
      const dir = this.uploadDir(uploadId);
      const body = Readable.from((async function* () {
        for (const p of chosen) yield* createReadStream(resolveInside(dir, `part-${p.partNumber}`), { highWaterMark: 1024 * 1024 });
      })());
      const fullObject = algorithm && upload.checksumType === 'FULL_OBJECT';
      const st = await this.objects.putObject(bucket, key, body, {
        contentType: upload.contentType,
        headers: upload.headers,
        userMetadata: upload.userMetadata,
        tags: upload.tags,
        contentLength: chosen.reduce((n, p) => n + p.size, 0),
        etag,
        storedChecksum: composite,
        checksum: fullObject ? { algorithm, expected: () => opts.fullObjectChecksum } : undefined,
        precondition: opts.precondition,
      });
      result = { etag: st.etag, checksum: st.checksum ?? composite };
    }
    await fs.mkdir(path.dirname(this.completedFile(uploadId)), { recursive: true });
    await writeJsonAtomic(this.completedFile(uploadId), { uploadId, bucket, key, etag: result.etag, checksum: result.checksum, completedMs: Date.now() } satisfies CompletedRecord);
    await fs.rm(this.uploadDir(uploadId), { recursive: true, force: true });
    await this.registry?.forgetUpload(bucket, key, uploadId).catch(() => undefined);
    return result;
  }

  private async completedResult(uploadId: string, bucket: string, key: string): Promise<CompleteResult | undefined> {
    if (!UPLOAD_ID.test(uploadId)) return undefined;
    try {
      const rec = JSON.parse(await fs.readFile(this.completedFile(uploadId), 'utf8')) as CompletedRecord;
      if (rec.bucket !== bucket || rec.key !== key) return undefined;
      return { etag: rec.etag, checksum: rec.checksum };
    } catch {
      return undefined;
    }
  }

  async abort(uploadId: string, bucket: string, key: string): Promise<void> {
    const upload = await this.get(uploadId, bucket, key);
    if (upload.ufsUploadId) {
      const b = await this.objects.resolveForWrite(bucket);
      await b.ufs.multipart!.abortUpload(b.prefix + key, upload.ufsUploadId).catch((e) => { throw fromUfsError(e, `/${bucket}/${key}`); });
    }
    await fs.rm(this.uploadDir(uploadId), { recursive: true, force: true });
    await this.registry?.forgetUpload(bucket, key, uploadId).catch(() => undefined);
  }

  /**
   * Aborts uploads idle (no part uploaded) for longer than the timeout, retrying a failed
   * abort, and forgets completed-upload records past their retention. Owned by the worker:
   * stopCleaner() in close().
   */
  startCleaner(opts: CleanerOptions): void {
    const every = Math.max(1000, Math.min(opts.timeoutMs / 2, 60_000));
    this.cleanerTimer = setInterval(() => void this.clean(opts), every);
    this.cleanerTimer.unref();
  }

  stopCleaner(): void {
    clearInterval(this.cleanerTimer);
  }

  async clean(opts: CleanerOptions): Promise<void> {
    if (this.cleaning) return;
    this.cleaning = true;
    try {
      const names = await fs.readdir(this.dir).catch(() => [] as string[]);
      for (const name of names) {
        if (!UPLOAD_ID.test(name)) continue;
        const dir = path.join(this.dir, name);
        const last = await lastActivity(dir);
        if (last === undefined || Date.now() - last < opts.timeoutMs) continue;
        for (let attempt = 1; attempt <= Math.max(1, opts.retryCount); attempt++) {
          try {
            const info = JSON.parse(await fs.readFile(path.join(dir, 'upload.json'), 'utf8')) as UploadInfo;
            await this.abort(name, info.bucket, info.key);
            opts.log.info({ upload_id: name, bucket: info.bucket, key: info.key }, 'aborted an abandoned multipart upload');
            break;
          } catch (err) {
            if (err instanceof ObjectError && err.code === 'NoSuchUpload') break;
            opts.log.warn({ err, upload_id: name, attempt }, 'could not abort an abandoned multipart upload');
            if (attempt < opts.retryCount) await new Promise((r) => setTimeout(r, opts.retryDelayMs).unref());
          }
        }
      }
      const doneDir = path.join(this.dir, 'completed');
      for (const name of await fs.readdir(doneDir).catch(() => [] as string[])) {
        const file = path.join(doneDir, name);
        const st = await fs.stat(file).catch(() => null);
        if (st && Date.now() - st.mtimeMs > COMPLETED_RETENTION_MS) await fs.rm(file, { force: true });
      }
    } finally {
      this.cleaning = false;
    }
  }
}

/** The newest modification time among an upload's files: its last activity. */
async function lastActivity(dir: string): Promise<number | undefined> {
  const names = await fs.readdir(dir).catch(() => undefined);
  if (!names) return undefined;
  let last = 0;
  for (const n of names) {
    const st = await fs.stat(path.join(dir, n)).catch(() => null);
    if (st) last = Math.max(last, st.mtimeMs);
  }
  return last || undefined;
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(value));
  await fs.rename(tmp, file);
}
