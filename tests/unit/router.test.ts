import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { S3Error, type S3ErrorCode } from '../../worker/s3/errors.js';
import { MAX_KEY_BYTES, parseS3Request, splitPath } from '../../worker/s3/router.js';

type Headers = Record<string, string | string[] | undefined>;

interface OkCase {
  method: string;
  url: string;
  headers?: Headers;
  op: string;
  bucket?: string;
  key?: string;
  /** Query parameters the handler will read, decoded. */
  query?: Record<string, string>;
}

interface ErrCase {
  method: string;
  url: string;
  headers?: Headers;
  code: S3ErrorCode;
  status: number;
}

function check(c: OkCase): void {
  const r = parseS3Request(c.method, c.url, c.headers ?? {});
  assert.equal(r.op, c.op);
  assert.equal('bucket' in r ? r.bucket : undefined, c.bucket);
  assert.equal('key' in r ? r.key : undefined, c.key);
  for (const [name, value] of Object.entries(c.query ?? {})) assert.equal(r.query.get(name), value, `query ${name}`);
}

function checkError(c: ErrCase): void {
  assert.throws(() => parseS3Request(c.method, c.url, c.headers ?? {}), (err: unknown) => {
    assert.ok(err instanceof S3Error, `expected an S3Error, got ${String(err)}`);
    assert.equal(err.code, c.code);
    assert.equal(err.status, c.status);
    return true;
  });
}

const title = (c: { method: string; url: string; headers?: Headers }): string =>
  `${c.method} ${c.url.length > 80 ? `${c.url.slice(0, 80)}…` : c.url}${c.headers ? ` ${JSON.stringify(c.headers)}` : ''}`;

describe('parseS3Request: service and bucket operations', () => {
  const cases: OkCase[] = [
    { method: 'GET', url: '/', op: 'ListBuckets' },
    { method: 'GET', url: '/?x-id=ListBuckets', op: 'ListBuckets' },
    // Path-style bucket requests come as /bkt (boto3, awscli, minio-js, rclone) or /bkt/ (JS v3, s3cmd, s3fs): S3-CLIENTS A1.
    { method: 'GET', url: '/bkt', op: 'ListObjects', bucket: 'bkt' },
    { method: 'GET', url: '/bkt/', op: 'ListObjects', bucket: 'bkt' },
    { method: 'GET', url: '/bkt?list-type=1', op: 'ListObjects', bucket: 'bkt' },
    { method: 'GET', url: '/bkt?delimiter=%2F&marker=a%2Bb&prefix=dir%2F', op: 'ListObjects', bucket: 'bkt', query: { delimiter: '/', marker: 'a+b', prefix: 'dir/' } },
    { method: 'GET', url: '/bkt?list-type=2', op: 'ListObjectsV2', bucket: 'bkt' },
    { method: 'GET', url: '/bkt/?list-type=2&prefix=dir%2F&delimiter=%2F&encoding-type=url&max-keys=2', op: 'ListObjectsV2', bucket: 'bkt', query: { prefix: 'dir/', delimiter: '/', 'encoding-type': 'url', 'max-keys': '2' } },
    // s3fs sends the prefix unencoded.
    { method: 'GET', url: '/bkt/?delimiter=/&max-keys=2&prefix=dir/', op: 'ListObjects', bucket: 'bkt', query: { prefix: 'dir/', delimiter: '/' } },
    { method: 'GET', url: '/bkt?list-type=2&continuation-token=abc%3D%3D&start-after=x', op: 'ListObjectsV2', bucket: 'bkt', query: { 'continuation-token': 'abc==', 'start-after': 'x' } },
    { method: 'GET', url: '/bkt?location', op: 'GetBucketLocation', bucket: 'bkt' },
    { method: 'GET', url: '/bkt/?location', op: 'GetBucketLocation', bucket: 'bkt' },
    { method: 'GET', url: '/bkt?location=', op: 'GetBucketLocation', bucket: 'bkt' },
    { method: 'GET', url: '/bkt?policy', op: 'GetBucketPolicy', bucket: 'bkt' },
    { method: 'GET', url: '/bkt/?cors', op: 'GetBucketCors', bucket: 'bkt' },
    { method: 'HEAD', url: '/bkt', op: 'HeadBucket', bucket: 'bkt' },
    { method: 'HEAD', url: '/bkt/', op: 'HeadBucket', bucket: 'bkt' },
    { method: 'PUT', url: '/bkt', op: 'CreateBucket', bucket: 'bkt' },
    { method: 'PUT', url: '/bkt/', op: 'CreateBucket', bucket: 'bkt' },
    // rclone sends PUT /bkt with x-amz-acl before each first upload (S3-CLIENTS A10).
    { method: 'PUT', url: '/bkt', headers: { 'x-amz-acl': 'private' }, op: 'CreateBucket', bucket: 'bkt' },
    { method: 'PUT', url: '/bkt?x-id=CreateBucket', op: 'CreateBucket', bucket: 'bkt' },
    { method: 'DELETE', url: '/bkt', op: 'DeleteBucket', bucket: 'bkt' },
    { method: 'DELETE', url: '/bkt/', op: 'DeleteBucket', bucket: 'bkt' },
    // ?delete and ?delete= both occur (S3-CLIENTS D1, S2).
    { method: 'POST', url: '/bkt?delete', op: 'DeleteObjects', bucket: 'bkt' },
    { method: 'POST', url: '/bkt/?delete', op: 'DeleteObjects', bucket: 'bkt' },
    { method: 'POST', url: '/bkt?delete=', op: 'DeleteObjects', bucket: 'bkt' },
    { method: 'POST', url: '/bkt/?delete=&x-id=DeleteObjects', op: 'DeleteObjects', bucket: 'bkt' },
    { method: 'GET', url: '/my.dotted-bucket_1/', op: 'ListObjects', bucket: 'my.dotted-bucket_1' },
  ];
  for (const c of cases) it(`${title(c)} → ${c.op}`, () => check(c));
});

