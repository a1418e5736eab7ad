import type { IncomingMessage, ServerResponse } from 'node:http';
import os from 'node:os';
import { pipeline, type Readable } from 'node:stream';
import type { Logger } from '../../common/log.js';
import type { ObjectStore } from '../objects/object-store.js';
import type { MultipartStore } from '../objects/multipart.js';
import { S3Error } from './errors.js';
import { AwsChunkedDecoder } from './aws-chunked.js';
import type { S3Request } from './router.js';

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
  services: S3Services;
}

export interface S3Services {
  objects: ObjectStore;
  multipart: MultipartStore;
  region: string;
  metadataMaxBytes: number;
  /** Deletes a key on the worker that owns it (keeps the owner's caches coherent). */
  deleteOnOwner(bucket: string, key: string, log: Logger): Promise<void>;
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** The user named by the request: the access key of a SigV4/SigV2 credential, else the process user (SIMPLE mode). */
export function requestUser(req: IncomingMessage): string {
  const auth = header(req, 'authorization') ?? '';
  const v4 = /Credential\s*=\s*([^/,\s]+)\//.exec(auth);
  if (v4) return v4[1];
  const v2 = /^AWS\s+([^:]+):/.exec(auth);
  if (v2) return v2[1];
  const q = new URLSearchParams(req.url?.split('?')[1] ?? '');
  const presigned = q.get('X-Amz-Credential')?.split('/')[0] ?? q.get('AWSAccessKeyId');
  return presigned || os.userInfo().username;
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

/**
 * The request body as the object's bytes: aws-chunked framing removed, with the length the
 * object must have (x-amz-decoded-content-length for aws-chunked, else Content-Length).
 */
export function objectBody(req: IncomingMessage): { body: Readable; length: number | undefined } {
  const encoding = header(req, 'content-encoding') ?? '';
  const sha = header(req, 'x-amz-content-sha256') ?? '';
  const chunked = encoding.split(',').some((e) => e.trim() === 'aws-chunked') || sha.startsWith('STREAMING-');
  const parseLen = (name: string): number | undefined => {
    const v = header(req, name);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v.trim())) throw new S3Error('InvalidArgument', `${name} must be a non-negative integer.`, { ArgumentName: name });
    return Number(v);
  };
  if (chunked) {
    const decoder = new AwsChunkedDecoder();
    // pipeline owns the errors of both streams from the first byte: a framing error that
    // happens before the object layer starts consuming leaves the decoder destroyed with that
    // error (which its consumer then sees), never an unhandled 'error' event.
    pipeline(req, decoder, () => undefined);
    return { body: decoder, length: parseLen('x-amz-decoded-content-length') };
  }
  return { body: req, length: parseLen('content-length') };
}

/** The stored Content-Encoding: the client's own encodings without aws-chunked (S3-CLIENTS P15). */
export function storedContentEncoding(req: IncomingMessage): string | undefined {
  const v = header(req, 'content-encoding');
  if (!v) return undefined;
  const rest = v.split(',').map((e) => e.trim()).filter((e) => e && e !== 'aws-chunked');
  return rest.length ? rest.join(',') : undefined;
}

/** Reads a small request body (XML documents) with a hard size cap. */
export async function readSmallBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new S3Error('MalformedXML', `The XML body exceeds ${maxBytes} bytes.`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
