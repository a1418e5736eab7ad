import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { pipeline, type Readable } from 'node:stream';
import type { Logger } from '../../common/log.js';
import type { ChecksumRequest, ObjectStore, WritePrecondition } from '../objects/object-store.js';
import type { MultipartStore, UploadInfo } from '../objects/multipart.js';
import { STORED_HEADERS, type ChecksumAlgorithm } from '../../common/ufs/types.js';
import { CHECKSUM_ALGORITHMS, checksumHeaderName, isValidChecksumValue, parseChecksumAlgorithm } from '../../common/checksums.js';
import { S3Error } from './errors.js';
import { AwsChunkedDecoder, chunkVerificationOf } from './aws-chunked.js';
import type { S3Request } from './router.js';
import type { Identity } from './auth.js';
import type { BucketAccess } from './authz.js';

/** What a handler needs for one request: the parsed operation and the services behind it. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  s3: S3Request;
  requestId: string;
  log: Logger;
  signal: AbortSignal;
  /** False when serving for an owner that cannot be reached: read the UFS, cache nothing. */
  useCache: boolean;
  /** Who is asking (SIMPLE mode: the access key of the credential, else the process user). */
  identity: Identity;
  services: S3Services;
}

/** Bucket tag sets, kept cluster-wide by the coordinator. */
export interface BucketTagStore {
  get(bucket: string): Promise<Record<string, string> | undefined>;
  put(bucket: string, tags: Record<string, string>): Promise<void>;
  delete(bucket: string): Promise<void>;
}

export interface S3Services {
  objects: ObjectStore;
  multipart: MultipartStore;
  bucketTags: BucketTagStore;
  /** Authorization (worker/s3/authz.ts): checks, ListBuckets filtering, bucket owners. */
  access: BucketAccess;
  region: string;
  metadataMaxBytes: number;
  taggingRestrictions: boolean;
  completeKeepAlive: { enabled: boolean; maxIntervalMs: number };
  /** Deletes a key on the worker that owns it (keeps the owner's caches coherent). */
  /** `credentials`: the caller's token headers, so an owner that authorizes sees the caller. */
  deleteOnOwner(bucket: string, key: string, log: Logger, credentials?: Record<string, string>): Promise<void>;
  /** Multipart uploads of a bucket on every live worker (each holds its own). */
  listUploadsEverywhere(bucket: string, prefix: string, log: Logger): Promise<UploadInfo[]>;
}

const CONTINUE = Symbol('send 100 Continue');

/**
 * Expect: 100-continue. The server holds the interim 100 until a handler starts reading the
 * body, so a request refused first (no such bucket, a failed precondition) is answered before
 * the client sends a byte of it (S3-CLIENTS R16).
 */
export function deferContinue(req: IncomingMessage, res: ServerResponse): void {
  (req as unknown as Record<symbol, () => void>)[CONTINUE] = () => {
    if (!res.headersSent) res.writeContinue();
  };
}

/** Call before reading a request body: sends the interim 100 Continue a client may wait for. */
export function startBody(req: IncomingMessage): void {
  const send = (req as unknown as Record<symbol, (() => void) | undefined>)[CONTINUE];
  if (send) {
    (req as unknown as Record<symbol, undefined>)[CONTINUE] = undefined;
    send();
  }
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}