describe('parseS3Request: object operations', () => {
  const cases: OkCase[] = [
    { method: 'GET', url: '/bkt/key', op: 'GetObject', bucket: 'bkt', key: 'key' },
    { method: 'GET', url: '/bkt/dir/sub/key.txt', op: 'GetObject', bucket: 'bkt', key: 'dir/sub/key.txt' },
    { method: 'GET', url: '/bkt/key?response-content-type=text%2Fplain&response-content-disposition=attachment%3B%20filename%3D%22x%22', op: 'GetObject', bucket: 'bkt', key: 'key', query: { 'response-content-type': 'text/plain', 'response-content-disposition': 'attachment; filename="x"' } },
    { method: 'GET', url: '/bkt/key?x-id=GetObject', op: 'GetObject', bucket: 'bkt', key: 'key' },
    { method: 'GET', url: '/bkt/key?versionId=null', op: 'GetObject', bucket: 'bkt', key: 'key' },
    // Presigned URLs (S3-CLIENTS S7, S8): the auth parameters select nothing.
    { method: 'GET', url: '/bkt/a%20b?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20261121%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261121T041557Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=abc&response-content-disposition=inline&x-id=GetObject', op: 'GetObject', bucket: 'bkt', key: 'a b', query: { 'X-Amz-Expires': '900', 'response-content-disposition': 'inline' } },
    { method: 'GET', url: '/bkt/key?AWSAccessKeyId=AK&Expires=1795000000&Signature=a%2Bb%3D', op: 'GetObject', bucket: 'bkt', key: 'key', query: { Signature: 'a+b=' } },
    { method: 'PUT', url: '/bkt/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc&x-id=PutObject', op: 'PutObject', bucket: 'bkt', key: 'key' },
    { method: 'HEAD', url: '/bkt/key', op: 'HeadObject', bucket: 'bkt', key: 'key' },
    { method: 'PUT', url: '/bkt/key', op: 'PutObject', bucket: 'bkt', key: 'key' },
    // JS v3 adds x-id to every request (S3-CLIENTS P1); it names the operation but never changes it.
    { method: 'PUT', url: '/bkt/key?x-id=PutObject', op: 'PutObject', bucket: 'bkt', key: 'key' },
    { method: 'DELETE', url: '/bkt/key', op: 'DeleteObject', bucket: 'bkt', key: 'key' },
    { method: 'DELETE', url: '/bkt/key?x-id=DeleteObject', op: 'DeleteObject', bucket: 'bkt', key: 'key' },
    { method: 'POST', url: '/bkt/key?uploads', op: 'CreateMultipartUpload', bucket: 'bkt', key: 'key' },
    { method: 'POST', url: '/bkt/key?uploads=', op: 'CreateMultipartUpload', bucket: 'bkt', key: 'key' },
    { method: 'POST', url: '/bkt/key?uploads&x-id=CreateMultipartUpload', op: 'CreateMultipartUpload', bucket: 'bkt', key: 'key' },
    { method: 'PUT', url: '/bkt/key?uploadId=u-1&partNumber=3', op: 'UploadPart', bucket: 'bkt', key: 'key', query: { uploadId: 'u-1', partNumber: '3' } },
    { method: 'PUT', url: '/bkt/key?partNumber=1&uploadId=u%2B1&x-id=UploadPart', op: 'UploadPart', bucket: 'bkt', key: 'key', query: { uploadId: 'u+1', partNumber: '1' } },
    { method: 'POST', url: '/bkt/key?uploadId=u-1', op: 'CompleteMultipartUpload', bucket: 'bkt', key: 'key', query: { uploadId: 'u-1' } },
    { method: 'POST', url: '/bkt/key?uploadId=u-1&x-id=CompleteMultipartUpload', op: 'CompleteMultipartUpload', bucket: 'bkt', key: 'key' },
    { method: 'DELETE', url: '/bkt/key?uploadId=u-1', op: 'AbortMultipartUpload', bucket: 'bkt', key: 'key', query: { uploadId: 'u-1' } },
    { method: 'DELETE', url: '/bkt/key?uploadId=u-1&x-id=AbortMultipartUpload', op: 'AbortMultipartUpload', bucket: 'bkt', key: 'key' },
    { method: 'GET', url: '/bkt/key?uploadId=u-1', op: 'ListParts', bucket: 'bkt', key: 'key' },
    { method: 'GET', url: '/bkt/key?uploadId=u-1&max-parts=2&part-number-marker=1&x-id=ListParts', op: 'ListParts', bucket: 'bkt', key: 'key', query: { 'max-parts': '2' } },
  ];
  for (const c of cases) it(`${title(c)} → ${c.op}`, () => check(c));
});

