/**
 * Parse, then dispatch: turns method + raw URL into a typed S3 operation named after the AWS
 * API. Pure (no I/O), so it is unit-tested with a table of requests. Path-style addressing:
 * `/bucket/key`.
 */
import { S3Error } from './errors.js';

export type BucketOp =
  | 'CreateBucket' | 'HeadBucket' | 'DeleteBucket' | 'GetBucketLocation'
  | 'ListObjects' | 'ListObjectsV2' | 'DeleteObjects' | 'GetBucketPolicy' | 'GetBucketCors'
  | 'ListMultipartUploads' | 'GetBucketTagging' | 'PutBucketTagging' | 'DeleteBucketTagging'
  | 'GetBucketAcl' | 'PutBucketAcl' | 'GetBucketVersioning';

export type ObjectOp =
  | 'GetObject' | 'HeadObject' | 'PutObject' | 'DeleteObject' | 'CopyObject'
  | 'CreateMultipartUpload' | 'UploadPart' | 'UploadPartCopy' | 'CompleteMultipartUpload' | 'AbortMultipartUpload' | 'ListParts'
  | 'GetObjectTagging' | 'PutObjectTagging' | 'DeleteObjectTagging' | 'GetObjectAcl' | 'PutObjectAcl';

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

/**
 * Splits `/bucket/key?query` into decoded parts (path-style). The key keeps every character,
 * slashes included. With `hostBucket` (virtual-hosted style) the whole path is the key.
 */
export function splitPath(rawUrl: string, hostBucket?: string): { bucket: string; key: string | undefined; query: URLSearchParams } {
  const q = rawUrl.indexOf('?');
  const rawPath = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
  const query = new URLSearchParams(q >= 0 ? rawUrl.slice(q + 1) : '');
  if (!rawPath.startsWith('/')) throw new S3Error('InvalidArgument', 'The request path must start with /.');
  const rest = rawPath.slice(1);
  if (hostBucket !== undefined) return { bucket: hostBucket, key: rest === '' ? undefined : decodeSegment(rest), query };
  const slash = rest.indexOf('/');
  const bucket = decodeSegment(slash >= 0 ? rest.slice(0, slash) : rest);
  const key = slash >= 0 ? decodeSegment(rest.slice(slash + 1)) : undefined;
  return { bucket, key, query };
}

/**
 * The bucket a virtual-hosted-style request names in its Host (`<bucket>.<domain>[:port]`), for
 * the configured domains; undefined for path-style requests (any other Host).
 */
export function bucketFromHost(host: string | undefined, domains: readonly string[]): string | undefined {
  if (!host || domains.length === 0) return undefined;
  const name = host.replace(/:\d+$/, '').toLowerCase();
  for (const domain of domains) {
    const suffix = `.${domain.toLowerCase()}`;
    if (name.endsWith(suffix) && name.length > suffix.length) return name.slice(0, -suffix.length);
  }
  return undefined;
}

/**
 * Keys are S3 keys, but they also name paths in a filesystem: segments that would climb out
 * of the bucket ("..", "."), empty segments ("a//b", a leading "/") and NUL are refused, so no
 * key can reach a file outside its root or alias another key.
 */
export function checkKey(key: string): void {
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new S3Error('KeyTooLongError');
  if (key.includes('\0')) throw new S3Error('InvalidArgument', 'Object keys cannot contain a NUL character.');
  const segments = key.split('/');
  segments.forEach((seg, i) => {
    if (seg === '.' || seg === '..') throw new S3Error('InvalidArgument', `Object key "${key}" has a "${seg}" segment; keys cannot contain "." or ".." path segments.`);
    if (seg === '' && i < segments.length - 1) throw new S3Error('InvalidArgument', `Object key "${key}" has an empty path segment ("//" or a leading "/").`);
  });
}

export interface RouterOptions {
  /** Domains served virtual-hosted style (alluxio.worker.s3.virtual.host.domains). */
  virtualHostDomains?: readonly string[];
}

export function parseS3Request(method: string, rawUrl: string, headers: Record<string, string | string[] | undefined>, opts: RouterOptions = {}): S3Request {
  const host = headers.host;
  const hostBucket = bucketFromHost(Array.isArray(host) ? host[0] : host, opts.virtualHostDomains ?? []);
  const { bucket, key, query } = splitPath(rawUrl, hostBucket);
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
        if (has('uploads')) return { op: 'ListMultipartUploads', bucket, query };
        if (has('tagging')) return { op: 'GetBucketTagging', bucket, query };
        if (has('acl')) return { op: 'GetBucketAcl', bucket, query };
        if (has('versioning')) return { op: 'GetBucketVersioning', bucket, query };
        if (sub) notImplemented(`GET ?${sub} on a bucket`);
        return { op: query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects', bucket, query };
      case 'HEAD':
        return { op: 'HeadBucket', bucket, query };
      case 'PUT':
        if (has('tagging')) return { op: 'PutBucketTagging', bucket, query };
        if (has('acl')) return { op: 'PutBucketAcl', bucket, query };
        if (sub) notImplemented(`PUT ?${sub} on a bucket`);
        return { op: 'CreateBucket', bucket, query };
      case 'DELETE':
        if (has('tagging')) return { op: 'DeleteBucketTagging', bucket, query };
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

  checkKey(key);
  const copySource = headers['x-amz-copy-source'];
  switch (method) {
    case 'GET':
      if (has('uploadId')) return { op: 'ListParts', bucket, key, query };
      if (has('tagging')) return { op: 'GetObjectTagging', bucket, key, query };
      if (has('acl')) return { op: 'GetObjectAcl', bucket, key, query };
      if (sub) notImplemented(`GET ?${sub} on an object`);
      return { op: 'GetObject', bucket, key, query };
    case 'HEAD':
      if (sub) notImplemented(`HEAD ?${sub} on an object`);
      return { op: 'HeadObject', bucket, key, query };
    case 'PUT':
      if (has('uploadId') && has('partNumber')) {
        return { op: copySource !== undefined ? 'UploadPartCopy' : 'UploadPart', bucket, key, query };
      }
      if (has('tagging')) return { op: 'PutObjectTagging', bucket, key, query };
      if (has('acl')) return { op: 'PutObjectAcl', bucket, key, query };
      if (sub) notImplemented(`PUT ?${sub} on an object`);
      if (copySource !== undefined) return { op: 'CopyObject', bucket, key, query };
      return { op: 'PutObject', bucket, key, query };
    case 'POST':
      if (has('uploads')) return { op: 'CreateMultipartUpload', bucket, key, query };
      if (has('uploadId')) return { op: 'CompleteMultipartUpload', bucket, key, query };
      notImplemented(`POST${sub ? ` ?${sub}` : ''} on an object`);
    // falls through: notImplemented never returns
    case 'DELETE':
      if (has('uploadId')) return { op: 'AbortMultipartUpload', bucket, key, query };
      if (has('tagging')) return { op: 'DeleteObjectTagging', bucket, key, query };
      if (sub) notImplemented(`DELETE ?${sub} on an object`);
      return { op: 'DeleteObject', bucket, key, query };
    default:
      throw new S3Error('MethodNotAllowed');
  }
}

export function isObjectRequest(r: S3Request): r is Extract<S3Request, { key: string }> {
  return 'key' in r;
}