/** x-amz-meta-* headers, size-checked like S3 (names without the prefix plus values). */
export function userMetadata(req: IncomingMessage, maxBytes: number): Record<string, string> {
  const meta: Record<string, string> = {};
  let size = 0;
  for (const [name, value] of Object.entries(req.headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const k = name.slice('x-amz-meta-'.length);
    const v = Array.isArray(value) ? value.join(',') : value;
    meta[k] = v;
    size += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (maxBytes > 0 && size > maxBytes) throw new S3Error('MetadataTooLarge', `Your metadata headers exceed the maximum allowed metadata size of ${maxBytes} bytes.`);
  return meta;
}

export function contentMd5(req: IncomingMessage): string | undefined {
  const v = header(req, 'content-md5');
  if (v === undefined) return undefined;
  const buf = Buffer.from(v, 'base64');
  if (buf.length !== 16 || buf.toString('base64') !== v.trim()) throw new S3Error('InvalidDigest');
  return v.trim();
}

/** Content-Encoding (without aws-chunked), Content-Disposition, Content-Language, Cache-Control, Expires as sent. */
export function storedHeaders(req: IncomingMessage): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    const v = name === 'content-encoding' ? storedContentEncoding(req) : header(req, name);
    if (v !== undefined && v !== '') out[name] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

/** `x-amz-content-sha256` when it is a digest (not UNSIGNED-PAYLOAD or a STREAMING-… marker). */
export function contentSha256(req: IncomingMessage): string | undefined {
  const v = header(req, 'x-amz-content-sha256');
  return v !== undefined && /^[0-9a-fA-F]{64}$/.test(v) ? v : undefined;
}

/**
 * The additional checksum a write carries: a value in an `x-amz-checksum-<alg>` header, a
 * value to come in the aws-chunked trailer named by `x-amz-trailer`, or only an algorithm
 * (`x-amz-sdk-checksum-algorithm`), which is computed and stored unverified.
 */
export function checksumRequest(req: IncomingMessage, trailers: ReadonlyMap<string, string> | undefined): ChecksumRequest | undefined {
  const present = CHECKSUM_ALGORITHMS.filter((a) => header(req, checksumHeaderName(a)) !== undefined);
  if (present.length > 1) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  if (present.length === 1) {
    const algorithm = present[0];
    const value = header(req, checksumHeaderName(algorithm))!.trim();
    if (!isValidChecksumValue(algorithm, value)) throw new S3Error('InvalidRequest', `Value for ${checksumHeaderName(algorithm)} header is invalid.`);
    return { algorithm, expected: () => value };
  }
  const trailer = header(req, 'x-amz-trailer');
  if (trailer !== undefined) {
    const algorithm = parseChecksumAlgorithm(trailer.trim());
    if (!algorithm) throw new S3Error('InvalidRequest', `The x-amz-trailer header names an unsupported trailer: ${trailer}`);
    if (!trailers) throw new S3Error('InvalidRequest', 'x-amz-trailer needs an aws-chunked body.');
    return {
      algorithm,
      expected: () => {
        const value = trailers.get(checksumHeaderName(algorithm));
        if (value === undefined) throw new S3Error('IncompleteBody', `The body ended without the ${checksumHeaderName(algorithm)} trailer it announced.`);
        if (!isValidChecksumValue(algorithm, value)) throw new S3Error('InvalidRequest', `Value for ${checksumHeaderName(algorithm)} trailing header is invalid.`);
        return value;
      },
    };
  }
  const declared = header(req, 'x-amz-sdk-checksum-algorithm') ?? header(req, 'x-amz-checksum-algorithm');
  if (declared !== undefined) {
    const algorithm = parseChecksumAlgorithm(declared.trim());
    if (!algorithm) throw new S3Error('InvalidRequest', `Checksum algorithm ${declared} is not supported.`);
    return { algorithm };
  }
  return undefined;
}

export function checksumAlgorithmHeader(req: IncomingMessage): ChecksumAlgorithm | undefined {
  const declared = header(req, 'x-amz-checksum-algorithm');
  if (declared === undefined) return undefined;
  const algorithm = parseChecksumAlgorithm(declared.trim());
  if (!algorithm) throw new S3Error('InvalidRequest', `Checksum algorithm ${declared} is not supported.`);
  return algorithm;
}

/** If-None-Match: * and If-Match: <etag> on a write (S3 conditional writes). */
export function writePrecondition(req: IncomingMessage): WritePrecondition | undefined {
  const ifNoneMatch = header(req, 'if-none-match');
  const ifMatch = header(req, 'if-match');
  if (ifNoneMatch === undefined && ifMatch === undefined) return undefined;
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') throw new S3Error('NotImplemented', 'If-None-Match on a write accepts only "*".');
  return { ifMatch, ifNoneMatch: ifNoneMatch !== undefined ? '*' : undefined };
}

/**
 * The request body as the object's bytes: aws-chunked framing removed, with the length the
 * object must have (x-amz-decoded-content-length for aws-chunked, else Content-Length) and the
 * trailers the framing carried (filled in as the body is read).
 */
export function objectBody(req: IncomingMessage): { body: Readable; length: number | undefined; trailers?: ReadonlyMap<string, string> } {
  const chunked = isAwsChunked(req);
  const parseLen = (name: string): number | undefined => {
    const v = header(req, name);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v.trim())) throw new S3Error('InvalidArgument', `${name} must be a non-negative integer.`, { ArgumentName: name });
    return Number(v);
  };
  // Every header is judged before the first body byte is read (or asked for with 100 Continue).
  const length = parseLen(chunked ? 'x-amz-decoded-content-length' : 'content-length');
  startBody(req);
  if (chunked) {
    const decoder = new AwsChunkedDecoder(chunkVerificationOf(req));
    // pipeline owns the errors of both streams from the first byte: a framing error that
    // happens before the object layer starts consuming leaves the decoder destroyed with that
    // error (which its consumer then sees), never an unhandled 'error' event.
    pipeline(req, decoder, () => undefined);
    return { body: decoder, length, trailers: decoder.trailers };
  }
  return { body: req, length };
}