describe('parseS3Request: keys are percent-decoded exactly once', () => {
  const cases: { url: string; key: string }[] = [
    { url: '/bkt/a%20b.txt', key: 'a b.txt' },
    { url: '/bkt/a%2Bb.txt', key: 'a+b.txt' },
    // In a path '+' is a literal plus, not a space (awscli, s3cmd, rclone send "we ird+key.txt" this way).
    { url: '/bkt/a+b.txt', key: 'a+b.txt' },
    { url: '/bkt/we%20ird+key.txt', key: 'we ird+key.txt' },
    { url: '/bkt/dir/%C3%BC%E6%97%A5%E6%9C%AC.txt', key: 'dir/ü日本.txt' },
    { url: '/bkt/%F0%9F%98%80', key: '😀' },
    // %2F inside the key is the same key as a literal '/'.
    { url: '/bkt/a%2Fb', key: 'a/b' },
    { url: '/bkt/dir%2Fsub%2F', key: 'dir/sub/' },
    // A trailing slash is part of the key (a folder object, s3fs and the console create them).
    { url: '/bkt/dir/', key: 'dir/' },
    { url: '/bkt/%25', key: '%' },
    { url: '/bkt/%2525', key: '%25' },
    // An encoded '?' or '#' is part of the key, not the start of a query or fragment.
    { url: '/bkt/a%3Fb?x-id=GetObject', key: 'a?b' },
    { url: '/bkt/a%23b', key: 'a#b' },
    { url: '/bkt/0001', key: '0001' },
    {
      // The key every client in S3-CLIENTS S1 round-tripped, as JS v3 encodes it.
      url: `/bkt/${'dir/a b+c~d!e\'f(g)h*i@j:k=l&m$n,o;p[q]r^u`v|w"x<y>z%25 ü日本.txt'.split('/').map(encodeURIComponent).join('/')}`,
      key: 'dir/a b+c~d!e\'f(g)h*i@j:k=l&m$n,o;p[q]r^u`v|w"x<y>z%25 ü日本.txt',
    },
  ];
  for (const c of cases) {
    it(`GET ${c.url} → key ${JSON.stringify(c.key)}`, () => check({ method: 'GET', url: c.url, op: 'GetObject', bucket: 'bkt', key: c.key }));
  }

  it('PUT of a folder object keeps the trailing slash', () => {
    check({ method: 'PUT', url: '/bkt/dir/', op: 'PutObject', bucket: 'bkt', key: 'dir/' });
  });

  it('accepts a key of exactly 1024 UTF-8 bytes', () => {
    check({ method: 'PUT', url: `/bkt/${'k'.repeat(MAX_KEY_BYTES)}`, op: 'PutObject', bucket: 'bkt', key: 'k'.repeat(1024) });
    // 512 two-byte characters: 512 UTF-16 units but 1024 bytes.
    const e = 'é'.repeat(512);
    check({ method: 'GET', url: `/bkt/${encodeURIComponent(e)}`, op: 'GetObject', bucket: 'bkt', key: e });
  });
});

