/**
 * Multipart uploads, staged on the owner's local disk and committed to the UFS as one object on
 * CompleteMultipartUpload (the object then becomes visible atomically, like any PUT).
 *
 * An upload id names the worker that holds its parts (`<workerId>.<32 hex>`), so part uploads
 * keep reaching the same worker even if the ring changes mid-upload.
 */
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import type { UfsStatus } from '../../common/ufs/types.js';
import { ObjectError } from './errors.js';
import type { ObjectStore } from './object-store.js';

const UPLOAD_ID = /^([A-Za-z0-9_-]+)\.([0-9a-f]{32})$/;
export const MAX_PART_NUMBER = 10000;

export interface UploadInfo {
  uploadId: string;
  bucket: string;
  key: string;
  contentType?: string;
  userMetadata?: Record<string, string>;
  initiatedMs: number;
}

export interface PartInfo {
  partNumber: number;
  etag: string;
  size: number;
  lastModifiedMs: number;
}

/** The worker that staged an upload, from its id. */
export function uploadOwner(uploadId: string): string | undefined {
  return UPLOAD_ID.exec(uploadId)?.[1];
}

export class MultipartStore {
  constructor(
    private readonly dir: string,
    private readonly workerId: string,
    private readonly objects: ObjectStore,
    private readonly minPartSize: number,
  ) {}

  private uploadDir(uploadId: string): string {
    if (!UPLOAD_ID.test(uploadId)) throw new ObjectError('NoSuchUpload', `no such upload: ${uploadId}`);
    return path.join(this.dir, uploadId);
  }

  async create(bucket: string, key: string, meta: { contentType?: string; userMetadata?: Record<string, string> }): Promise<UploadInfo> {
    await this.objects.headBucket(bucket);
    const uploadId = `${this.workerId}.${randomBytes(16).toString('hex')}`;
    const info: UploadInfo = { uploadId, bucket, key, ...meta, initiatedMs: Date.now() };
    const dir = this.uploadDir(uploadId);
    await fs.mkdir(dir, { recursive: true });
    await writeJsonAtomic(path.join(dir, 'upload.json'), info);
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

  async uploadPart(uploadId: string, bucket: string, key: string, partNumber: number, body: Readable, opts: { contentLength?: number; contentMd5?: string; signal?: AbortSignal }): Promise<PartInfo> {
    await this.get(uploadId, bucket, key);
    const dir = this.uploadDir(uploadId);
    const tmp = path.join(dir, `tmp-${randomBytes(8).toString('hex')}`);
    const md5 = createHash('md5');
    let size = 0;
    const hasher = new Transform({
      transform(chunk: Buffer, _e, cb) {
        md5.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, hasher, createWriteStream(tmp), { signal: opts.signal });
      if (opts.contentLength !== undefined && size !== opts.contentLength) throw new ObjectError('IncompleteBody', `received ${size} of ${opts.contentLength} bytes`);
      const digest = md5.digest();
      if (opts.contentMd5 !== undefined && digest.toString('base64') !== opts.contentMd5) throw new ObjectError('BadDigest', 'the Content-MD5 does not match the part');
      const part: PartInfo = { partNumber, etag: digest.toString('hex'), size, lastModifiedMs: Date.now() };
      await fs.rename(tmp, path.join(dir, `part-${partNumber}`));
      await writeJsonAtomic(path.join(dir, `part-${partNumber}.json`), part);
      return part;
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async listParts(uploadId: string, bucket: string, key: string): Promise<{ upload: UploadInfo; parts: PartInfo[] }> {
    const upload = await this.get(uploadId, bucket, key);
    const dir = this.uploadDir(uploadId);
    const names = (await fs.readdir(dir)).filter((n) => /^part-\d+\.json$/.test(n));
    const parts = await Promise.all(names.map(async (n) => JSON.parse(await fs.readFile(path.join(dir, n), 'utf8')) as PartInfo));
    parts.sort((a, b) => a.partNumber - b.partNumber);
    return { upload, parts };
  }

  async complete(uploadId: string, bucket: string, key: string, requested: { partNumber: number; etag: string }[]): Promise<UfsStatus> {
    const { upload, parts } = await this.listParts(uploadId, bucket, key);
    if (requested.length === 0) throw new ObjectError('InvalidPart', 'you must specify at least one part');
    const byNumber = new Map(parts.map((p) => [p.partNumber, p]));
    const chosen: PartInfo[] = [];
    let prev = 0;
    for (const r of requested) {
      if (r.partNumber <= prev) throw new ObjectError('InvalidPartOrder', 'parts must be listed in ascending order');
      prev = r.partNumber;
      const p = byNumber.get(r.partNumber);
      if (!p || p.etag !== r.etag) throw new ObjectError('InvalidPart', `part ${r.partNumber} was not uploaded or its ETag does not match`);
      chosen.push(p);
    }
    chosen.forEach((p, i) => {
      if (this.minPartSize > 0 && i < chosen.length - 1 && p.size < this.minPartSize) {
        throw new ObjectError('EntityTooSmall', `part ${p.partNumber} is ${p.size} bytes, below the minimum of ${this.minPartSize}`);
      }
    });
    const etag = `${createHash('md5').update(Buffer.concat(chosen.map((p) => Buffer.from(p.etag, 'hex')))).digest('hex')}-${chosen.length}`;
    const dir = this.uploadDir(uploadId);
    const body = Readable.from((async function* () {
      for (const p of chosen) yield* createReadStream(path.join(dir, `part-${p.partNumber}`), { highWaterMark: 1024 * 1024 });
    })());
    const total = chosen.reduce((n, p) => n + p.size, 0);
    const status = await this.objects.putObject(bucket, key, body, {
      contentType: upload.contentType,
      userMetadata: upload.userMetadata,
      contentLength: total,
      etag,
    });
    await fs.rm(dir, { recursive: true, force: true });
    return status;
  }

  async abort(uploadId: string, bucket: string, key: string): Promise<void> {
    await this.get(uploadId, bucket, key);
    await fs.rm(this.uploadDir(uploadId), { recursive: true, force: true });
  }
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(value));
  await fs.rename(tmp, file);
}