/**
 * S3 needs to know how long an upload is: a PUT with neither Content-Length nor chunked
 * transfer encoding is refused with 411 MissingContentLength (HTTP would read it as empty).
 */
export function requireBodyLength(req: IncomingMessage): void {
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) throw new S3Error('MissingContentLength');
}

/** The body is framed with aws-chunked (Content-Encoding, or a STREAMING-… payload hash). */
export function isAwsChunked(req: IncomingMessage): boolean {
  const encoding = header(req, 'content-encoding') ?? '';
  const sha = header(req, 'x-amz-content-sha256') ?? '';
  return encoding.split(',').some((e) => e.trim() === 'aws-chunked') || sha.startsWith('STREAMING-');
}

/** The stored Content-Encoding: the client's own encodings without aws-chunked (S3-CLIENTS P15). */
export function storedContentEncoding(req: IncomingMessage): string | undefined {
  const v = header(req, 'content-encoding');
  if (!v) return undefined;
  const rest = v.split(',').map((e) => e.trim()).filter((e) => e && e !== 'aws-chunked');
  return rest.length ? rest.join(',') : undefined;
}

/**
 * Reads a small request body (XML documents) with a hard size cap (MaxMessageLengthExceeded):
 * a declared length over it is refused before the body is asked for; a chunked body is read
 * only up to it. The request is left intact on refusal (never destroyed), so the client gets
 * its answer and the server discards the rest (limits.ts, drainAfterAnswer).
 */
export async function readSmallBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const tooBig = () => new S3Error('MaxMessageLengthExceeded', `The request body exceeds ${maxBytes} bytes.`);
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) throw tooBig();
  startBody(req);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err?: unknown) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', done);
      req.off('close', onClose);
      if (err !== undefined) return reject(err);
      const body = Buffer.concat(chunks);
      // A signed hex digest covers the body too: a document that does not match it was altered.
      const sha = contentSha256(req);
      if (sha !== undefined && createHash('sha256').update(body).digest('hex') !== sha.toLowerCase()) reject(new S3Error('XAmzContentSHA256Mismatch'));
      else resolve(body.toString('utf8'));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.pause();
        done(tooBig());
      } else {
        chunks.push(chunk);
      }
    };
    const onEnd = () => done();
    const onClose = () => done(new S3Error('IncompleteBody'));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', done);
    req.once('close', onClose);
  });
}
