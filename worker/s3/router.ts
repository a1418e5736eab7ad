/**
 * Parse, then dispatch: turns method + raw URL into a typed S3 operation named after the AWS
 * API. Pure (no I/O), so it is unit-tested with a table of requests. Path-style addressing:
 * `/bucket/key`.
 */
import { S3Error } from './errors.js';

export type BucketOp =
  | 'CreateBucket' | 'HeadBucket' | 'DeleteBucket' | 'GetBucketLocation'
  | 'ListObjects' | 'ListObjectsV2' | 'DeleteObjects' | 'GetBucketPolicy' | 'GetBucketCors';

export type ObjectOp =
  | 'GetObject' | 'HeadObject' | 'PutObject' | 'DeleteObject'
  | 'CreateMultipartUpload' | 'UploadPart' | 'CompleteMultipartUpload' | 'AbortMultipartUpload' | 'ListParts';

export type S3Request =
  | { op: 'ListBuckets'; query: URLSearchParams }
  | { op: BucketOp; bucket: string; query: URLSearchParams }
  | { op: ObjectOp; bucket: string; key: string; query: URLSearchParams };

/** Sub-resources S3 defines that select another API; those we do not serve answer NotImplemented. */
const SUBRESOURCES = new Set([
  'accelerate', 'acl', 'analytics', 'attributes', 'cors', 'delete', 'encryption', 'intelligent-tiering',
  'inventory', 'legal-hold', 'lifecycle', 'location', 'logging', 'metrics', 'notification', 'object-lock',
  'ownershipControls', 'partNumber', 'policy', 'policyStatus', 'publicAccessBlock', 'replication',
  'requestPayment', 'restore', 'retention', 'select', 'tagging', 'torrent', 'uploadId', 'uploads',
  'versioning', 'versions', 'website', 'renameObject', 'session',
]);

/** S3 limits keys to 1024 bytes of UTF-8. */
export const MAX_KEY_BYTES = 1024;

function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new S3Error('InvalidArgument', 'Could not decode the request path (invalid percent-encoding).');
  }
}

function notImplemented(what: string): never {
  throw new S3Error('NotImplemented', `${what} is not implemented by this server.`);
}

/** Splits `/bucket/key?query` into decoded parts. The key keeps every character, slashes included. */
export function splitPath(rawUrl: string): { bucket: string; key: string | undefined; query: URLSearchParams } {
  const q = rawUrl.indexOf('?');
  const rawPath = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
  const query = new URLSearchParams(q >= 0 ? rawUrl.slice(q + 1) : '');
  if (!rawPath.startsWith('/')) throw new S3Error('InvalidArgument', 'The request path must start with /.');
  const rest = rawPath.slice(1);
  const slash = rest.indexOf('/');
  const bucket = decodeSegment(slash >= 0 ? rest.slice(0, slash) : rest);
  const key = slash >= 0 ? decodeSegment(rest.slice(slash + 1)) : undefined;
  return { bucket, key, query };
}

export function parseS3Request(method: string, rawUrl: string, headers: Record<string, string | string[] | undefined>): S3Request {
  const { bucket, key, query } = splitPath(rawUrl);
  const has = (name: string) => query.has(name);
  const sub = [...query.keys()].find((k) => SUBRESOURCES.has(k));

  if (bucket === '') {
    if (method === 'GET' || method === 'HEAD') return { op: 'ListBuckets', query };
    throw new S3Error('MethodNotAllowed');
  }

  if (key === undefined || key === '') {
    switch (method) {
      case 'GET':
        if (has('location')) return { op: 'GetBucketLocation', bucket, query };
        if (has('policy')) return { op: 'GetBucketPolicy', bucket, query };
        if (has('cors')) return { op: 'GetBucketCors', bucket, query };
        if (sub) notImplemented(`GET ?${sub} on a bucket`);
        return { op: query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects', bucket, query };
      case 'HEAD':
        return { op: 'HeadBucket', bucket, query };
      case 'PUT':
        if (sub) notImplemented(`PUT ?${sub} on a bucket`);
        return { op: 'CreateBucket', bucket, query };
      case 'DELETE':
        if (sub) notImplemented(`DELETE ?${sub} on a bucket`);
        return { op: 'DeleteBucket', bucket, query };
      case 'POST':
        if (has('delete')) return { op: 'DeleteObjects', bucket, query };
        notImplemented(`POST${sub ? ` ?${sub}` : ''} on a bucket`);
      // falls through: notImplemented never returns
      default:
        throw new S3Error('MethodNotAllowed');
    }
  }

  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new S3Error('KeyTooLongError');
  const copySource = headers['x-amz-copy-source'];
  switch (method) {
    case 'GET':
      if (has('uploadId')) return { op: 'ListParts', bucket, key, query };
      if (sub) notImplemented(`GET ?${sub} on an object`);
      return { op: 'GetObject', bucket, key, query };
    case 'HEAD':
      if (sub) notImplemented(`HEAD ?${sub} on an object`);
      return { op: 'HeadObject', bucket, key, query };
    case 'PUT':
      if (has('uploadId') && has('partNumber')) {
        if (copySource !== undefined) notImplemented('UploadPartCopy');
        return { op: 'UploadPart', bucket, key, query };
      }
      if (sub) notImplemented(`PUT ?${sub} on an object`);
      if (copySource !== undefined) notImplemented('CopyObject');
      return { op: 'PutObject', bucket, key, query };
    case 'POST':
      if (has('uploads')) return { op: 'CreateMultipartUpload', bucket, key, query };
      if (has('uploadId')) return { op: 'CompleteMultipartUpload', bucket, key, query };
      notImplemented(`POST${sub ? ` ?${sub}` : ''} on an object`);
    // falls through: notImplemented never returns
    case 'DELETE':
      if (has('uploadId')) return { op: 'AbortMultipartUpload', bucket, key, query };
      if (sub) notImplemented(`DELETE ?${sub} on an object`);
      return { op: 'DeleteObject', bucket, key, query };
    default:
      throw new S3Error('MethodNotAllowed');
  }
}

export function isObjectRequest(r: S3Request): r is Extract<S3Request, { key: string }> {
  return 'key' in r;
}
