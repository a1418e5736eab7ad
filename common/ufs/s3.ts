/**
 * An S3 bucket (optionally a prefix in it) as under storage: `s3://bucket/prefix` or `s3a://…`.
 * Works against AWS and any S3-compatible store (MinIO, Ceph, moto, …) through the options of
 * seed 002. This is the only module that imports the AWS SDK; every SDK failure is translated
 * into UfsError here.
 *
 * Writes are spooled to local disk first (Alluxio's default, non-streaming upload): the caller's
 * beforeCommit veto runs with the whole body received and before a single byte reaches S3.
 *
 * Object metadata lives on the S3 object itself: Content-Type and the other representation
 * headers as S3's own headers, user metadata as x-amz-meta-*, and what S3 has no header for in
 * RESERVED user metadata that callers never see in userMetadata:
 *   alluxio-tags      the tag set, URL-encoded "k=v&k2=v2" (the form of S3's x-amz-tagging)
 *   alluxio-checksum  the additional checksum, "ALGORITHM:TYPE:base64value"
 *   alluxio-expires   the client's exact Expires string, only when S3's Expires header cannot
 *                     carry it verbatim (not an HTTP-date, or not in IMF-fixdate form)
 * A user's own x-amz-meta-alluxio-{tags,checksum,expires} is dropped on write.
 */
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand,
  DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, ListPartsCommand, PutObjectCommand,
  S3Client, UploadPartCommand,
  type GetObjectCommandOutput, type HeadObjectCommandOutput, type S3ClientConfig, type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ConfigError, parseBool, parseBytes } from '../config/config.js';
import {
  STORED_HEADERS, UfsError, type ChecksumAlgorithm, type ListOptions, type ListResult, type MetadataUpdate,
  type ObjectMetadata, type OpenedObject, type ReadOptions, type StoredChecksum, type UfsMultipart, type UfsOptions, type UfsStatus,
  type UnderFileSystem, type WriteOptions,
} from './types.js';

const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
const DIRECTORY_CONTENT_TYPE = 'application/x-directory';
/** S3 refuses multipart parts below 5 MiB (except the last) and more than 10,000 parts. */
const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PARTS = 10_000;
const MAX_KEY_BYTES = 1024;
const LIST_PAGE_MAX = 1000;
const PUT_ATTEMPTS = 3;
/** The largest object one CopyObject can copy (and so the largest whose metadata can change in place). */
const MAX_COPY_SIZE = 5 * 1024 * 1024 * 1024;
const UPDATE_ATTEMPTS = 3;

const META_TAGS = 'alluxio-tags';
const META_CHECKSUM = 'alluxio-checksum';
const META_EXPIRES = 'alluxio-expires';
const RESERVED_META = new Set([META_TAGS, META_CHECKSUM, META_EXPIRES]);
const CHECKSUM_ALGORITHMS = new Set<ChecksumAlgorithm>(['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256']);
/** S3 part errors that are the client's doing (a part too small, a wrong part ETag, parts out of order). */
const PART_CONFLICT = new Set(['EntityTooSmall', 'InvalidPart', 'InvalidPartOrder']);

const NOT_FOUND = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket']);
const ACCESS_DENIED = new Set(['AccessDenied', 'Forbidden', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'CredentialsProviderError']);
const TRANSIENT = new Set(['SlowDown', 'RequestTimeout', 'InternalError', 'ServiceUnavailable', 'TimeoutError']);
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH',
  'EPIPE', 'ECONNABORTED', 'EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER', 'UND_ERR_SOCKET',
]);

/** S3 orders keys by their UTF-8 bytes; JS string comparison is UTF-16 order. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/^"(.*)"$/, '$1');
}

/**
 * HEAD reports Last-Modified in whole seconds while some stores list it with milliseconds;
 * truncating makes stat and list agree on the fingerprint of the same object.
 */
function seconds(date: Date | undefined): number {
  return date ? Math.floor(date.getTime() / 1000) * 1000 : 0;
}

function fingerprintOf(etag: string, mtimeMs: number): string {
  return `${etag}:${mtimeMs}`;
}

function etagOfFingerprint(fingerprint: string): string {
  const at = fingerprint.lastIndexOf(':');
  return at < 0 ? fingerprint : fingerprint.slice(0, at);
}

/** Tags as S3's x-amz-tagging header carries them: URL-encoded "k=v&k2=v2". */
export function encodeTags(tags: Record<string, string>): string {
  return Object.entries(tags).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

export function decodeTags(encoded: string): Record<string, string> {
  const tags: Record<string, string> = {};
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s.replace(/\+/g, ' '));
    } catch {
      return s;
    }
  };
  for (const pair of encoded.split('&')) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    tags[decode(at < 0 ? pair : pair.slice(0, at))] = at < 0 ? '' : decode(pair.slice(at + 1));
  }
  return tags;
}

function encodeChecksum(c: StoredChecksum): string {
  return `${c.algorithm}:${c.type}:${c.value}`;
}