describe('parseS3Request: refusals', () => {
  const cases: ErrCase[] = [
    // Sub-resources we do not serve.
    { method: 'GET', url: '/bkt?lifecycle', code: 'NotImplemented', status: 501 },
    { method: 'GET', url: '/bkt?versions', code: 'NotImplemented', status: 501 },
    { method: 'PUT', url: '/bkt?versioning', code: 'NotImplemented', status: 501 },
    { method: 'PUT', url: '/bkt?policy', code: 'NotImplemented', status: 501 },
    { method: 'PUT', url: '/bkt?cors', code: 'NotImplemented', status: 501 },
    { method: 'DELETE', url: '/bkt?policy', code: 'NotImplemented', status: 501 },
    { method: 'POST', url: '/bkt', code: 'NotImplemented', status: 501 },
    { method: 'GET', url: '/bkt/key?attributes', code: 'NotImplemented', status: 501 },
    { method: 'GET', url: '/bkt/key?torrent', code: 'NotImplemented', status: 501 },
    { method: 'POST', url: '/bkt/key', code: 'NotImplemented', status: 501 },
    { method: 'POST', url: '/bkt/key?restore', code: 'NotImplemented', status: 501 },
    { method: 'POST', url: '/bkt/key?select&select-type=2', code: 'NotImplemented', status: 501 },
    // Keys that would escape the bucket or alias another key as a path.
    { method: 'PUT', url: '/bkt/dir//x', code: 'InvalidArgument', status: 400 },
    { method: 'GET', url: '/bkt//lead', code: 'InvalidArgument', status: 400 },
    { method: 'GET', url: '/bkt/a/../../etc/passwd', code: 'InvalidArgument', status: 400 },
    { method: 'GET', url: '/bkt/%2E%2E/x', code: 'InvalidArgument', status: 400 },
    { method: 'PUT', url: '/bkt/a/./b', code: 'InvalidArgument', status: 400 },
    { method: 'PUT', url: '/bkt/..', code: 'InvalidArgument', status: 400 },
    { method: 'PUT', url: '/bkt/a%00b', code: 'InvalidArgument', status: 400 },
    // Bad percent-encoding.
    { method: 'GET', url: '/bkt/%ZZ', code: 'InvalidArgument', status: 400 },
    { method: 'GET', url: '/bkt/a%', code: 'InvalidArgument', status: 400 },
    { method: 'GET', url: '/bkt/a%2', code: 'InvalidArgument', status: 400 },
    { method: 'PUT', url: '/bkt/%C3', code: 'InvalidArgument', status: 400 },
    { method: 'PUT', url: '/bkt/%FF%FE', code: 'InvalidArgument', status: 400 },
    { method: 'GET', url: '/b%ZZkt/key', code: 'InvalidArgument', status: 400 },
    // Keys over 1024 bytes.
    { method: 'PUT', url: `/bkt/${'k'.repeat(1025)}`, code: 'KeyTooLongError', status: 400 },
    { method: 'GET', url: `/bkt/${'k'.repeat(1025)}`, code: 'KeyTooLongError', status: 400 },
    { method: 'GET', url: `/bkt/${encodeURIComponent('é'.repeat(513))}`, code: 'KeyTooLongError', status: 400 },
    // Methods S3 does not have.
    { method: 'PATCH', url: '/bkt/key', code: 'MethodNotAllowed', status: 405 },
    { method: 'OPTIONS', url: '/bkt/key', code: 'MethodNotAllowed', status: 405 },
    { method: 'PATCH', url: '/bkt', code: 'MethodNotAllowed', status: 405 },
    { method: 'PUT', url: '/', code: 'MethodNotAllowed', status: 405 },
    { method: 'DELETE', url: '/', code: 'MethodNotAllowed', status: 405 },
    { method: 'POST', url: '/', code: 'MethodNotAllowed', status: 405 },
  ];
  for (const c of cases) it(`${title(c)} → ${c.code}`, () => checkError(c));
});