function decodeChecksum(encoded: string): StoredChecksum | undefined {
  const m = /^([A-Z0-9]+):(FULL_OBJECT|COMPOSITE):(.+)$/.exec(encoded);
  if (!m || !CHECKSUM_ALGORITHMS.has(m[1] as ChecksumAlgorithm)) return undefined;
  return { algorithm: m[1] as ChecksumAlgorithm, type: m[2] as StoredChecksum['type'], value: m[3] };
}

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '\\d{2}:\\d{2}:\\d{2}';
const IMF_FIXDATE = new RegExp(`^${DAY}, \\d{2} ${MONTH} \\d{4} ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^${LONG_DAY}, \\d{2}-${MONTH}-\\d{2} ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} [ \\d]\\d ${TIME} \\d{4}$`);

/** The instant of an HTTP-date (RFC 9110: IMF-fixdate, RFC 850 or asctime), or undefined. */
function parseHttpDate(raw: string): Date | undefined {
  let ms = NaN;
  if (IMF_FIXDATE.test(raw) || RFC850_DATE.test(raw)) ms = Date.parse(raw);
  else if (ASCTIME_DATE.test(raw)) ms = Date.parse(`${raw} GMT`); // asctime is GMT, not local time
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** The request parameters that store an object's metadata (PutObject, CreateMultipartUpload, CopyObject). */
interface S3MetadataParams {
  ContentType?: string;
  ContentEncoding?: string;
  ContentDisposition?: string;
  ContentLanguage?: string;
  CacheControl?: string;
  Expires?: Date;
  Metadata: Record<string, string>;
}

function metadataParams(meta: ObjectMetadata): S3MetadataParams {
  const header = (name: (typeof STORED_HEADERS)[number]) => meta.headers?.[name];
  const Metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta.userMetadata ?? {})) {
    const name = k.toLowerCase();
    if (!RESERVED_META.has(name)) Metadata[name] = v;
  }
  if (meta.tags && Object.keys(meta.tags).length > 0) Metadata[META_TAGS] = encodeTags(meta.tags);
  if (meta.checksum) Metadata[META_CHECKSUM] = encodeChecksum(meta.checksum);
  const expiresRaw = header('expires');
  let Expires: Date | undefined;
  if (expiresRaw !== undefined) {
    Expires = parseHttpDate(expiresRaw);
    // The SDK sends Expires as IMF-fixdate: any other spelling (or a non-date such as "0",
    // which HTTP reads as "already expired") is kept verbatim beside it.
    if (Expires === undefined || Expires.toUTCString() !== expiresRaw) Metadata[META_EXPIRES] = expiresRaw;
  }
  return {
    ContentType: meta.contentType,
    ContentEncoding: header('content-encoding'),
    ContentDisposition: header('content-disposition'),
    ContentLanguage: header('content-language'),
    CacheControl: header('cache-control'),
    Expires,
    Metadata,
  };
}