describe('splitPath', () => {
  it('splits bucket, key and query and decodes only the path', () => {
    const { bucket, key, query } = splitPath('/bkt/dir/a%20b?prefix=a%2Fb&flag');
    assert.equal(bucket, 'bkt');
    assert.equal(key, 'dir/a b');
    assert.deepEqual([...query.entries()], [['prefix', 'a/b'], ['flag', '']]);
  });

  it('has no key for /bkt and an empty key for /bkt/', () => {
    assert.equal(splitPath('/bkt').key, undefined);
    assert.equal(splitPath('/bkt/').key, '');
    assert.equal(splitPath('/').bucket, '');
  });

  it('refuses a path that does not start with /', () => {
    assert.throws(() => splitPath('bkt/key'), { name: 'S3Error', code: 'InvalidArgument' });
  });
});

describe('parseS3Request: addressing not supported yet', () => {
  // S3-CLIENTS A1/A2 require virtual-hosted style (Host: bkt.localhost:9000, path /key), which JS v3
  // uses by default with a hostname endpoint. The router is path-style only.
});

describe('parseS3Request: copy, tagging, ACLs, uploads listing, virtual-hosted style', () => {
  const cases: OkCase[] = [
    { method: 'PUT', url: '/bkt/key', headers: { 'x-amz-copy-source': '/src/k' }, op: 'CopyObject', bucket: 'bkt', key: 'key' },
    { method: 'PUT', url: '/bkt/key?x-id=CopyObject', headers: { 'x-amz-copy-source': 'src/k%20x' }, op: 'CopyObject', bucket: 'bkt', key: 'key' },
    { method: 'PUT', url: '/bkt/key?uploadId=u&partNumber=1', headers: { 'x-amz-copy-source': '/src/k' }, op: 'UploadPartCopy', bucket: 'bkt', key: 'key' },
    { method: 'GET', url: '/bkt?uploads', op: 'ListMultipartUploads', bucket: 'bkt' },
    { method: 'GET', url: '/bkt?tagging', op: 'GetBucketTagging', bucket: 'bkt' },
    { method: 'PUT', url: '/bkt?tagging', op: 'PutBucketTagging', bucket: 'bkt' },
    { method: 'DELETE', url: '/bkt?tagging', op: 'DeleteBucketTagging', bucket: 'bkt' },
    { method: 'GET', url: '/bkt?acl', op: 'GetBucketAcl', bucket: 'bkt' },
    { method: 'PUT', url: '/bkt/?acl', op: 'PutBucketAcl', bucket: 'bkt' },
    { method: 'GET', url: '/bkt/?versioning', op: 'GetBucketVersioning', bucket: 'bkt' },
    { method: 'GET', url: '/bkt/key?tagging', op: 'GetObjectTagging', bucket: 'bkt', key: 'key' },
    { method: 'PUT', url: '/bkt/key?tagging', op: 'PutObjectTagging', bucket: 'bkt', key: 'key' },
    { method: 'DELETE', url: '/bkt/key?tagging', op: 'DeleteObjectTagging', bucket: 'bkt', key: 'key' },
    { method: 'GET', url: '/bkt/key?acl', op: 'GetObjectAcl', bucket: 'bkt', key: 'key' },
    { method: 'PUT', url: '/bkt/key?acl', op: 'PutObjectAcl', bucket: 'bkt', key: 'key' },
  ];
  for (const c of cases) it(title(c), () => check(c));

  const domains = { virtualHostDomains: ['s3.example.com', 'localhost'] };
  it('Host: <bucket>.<domain> names the bucket; the whole path is the key', () => {
    const r = parseS3Request('GET', '/dir/a%20b.txt', { host: 'photos.s3.example.com:29998' }, domains);
    assert.deepEqual([r.op, 'bucket' in r && r.bucket, 'key' in r && r.key], ['GetObject', 'photos', 'dir/a b.txt']);
    const list = parseS3Request('GET', '/?list-type=2', { host: 'bkt.localhost:29998' }, domains);
    assert.deepEqual([list.op, 'bucket' in list && list.bucket], ['ListObjectsV2', 'bkt']);
  });
  it('any other Host is path-style', () => {
    const r = parseS3Request('GET', '/bkt/key', { host: 's3.example.com:29998' }, domains);
    assert.deepEqual([r.op, 'bucket' in r && r.bucket, 'key' in r && r.key], ['GetObject', 'bkt', 'key']);
    const ip = parseS3Request('GET', '/bkt/key', { host: '127.0.0.1:29998' }, domains);
    assert.deepEqual(['bucket' in ip && ip.bucket], ['bkt']);
  });
  it('without configured domains, a bucket-like Host is still path-style', () => {
    const r = parseS3Request('GET', '/bkt/key', { host: 'photos.localhost:29998' });
    assert.deepEqual(['bucket' in r && r.bucket, 'key' in r && r.key], ['bkt', 'key']);
  });
});