/** What a HEAD says about an object's metadata, reserved keys decoded and hidden from userMetadata. */
function metadataOf(res: HeadObjectCommandOutput | GetObjectCommandOutput): Required<Pick<ObjectMetadata, 'headers' | 'userMetadata' | 'tags'>> & ObjectMetadata {
  const raw = Object.fromEntries(Object.entries(res.Metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const userMetadata = Object.fromEntries(Object.entries(raw).filter(([k]) => !RESERVED_META.has(k)));
  const headers: Record<string, string> = {};
  const set = (name: string, value: string | undefined) => { if (value !== undefined && value !== '') headers[name] = value; };
  set('content-encoding', res.ContentEncoding);
  set('content-disposition', res.ContentDisposition);
  set('content-language', res.ContentLanguage);
  set('cache-control', res.CacheControl);
  const s3Expires = res.ExpiresString ?? res.Expires?.toUTCString();
  const kept = raw[META_EXPIRES];
  // The verbatim string wins only while it still says what S3's own header says (nobody
  // changed Expires behind our back).
  const keptAt = kept !== undefined ? parseHttpDate(kept) : undefined;
  const s3At = s3Expires !== undefined ? (parseHttpDate(s3Expires) ?? new Date(s3Expires)) : undefined;
  const keptStillTrue = kept !== undefined && (s3Expires === undefined ? keptAt === undefined : keptAt?.getTime() === s3At?.getTime());
  set('expires', keptStillTrue ? kept : s3Expires);
  return {
    contentType: res.ContentType,
    headers,
    userMetadata,
    tags: raw[META_TAGS] !== undefined ? decodeTags(raw[META_TAGS]) : {},
    checksum: raw[META_CHECKSUM] !== undefined ? decodeChecksum(raw[META_CHECKSUM]) : undefined,
  };
}

function option<T>(options: Record<string, string>, key: string, parse: (v: string) => T, fallback: T): T {
  const raw = options[key];
  if (raw === undefined || raw.trim() === '') return fallback;
  try {
    return parse(raw);
  } catch (err) {
    throw new ConfigError(`${key}: ${(err as Error).message}`);
  }
}

function parsePositiveInt(v: string): number {
  const n = Number(v.trim());
  if (!Number.isInteger(n) || n < 1) throw new Error(`not a positive integer: "${v}"`);
  return n;
}

function isLoopbackOrIp(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  return net.isIP(bare) !== 0 || bare === 'localhost';
}

/** Seed 002's order: mount options, then AWS_ACCESS_KEY_ID/AWS_ACCESS_KEY env, then the SDK chain (~/.aws, instance profile). */
export function credentialsFrom(options: Record<string, string>): S3ClientConfig['credentials'] {
  const id = options['aws.accessKeyId'] ?? '';
  const secret = options['aws.secretKey'] ?? '';
  if (id !== '' || secret !== '') {
    if (id === '' || secret === '') {
      throw new UfsError('AccessDenied', `set both aws.accessKeyId and aws.secretKey, not only ${id === '' ? 'aws.secretKey' : 'aws.accessKeyId'}`);
    }
    return { accessKeyId: id, secretAccessKey: secret };
  }
  const envId = process.env.AWS_ACCESS_KEY_ID || process.env.AWS_ACCESS_KEY;
  const envSecret = process.env.AWS_SECRET_ACCESS_KEY || process.env.AWS_SECRET_KEY;
  if (envId && envSecret) {
    return { accessKeyId: envId, secretAccessKey: envSecret, sessionToken: process.env.AWS_SESSION_TOKEN || undefined };
  }
  return undefined;
}

interface S3Settings {
  bucket: string;
  /** '' or a prefix ending in '/'. */
  root: string;
  /** For messages: the custom endpoint, or AWS in the region. */
  endpointLabel: string;
  client: S3ClientConfig;
  sse?: ServerSideEncryption;
  partSize: number;
  uploadThreads: number;
}

function parseSettings(uri: string, options: Record<string, string>): S3Settings {
  const m = /^s3a?:\/\/([^/]*)\/?(.*)$/.exec(uri);
  if (!m || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(m[1])) {
    throw new UfsError('InvalidKey', `not an S3 URI: ${uri} (expected s3://bucket or s3://bucket/prefix)`);
  }
  const bucket = m[1];
  const prefix = m[2].split('/').filter((s) => s !== '').join('/');
  const region = option(options, 'alluxio.underfs.s3.endpoint.region', (v) => v.trim(), process.env.AWS_REGION || 'us-east-1');
  let endpoint = option<string | undefined>(options, 'alluxio.underfs.s3.endpoint', (v) => v.trim(), undefined);
  if (endpoint !== undefined && !/^https?:\/\//i.test(endpoint)) {
    // Alluxio accepts a bare host:port; a local or IP endpoint is almost always plain HTTP.
    endpoint = `${isLoopbackOrIp(endpoint.split(':')[0]) ? 'http' : 'https'}://${endpoint}`;
  }
  // Virtual-hosted addressing cannot work with an IP endpoint (bucket.127.0.0.1 never
  // resolves), so path-style is forced there whatever the option says.
  const pathStyle = option(options, 'alluxio.underfs.s3.disable.dns.buckets', parseBool, false)
    || (endpoint !== undefined && isLoopbackOrIp(new URL(endpoint).hostname));
  return {
    bucket,
    root: prefix === '' ? '' : `${prefix}/`,
    endpointLabel: endpoint ?? `AWS S3 (${region})`,
    client: {
      region,
      endpoint,
      forcePathStyle: pathStyle,
      credentials: credentialsFrom(options),
      // Stores other than AWS reject or mangle the SDK's default CRC trailers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // Every failure reaches the caller as a UfsError; the SDK must not write to the console.
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    },
    sse: option(options, 'alluxio.underfs.s3.server.side.encryption.enabled', parseBool, false) ? 'AES256' : undefined,
    partSize: option(options, 'alluxio.underfs.s3.streaming.upload.partition.size', parseBytes, 64 * 1024 * 1024),
    uploadThreads: option(options, 'alluxio.underfs.s3.upload.threads.max', parsePositiveInt, 20),
  };
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

function isTransient(err: unknown): boolean {
  const e = (err ?? {}) as SdkError;
  return TRANSIENT.has(e.name ?? '') || NETWORK_CODES.has(e.code ?? '') || (e.$metadata?.httpStatusCode ?? 0) >= 500;
}

export class S3UnderFileSystem implements UnderFileSystem {
  readonly uri: string;
  private readonly s: S3Settings;
  private readonly client: S3Client;
  private readonly stagingDir: string;

  constructor(uri: string, opts: UfsOptions) {
    this.s = parseSettings(uri, opts.options);
    this.uri = uri;
    this.stagingDir = opts.stagingDir;
    this.client = new S3Client({
      ...this.s.client,
      // No request timeout: a streamed GET may sit idle while a slow client applies back-pressure.
      requestHandler: new NodeHttpHandler({ connectionTimeout: 10_000 }),
    });
  }

  private fullKey(key: string): string {
    if (key.startsWith('/')) throw new UfsError('InvalidKey', `key must not start with '/': ${key}`);
    const full = this.s.root + key;
    if (Buffer.byteLength(full) > MAX_KEY_BYTES) throw new UfsError('InvalidKey', `key longer than ${MAX_KEY_BYTES} bytes in S3: ${key}`);
    return full;
  }

  private where(key: string): string {
    return `s3://${this.s.bucket}/${this.s.root}${key}`;
  }

  /** The one place SDK failures become UfsErrors, with messages a user can act on. */
  private translate(err: unknown, op: string, key: string): UfsError {
    if (err instanceof UfsError) return err;
    const e = (err ?? {}) as SdkError;
    const name = e.name ?? '';
    const status = e.$metadata?.httpStatusCode;
    const detail = [name !== 'Error' ? name : '', e.message || e.code || ''].filter((s) => s !== '').join(': ');
    const cause = { cause: err };
    if (name === 'AbortError' || e.code === 'ABORT_ERR') return new UfsError('Aborted', `${op} ${this.where(key)} aborted`, cause);
    if (name === 'NoSuchBucket') return new UfsError('NotFound', `bucket ${this.s.bucket} does not exist at ${this.s.endpointLabel}`, cause);
    if (name === 'NoSuchUpload') return new UfsError('NotFound', `no such multipart upload of ${this.where(key)} (never created, aborted or already completed)`, cause);
    if (PART_CONFLICT.has(name)) return new UfsError('Conflict', `${op} ${this.where(key)}: ${e.message || name}`, cause);
    if (NOT_FOUND.has(name) || status === 404) return new UfsError('NotFound', `no such key: ${this.where(key)}`, cause);
    if (name === 'CredentialsProviderError') {
      return new UfsError('AccessDenied', `no AWS credentials for s3://${this.s.bucket}: set the aws.accessKeyId and aws.secretKey mount options, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or ~/.aws/credentials`, cause);
    }
    if (ACCESS_DENIED.has(name) || status === 403) return new UfsError('AccessDenied', `access denied by s3://${this.s.bucket} (${op} ${key}): ${detail}`, cause);
    if (name === 'PreconditionFailed' || status === 412) return new UfsError('Changed', `${this.where(key)} changed since it was looked up`, cause);
    if (NETWORK_CODES.has(e.code ?? '') || name === 'TimeoutError' || status === 502 || status === 503 || status === 504) {
      return new UfsError('Unavailable', `cannot reach s3://${this.s.bucket} at ${this.s.endpointLabel}: ${detail}`, cause);
    }
    return new UfsError('Internal', `${op} ${this.where(key)} failed: ${detail}`, cause);
  }

  private headStatus(key: string, res: HeadObjectCommandOutput | GetObjectCommandOutput): UfsStatus {
    const etag = unquote(res.ETag);
    const mtimeMs = seconds(res.LastModified);
    return {
      key,
      isDirectory: key === '' || key.endsWith('/'),
      size: res.ContentLength ?? 0,
      mtimeMs,
      etag,
      fingerprint: fingerprintOf(etag, mtimeMs),
      ...metadataOf(res),
    };
  }

  /** A directory nobody created a marker for: it exists only because keys are under it. */
  private implicitDirectory(key: string): UfsStatus {
    return {
      key, isDirectory: true, size: 0, mtimeMs: 0, etag: EMPTY_MD5, fingerprint: fingerprintOf(EMPTY_MD5, 0),
      contentType: DIRECTORY_CONTENT_TYPE, headers: {}, userMetadata: {}, tags: {},
    };
  }

  private async hasAnyUnder(fullPrefix: string): Promise<boolean> {
    const res = await this.client.send(new ListObjectsV2Command({ Bucket: this.s.bucket, Prefix: fullPrefix, MaxKeys: 1 }));
    return (res.KeyCount ?? res.Contents?.length ?? 0) > 0;
  }

  async stat(key: string): Promise<UfsStatus | null> {
    const full = this.fullKey(key);
    try {
      if (full !== '') {
        try {
          return this.headStatus(key, await this.client.send(new HeadObjectCommand({ Bucket: this.s.bucket, Key: full })));
        } catch (err) {
          if (this.translate(err, 'stat', key).code !== 'NotFound') throw err;
        }
      }
      if (key !== '' && !key.endsWith('/')) return null;
      // Without a marker, a directory exists while keys are under it; the mount root always
      // exists once the bucket answers.
      const nonEmpty = await this.hasAnyUnder(full);
      return nonEmpty || key === '' ? this.implicitDirectory(key) : null;
    } catch (err) {
      throw this.translate(err, 'stat', key);
    }
  }

  private async statOrThrow(key: string): Promise<UfsStatus> {
    const st = await this.stat(key);
    if (!st) throw new UfsError('Internal', `${this.where(key)} is missing right after it was written`);
    return st;
  }

  async read(key: string, opts: ReadOptions = {}): Promise<Readable> {
    const full = this.fullKey(key);
    const { range, signal, fingerprint } = opts;
    let body: Readable;
    try {
      const res = await this.client.send(new GetObjectCommand({
        Bucket: this.s.bucket,
        Key: full,
        Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        IfMatch: fingerprint !== undefined ? `"${etagOfFingerprint(fingerprint)}"` : undefined,
      }), { abortSignal: signal });
      body = (res.Body as Readable | undefined) ?? Readable.from([]);
    } catch (err) {
      throw this.translate(err, 'read', key);
    }
    return this.translatedBody(body, key, signal);
  }

  /**
   * One GET instead of HEAD then GET: a cold read from S3 pays one round trip before its first
   * byte. The status comes from the GET's own headers (as HEAD reports them), so it names
   * exactly the version whose bytes follow.
   */
  async open(key: string, opts: { signal?: AbortSignal } = {}): Promise<OpenedObject | null> {
    const full = this.fullKey(key);
    if (key === '' || key.endsWith('/')) throw new UfsError('InvalidKey', `open reads objects, not directories: ${this.where(key)}`);
    let res: GetObjectCommandOutput;
    try {
      res = await this.client.send(new GetObjectCommand({ Bucket: this.s.bucket, Key: full }), { abortSignal: opts.signal });
    } catch (err) {
      const e = this.translate(err, 'read', key);
      // As stat: a missing key (or bucket) is no object, not a failure.
      if (e.code === 'NotFound') return null;
      throw e;
    }
    const body = (res.Body as Readable | undefined) ?? Readable.from([]);
    return { status: this.headStatus(key, res), body: this.translatedBody(body, key, opts.signal) };
  }

  /** Re-emits an SDK body through a PassThrough so that mid-stream failures reach the caller as UfsErrors too. */
  private translatedBody(body: Readable, key: string, signal: AbortSignal | undefined): Readable {
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    const onAbort = () => out.destroy(new UfsError('Aborted', `read ${this.where(key)} aborted`));
    signal?.addEventListener('abort', onAbort, { once: true });
    body.on('error', (err) => out.destroy(this.translate(err, 'read', key)));
    out.on('close', () => {
      signal?.removeEventListener('abort', onAbort);
      if (!body.destroyed) body.destroy();
    });
    body.pipe(out);
    return out;
  }

  async write(key: string, body: Readable, opts: WriteOptions): Promise<UfsStatus> {
    const full = this.fullKey(key);
    if (key === '') throw new UfsError('InvalidKey', 'cannot write an object with an empty key');
    const tmp = path.join(this.stagingDir, `s3-upload-${randomUUID()}`);
    try {
      const size = await this.spool(key, body, tmp, opts);
      // CommitInfo.etag (a multipart-style entity tag the caller computed) cannot be stored:
      // S3 assigns its own, which is what stat reports. md5Hex is still the content's MD5.
      const { md5Hex, checksum } = await opts.beforeCommit();
      const meta = metadataParams({ ...opts, checksum: checksum ?? opts.checksum });
      try {
        if (size <= this.s.partSize) await this.putSingle(full, tmp, size, md5Hex, meta, opts.signal);
        else await this.putMultipart(full, tmp, size, meta, opts.signal);
      } catch (err) {
        throw this.translate(err, 'write', key);
      }
      return await this.statOrThrow(key);
    } finally {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
    }
  }

  /** Receives the whole body into `tmp`; failures here are the client's or the local disk's, never S3's. */
  private async spool(key: string, body: Readable, tmp: string, opts: { contentLength?: number; signal?: AbortSignal }): Promise<number> {
    let size: number;
    try {
      await fs.mkdir(this.stagingDir, { recursive: true });
      await pipeline(body, createWriteStream(tmp, { flags: 'wx' }), { signal: opts.signal });
      size = (await fs.stat(tmp)).size;
    } catch (err) {
      if (err instanceof UfsError) throw err;
      const e = err as NodeJS.ErrnoException;
      if (e.syscall !== undefined && e.path !== undefined) {
        throw new UfsError('Internal', `cannot stage ${this.where(key)} in ${this.stagingDir}: ${e.message}`, { cause: err });
      }
      throw new UfsError('Aborted', `body of ${this.where(key)} ended early: ${e.message}`, { cause: err });
    }
    if (opts.contentLength !== undefined && size !== opts.contentLength) {
      throw new UfsError('Aborted', `body of ${this.where(key)} ended after ${size} of ${opts.contentLength} bytes`);
    }
    return size;
  }

  private async putSingle(full: string, tmp: string, size: number, md5Hex: string, meta: S3MetadataParams, signal?: AbortSignal): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const body = createReadStream(tmp);
      try {
        await this.client.send(new PutObjectCommand({
          Bucket: this.s.bucket,
          Key: full,
          Body: body,
          ContentLength: size,
          // S3 recomputes the MD5 and refuses the object if a byte changed on the way.
          ContentMD5: Buffer.from(md5Hex, 'hex').toString('base64'),
          ...meta,
          ServerSideEncryption: this.s.sse,
        }), { abortSignal: signal });
        return;
      } catch (err) {
        // The SDK never retries a streamed body (it cannot rewind it); reopening the file can.
        if (attempt >= PUT_ATTEMPTS || !isTransient(err) || signal?.aborted) throw err;
      } finally {
        body.destroy();
      }
      await sleep(200 * 2 ** attempt, undefined, { signal });
    }
  }

  private async putMultipart(full: string, tmp: string, size: number, meta: S3MetadataParams, signal?: AbortSignal): Promise<void> {
    const source = createReadStream(tmp);
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.s.bucket,
        Key: full,
        Body: source,
        ContentLength: size,
        ...meta,
        ServerSideEncryption: this.s.sse,
      },
      partSize: Math.max(this.s.partSize, MIN_PART_SIZE, Math.ceil(size / MAX_PARTS)),
      // lib-storage holds queueSize parts in memory per object: bound it whatever threads.max says.
      queueSize: Math.min(this.s.uploadThreads, 4),
      leavePartsOnError: false,
    });
    // Upload.abort() rejects done() at once and aborts the multipart upload later, in the
    // background; failing the source instead makes done() settle only after the abort is sent.
    const onAbort = () => source.destroy(Object.assign(new Error('upload aborted'), { name: 'AbortError' }));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
    } finally {
      signal?.removeEventListener('abort', onAbort);
      source.destroy();
    }
  }

  async delete(key: string): Promise<void> {
    const full = this.fullKey(key);
    if (full === '') return;
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.s.bucket, Key: full }));
    } catch (err) {
      const e = this.translate(err, 'delete', key);
      if (e.code !== 'NotFound' || (err as SdkError).name === 'NoSuchBucket') throw e;
    }
  }

  async mkdir(key: string): Promise<void> {
    if (!key.endsWith('/')) throw new UfsError('InvalidKey', `not a folder key: ${key}`);
    try {
      await this.client.send(new PutObjectCommand({
        Bucket: this.s.bucket, Key: this.fullKey(key), Body: '', ContentLength: 0, ContentType: DIRECTORY_CONTENT_TYPE, ServerSideEncryption: this.s.sse,
      }));
    } catch (err) {
      throw this.translate(err, 'mkdir', key);
    }
  }

  /** CopyObject's source: "bucket/key", every segment URL-encoded. */
  private copySource(full: string): string {
    return `${this.s.bucket}/${full.split('/').map(encodeURIComponent).join('/')}`;
  }

  /**
   * Metadata changes in place: S3 cannot edit an object's metadata, so the object is copied onto
   * itself with MetadataDirective REPLACE carrying the merged result. The bytes stay, but S3
   * gives the copy a new Last-Modified (so a new fingerprint), and an object that was uploaded
   * in parts gets a plain MD5 ETag. Objects over 5 GiB need a multipart copy; they are refused.
   */
  async updateMetadata(key: string, update: MetadataUpdate): Promise<UfsStatus> {
    if (key === '') throw new UfsError('InvalidKey', 'the mount root has no metadata to update');
    const full = this.fullKey(key);
    for (let attempt = 1; ; attempt++) {
      let head: HeadObjectCommandOutput;
      try {
        head = await this.client.send(new HeadObjectCommand({ Bucket: this.s.bucket, Key: full }));
      } catch (err) {
        throw this.translate(err, 'updateMetadata', key);
      }
      if ((head.ContentLength ?? 0) > MAX_COPY_SIZE) {
        throw new UfsError('Internal', `cannot change the metadata of ${this.where(key)}: it is ${head.ContentLength} bytes and S3 copies an object onto itself in one request only up to 5 GiB`);
      }
      const current = metadataOf(head);
      const next: ObjectMetadata = {
        ...(update.replace
          ? { contentType: update.replace.contentType, headers: update.replace.headers, userMetadata: update.replace.userMetadata }
          : { contentType: current.contentType, headers: current.headers, userMetadata: current.userMetadata }),
        tags: update.tags ?? current.tags,
        checksum: current.checksum,
      };
      try {
        await this.client.send(new CopyObjectCommand({
          Bucket: this.s.bucket,
          Key: full,
          CopySource: this.copySource(full),
          // Copy only the version just looked at: metadata merged from an older object must
          // not land on bytes somebody wrote in between.
          CopySourceIfMatch: head.ETag,
          MetadataDirective: 'REPLACE',
          ...metadataParams(next),
          // A copy is encrypted and stored as asked, not as its source was: keep the source's.
          ServerSideEncryption: head.ServerSideEncryption ?? this.s.sse,
          ...(head.ServerSideEncryption?.startsWith('aws:kms') ? { SSEKMSKeyId: head.SSEKMSKeyId, BucketKeyEnabled: head.BucketKeyEnabled } : {}),
          StorageClass: head.StorageClass,
        }));
      } catch (err) {
        const e = this.translate(err, 'updateMetadata', key);
        if (e.code === 'Changed' && attempt < UPDATE_ATTEMPTS) continue;
        throw e;
      }
      return await this.statOrThrow(key);
    }
  }

  /** The store's own multipart upload, parts passed straight through (see UfsMultipart). */
  readonly multipart: UfsMultipart = {
    createUpload: (key, meta) => this.createUpload(key, meta),
    uploadPart: (key, uploadId, partNumber, body, opts) => this.uploadPart(key, uploadId, partNumber, body, opts),
    completeUpload: (key, uploadId, parts) => this.completeUpload(key, uploadId, parts),
    abortUpload: (key, uploadId) => this.abortUpload(key, uploadId),
  };

  private async createUpload(key: string, meta: ObjectMetadata): Promise<string> {
    if (key === '') throw new UfsError('InvalidKey', 'cannot write an object with an empty key');
    const full = this.fullKey(key);
    try {
      const res = await this.client.send(new CreateMultipartUploadCommand({
        Bucket: this.s.bucket,
        Key: full,
        // The additional checksum of the whole object is known only at completion.
        ...metadataParams({ ...meta, checksum: undefined }),
        ServerSideEncryption: this.s.sse,
      }));
      if (!res.UploadId) throw new UfsError('Internal', `s3://${this.s.bucket} started a multipart upload of ${key} without an upload id`);
      return res.UploadId;
    } catch (err) {
      throw this.translate(err, 'createUpload', key);
    }
  }

  /**
   * Some stores (moto among them) answer a part or a completion for an unknown upload with a
   * bare 500; asking for the upload's parts tells a vanished upload from a real failure.
   */
  private async uploadGone(full: string, uploadId: string): Promise<boolean> {
    try {
      await this.client.send(new ListPartsCommand({ Bucket: this.s.bucket, Key: full, UploadId: uploadId, MaxParts: 1 }));
      return false;
    } catch (err) {
      const e = err as SdkError;
      return e.name === 'NoSuchUpload' || (e.name !== 'NoSuchBucket' && e.$metadata?.httpStatusCode === 404);
    }
  }

  private async translateUpload(err: unknown, op: string, key: string, full: string, uploadId: string): Promise<UfsError> {
    const e = this.translate(err, op, key);
    if (e.code === 'Internal' && await this.uploadGone(full, uploadId)) {
      return new UfsError('NotFound', `no such multipart upload of ${this.where(key)} (never created, aborted or already completed)`, { cause: err });
    }
    return e;
  }

  private async uploadPart(
    key: string, uploadId: string, partNumber: number, body: Readable,
    opts: { contentLength?: number; md5Base64?: string; signal?: AbortSignal },
  ): Promise<{ etag: string; size: number }> {
    const full = this.fullKey(key);
    let tmp: string | undefined;
    let source: Readable | undefined;
    let guard: Transform | undefined;
    let onBodyError: ((err: Error) => void) | undefined;
    // The SDK pipes the body into the request without watching it: a failing body would leave
    // the request waiting for bytes that never come, so a body failure aborts the request.
    const request = new AbortController();
    const onAbort = () => request.abort();
    if (opts.signal?.aborted) request.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    // A failure of the caller's body, reported as such rather than as whatever the SDK makes of it.
    let bodyError: UfsError | undefined;
    try {
      let size = opts.contentLength;
      if (size === undefined) {
        // S3 needs a part's length before its first byte: learn it by staging the part.
        tmp = path.join(this.stagingDir, `s3-part-${randomUUID()}`);
        size = await this.spool(key, body, tmp, { signal: opts.signal });
        source = createReadStream(tmp);
      } else {
        const g = lengthGuard(size, () => new UfsError('Aborted', `part ${partNumber} of ${this.where(key)} ended early`));
        guard = g;
        g.on('error', (err) => {
          bodyError ??= err instanceof UfsError ? err : new UfsError('Aborted', `part ${partNumber} of ${this.where(key)}: ${(err as Error).message}`, { cause: err });
          request.abort();
        });
        onBodyError = (err: Error) => g.destroy(new UfsError('Aborted', `body of part ${partNumber} of ${this.where(key)} failed: ${err.message}`, { cause: err }));
        body.once('error', onBodyError);
        source = body.pipe(g);
      }
      let res;
      try {
        res = await this.client.send(new UploadPartCommand({
          Bucket: this.s.bucket,
          Key: full,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: source,
          ContentLength: size,
          ContentMD5: opts.md5Base64,
        }), { abortSignal: request.signal });
      } catch (err) {
        if (bodyError) throw bodyError;
        throw await this.translateUpload(err, 'uploadPart', key, full, uploadId);
      }
      return { etag: unquote(res.ETag), size };
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      // The caller's body is left to the caller (it may still answer on that connection).
      if (guard) body.unpipe(guard);
      if (onBodyError) body.off('error', onBodyError);
      source?.destroy();
      if (tmp) await fs.rm(tmp, { force: true }).catch(() => undefined);
    }
  }

  private async completeUpload(key: string, uploadId: string, parts: { partNumber: number; etag: string }[]): Promise<UfsStatus> {
    const full = this.fullKey(key);
    try {
      await this.client.send(new CompleteMultipartUploadCommand({
        Bucket: this.s.bucket,
        Key: full,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: `"${unquote(p.etag)}"` })) },
      }));
    } catch (err) {
      throw await this.translateUpload(err, 'completeUpload', key, full, uploadId);
    }
    return this.statOrThrow(key);
  }

  private async abortUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.s.bucket, Key: this.fullKey(key), UploadId: uploadId }));
    } catch (err) {
      const e = this.translate(err, 'abortUpload', key);
      // Already gone (aborted, completed or never created) is what the caller wanted.
      if (e.code !== 'NotFound' || (err as SdkError).name === 'NoSuchBucket') throw e;
    }
  }

  async list(opts: ListOptions): Promise<ListResult> {
    const { prefix, delimiter, startAfter, maxKeys } = opts;
    const root = this.s.root;
    // Some stores repeat a common prefix that equals or contains StartAfter; the contract says
    // strictly greater, so everything is filtered here as well.
    const after = (k: string) => !startAfter || compareKeys(k, startAfter) > 0;
    const objects: UfsStatus[] = [];
    const prefixes = new Set<string>();
    let token: string | undefined;
    // Without a delimiter, every sub-directory is listed as a folder object "dir/" (as Alluxio
    // and the local adapter do), implicit ones included. Keys arrive in order, so a parent is
    // new exactly when it sorts after everything listed so far.
    let lastListed = startAfter ?? '';
    const addParents = (key: string, mtimeMs: number) => {
      // With a '/' delimiter, deeper directories roll up into common prefixes: only the
      // prefix's own directory can still be a folder object.
      if (delimiter && delimiter !== '/') return;
      for (let at = key.indexOf('/'); at >= 0 && at < key.length - 1; at = key.indexOf('/', at + 1)) {
        const dir = key.slice(0, at + 1);
        if (delimiter && dir.length > prefix.length) break;
        if (!dir.startsWith(prefix) || compareKeys(dir, lastListed) <= 0) continue;
        objects.push({ key: dir, isDirectory: true, size: 0, mtimeMs, etag: EMPTY_MD5, fingerprint: fingerprintOf(EMPTY_MD5, mtimeMs), contentType: 'application/x-directory' });
        lastListed = dir;
      }
    };
    try {
      const fullPrefix = this.fullKey(prefix);
      while (objects.length + prefixes.size < maxKeys) {
        const res = await this.client.send(new ListObjectsV2Command({
          Bucket: this.s.bucket,
          Prefix: fullPrefix,
          Delimiter: delimiter || undefined,
          StartAfter: token === undefined && startAfter ? root + startAfter : undefined,
          ContinuationToken: token,
          MaxKeys: Math.min(LIST_PAGE_MAX, maxKeys - objects.length - prefixes.size),
        }));
        for (const o of res.Contents ?? []) {
          const full = o.Key ?? '';
          // The root's own marker is the mount point, not an object in it.
          if (full === root || !full.startsWith(root) || !after(full.slice(root.length))) continue;
          const etag = unquote(o.ETag);
          const mtimeMs = seconds(o.LastModified);
          const key = full.slice(root.length);
          addParents(key, mtimeMs);
          if (compareKeys(key, lastListed) <= 0 && key.endsWith('/')) continue; // a marker already listed as a parent
          objects.push({ key, isDirectory: key.endsWith('/'), size: o.Size ?? 0, mtimeMs, etag, fingerprint: fingerprintOf(etag, mtimeMs) });
          lastListed = key;
        }
        for (const p of res.CommonPrefixes ?? []) {
          const key = (p.Prefix ?? '').slice(root.length);
          addParents(key, 0);
          if (after(key)) prefixes.add(key);
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
        if (token === undefined) break;
      }
    } catch (err) {
      throw this.translate(err, 'list', prefix);
    }
    return trimToMaxKeys(objects, [...prefixes], maxKeys, token !== undefined);
  }

  async probe(readOnly: boolean): Promise<void> {
    // A short-lived client that gives up quickly: a mount of an unreachable store must fail in
    // seconds, not after the SDK's retries with backoff.
    const client = new S3Client({
      ...this.s.client,
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 15_000, throwOnRequestTimeout: true }),
    });
    const key = `.alluxio-probe-${randomUUID()}`;
    const Bucket = this.s.bucket;
    const Key = this.s.root + key;
    try {
      await client.send(new ListObjectsV2Command({ Bucket, Prefix: this.s.root, MaxKeys: 1 }));
      if (readOnly) return;
      const payload = `alluxio probe ${Key}`;
      await client.send(new PutObjectCommand({ Bucket, Key, Body: payload, ServerSideEncryption: this.s.sse }));
      try {
        const res = await client.send(new GetObjectCommand({ Bucket, Key }));
        const text = await res.Body?.transformToString();
        if (text !== payload) throw new UfsError('Internal', `s3://${Bucket} returned different bytes than were written to ${Key}`);
      } catch (err) {
        await client.send(new DeleteObjectCommand({ Bucket, Key })).catch(() => undefined);
        throw err;
      }
      await client.send(new DeleteObjectCommand({ Bucket, Key }));
    } catch (err) {
      throw this.translate(err, 'probe', key);
    } finally {
      client.destroy();
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/**
 * Passes exactly `size` bytes on, failing (instead of ending) when the source ends early: a
 * request that declared a Content-Length and then ran short would otherwise wait for S3's timeout.
 */
function lengthGuard(size: number, short: () => Error): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > size) done(new UfsError('Aborted', `body is longer than its declared ${size} bytes`));
      else done(null, chunk);
    },
    flush(done) {
      done(seen < size ? short() : null);
    },
  });
}

/** Merges objects and common prefixes in key order and cuts at maxKeys, as S3 counts both. */
function trimToMaxKeys(objects: UfsStatus[], prefixes: string[], maxKeys: number, truncated: boolean): ListResult {
  const entries = [
    ...objects.map((o) => ({ key: o.key, object: o as UfsStatus | undefined })),
    ...prefixes.map((p) => ({ key: p, object: undefined })),
  ].sort((a, b) => compareKeys(a.key, b.key));
  const kept = entries.slice(0, Math.max(0, maxKeys));
  return {
    objects: kept.flatMap((e) => (e.object ? [e.object] : [])),
    commonPrefixes: kept.flatMap((e) => (e.object ? [] : [e.key])),
    isTruncated: truncated || kept.length < entries.length,
    lastKey: kept.length > 0 ? kept[kept.length - 1].key : undefined,
  };
}
