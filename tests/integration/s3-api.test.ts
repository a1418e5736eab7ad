/**
 * The S3 REST API through the AWS SDK for JavaScript v3 (default settings: it signs, sends
 * CRC32 checksums and aws-chunked bodies for streams) and raw HTTP where the exact wire matters
 * (error XML, request ids, HEAD without body).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { randomBytes, createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  S3Client, CreateBucketCommand, HeadBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
  DeleteObjectCommand, DeleteObjectsCommand, ListObjectsCommand, ListBucketsCommand, DeleteBucketCommand,
  GetBucketLocationCommand, paginateListObjectsV2, CreateMultipartUploadCommand, UploadPartCommand,
  CompleteMultipartUploadCommand, AbortMultipartUploadCommand, ListPartsCommand,
} from '@aws-sdk/client-s3';
import { s3Client, expectS3Error } from '../helpers/s3.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';



describe('S3 API with the JS SDK v3', () => {
  let c: TestCluster;
  let s3: S3Client;
  const bucket = 'sdk-bucket';

  before(async () => {
    c = await startCluster();
    s3 = s3Client(c.endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => {
    s3?.destroy();
    await c?.close();
  });

  it('buckets: create, head, location, list, duplicate, invalid name', async () => {
    const head = await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    assert.equal(head.BucketRegion, 'us-east-1');
    const loc = await s3.send(new GetBucketLocationCommand({ Bucket: bucket }));
    assert.equal(loc.LocationConstraint ?? '', '');
    const list = await s3.send(new ListBucketsCommand({}));
    assert.ok(list.Buckets?.some((b) => b.Name === bucket));
    assert.equal(list.Owner?.ID, 'alice', 'SIMPLE auth: the access key names the user');
    await expectS3Error(s3.send(new CreateBucketCommand({ Bucket: bucket })), 'BucketAlreadyOwnedByYou', 409);
    await expectS3Error(s3.send(new HeadBucketCommand({ Bucket: 'no-such-bucket' })), 'NotFound', 404);
    const bad = await fetch(`${c.endpoint}/.hidden`, { method: 'PUT' });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /<Code>InvalidBucketName<\/Code>/);
  });

  it('objects: metadata and content type round trip; quoted MD5 ETag; Last-Modified', async () => {
    const body = Buffer.from('hello, cache');
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'meta/obj.txt', Body: body, ContentType: 'text/plain', Metadata: { color: 'blue', 'x-y': 'z' } }));
    const md5 = createHash('md5').update(body).digest('hex');
    assert.equal(put.ETag, `"${md5}"`);
    for (const w of c.workers) {
      const h = await s3Client(w.endpoint).send(new HeadObjectCommand({ Bucket: bucket, Key: 'meta/obj.txt' }));
      assert.equal(h.ETag, `"${md5}"`);
      assert.equal(h.ContentType, 'text/plain');
      assert.equal(h.ContentLength, body.length);
      assert.deepEqual(h.Metadata, { color: 'blue', 'x-y': 'z' });
      assert.ok(h.LastModified instanceof Date && Math.abs(h.LastModified.getTime() - Date.now()) < 60_000);
    }
    const g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'meta/obj.txt' }));
    assert.equal(await g.Body!.transformToString(), 'hello, cache');
    assert.equal(g.Metadata?.color, 'blue');
  });

  it('a stream body goes up aws-chunked and is stored without framing bytes', async () => {
    const data = randomBytes(300_000);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'chunked.bin', Body: Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]), ContentLength: data.length }));
    const onDisk = await fs.readFile(path.join(c.ufsRoot, bucket, 'chunked.bin'));
    assert.equal(onDisk.length, data.length);
    assert.ok(onDisk.equals(data));
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'chunked.bin' }));
    assert.equal(h.ContentLength, data.length);
    assert.equal(h.ContentEncoding, undefined, 'aws-chunked is not stored as a content encoding');
  });

  it('ranges: 206 with Content-Range, suffix ranges, 416 InvalidRange', async () => {
    const data = Buffer.from('0123456789');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'range.txt', Body: data }));
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'range.txt', Range: 'bytes=2-5' }));
    assert.equal(r.$metadata.httpStatusCode, 206);
    assert.equal(r.ContentRange, 'bytes 2-5/10');
    assert.equal(await r.Body!.transformToString(), '2345');
    const suffix = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'range.txt', Range: 'bytes=-3' }));
    assert.equal(await suffix.Body!.transformToString(), '789');
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'range.txt', Range: 'bytes=10-20' })), 'InvalidRange', 416);
  });

  it('errors: NoSuchKey and NoSuchBucket with S3 error XML and a request id', async () => {
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'absent' })), 'NoSuchKey', 404);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: 'absent-bucket', Key: 'k' })), 'NoSuchBucket', 404);
    const raw = await fetch(`${c.endpoint}/${bucket}/absent`);
    assert.equal(raw.status, 404);
    const id = raw.headers.get('x-amz-request-id')!;
    assert.match(id, /^[0-9A-F]{16}$/);
    assert.equal(raw.headers.get('content-type'), 'application/xml');
    assert.equal(await raw.text(), `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>absent</Key><Resource>/${bucket}/absent</Resource><RequestId>${id}</RequestId></Error>`);
    const head = await fetch(`${c.endpoint}/${bucket}/absent`, { method: 'HEAD' });
    assert.equal(head.status, 404);
    assert.equal((await head.arrayBuffer()).byteLength, 0, 'HEAD errors have no body');
    assert.ok(head.headers.get('x-amz-request-id'));
  });

  it('sub-resources we do not serve answer NotImplemented; absent policy/CORS answer 404', async () => {
    const lifecycle = await fetch(`${c.endpoint}/${bucket}?lifecycle`);
    assert.equal(lifecycle.status, 501);
    assert.match(await lifecycle.text(), /<Code>NotImplemented<\/Code>/);
    const policy = await fetch(`${c.endpoint}/${bucket}?policy`);
    assert.equal(policy.status, 404);
    assert.match(await policy.text(), /<Code>NoSuchBucketPolicy<\/Code>/);
  });

  it('Content-MD5 that does not match: BadDigest and nothing stored', async () => {
    const r = await fetch(`${c.endpoint}/${bucket}/digest.txt`, { method: 'PUT', body: 'abc', headers: { 'Content-MD5': createHash('md5').update('abd').digest('base64') } });
    assert.equal(r.status, 400);
    assert.match(await r.text(), /<Code>BadDigest<\/Code>/);
    assert.equal((await fetch(`${c.endpoint}/${bucket}/digest.txt`, { method: 'HEAD' })).status, 404);
    const bad = await fetch(`${c.endpoint}/${bucket}/digest.txt`, { method: 'PUT', body: 'abc', headers: { 'Content-MD5': 'not base64!' } });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /<Code>InvalidDigest<\/Code>/);
  });

  it('user metadata beyond 2 KB is refused with MetadataTooLarge', async () => {
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'big-meta', Body: 'x', Metadata: { m: 'v'.repeat(2100) } })), 'MetadataTooLarge', 400);
  });

  it('ListObjectsV2 pages through every key once; directories appear as dir/ entries', async () => {
    const prefix = 'many/';
    const keys = Array.from({ length: 35 }, (_, i) => `${prefix}${i % 5 === 0 ? `sub${i}/` : ''}k${String(i).padStart(3, '0')}`);
    await Promise.all(keys.map((k) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: k }))));
    const seen: string[] = [];
    for await (const page of paginateListObjectsV2({ client: s3, pageSize: 4 }, { Bucket: bucket, Prefix: prefix })) {
      assert.ok((page.KeyCount ?? 0) <= 4);
      if (page.IsTruncated) assert.ok(page.NextContinuationToken);
      for (const o of page.Contents ?? []) seen.push(o.Key!);
    }
    const dirs = keys.filter((k) => k.includes('/sub')).map((k) => k.slice(0, k.lastIndexOf('/') + 1));
    // The prefix is itself a directory, so it is listed too, as a folder object.
    assert.deepEqual(seen, [...new Set([prefix, ...keys, ...dirs])].sort(), 'every key once, in order, sub-directories as dir/ entries');
    const delimited = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Delimiter: '/' }));
    assert.deepEqual(delimited.CommonPrefixes?.map((p) => p.Prefix), [...new Set(dirs)].sort());
    assert.deepEqual(delimited.Contents?.map((o) => o.Key), [prefix, ...keys.filter((k) => !k.includes('/sub'))].sort());
  });

  it('ListObjects v1 with a delimiter returns NextMarker when truncated', async () => {
    const r = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: 'many/', Delimiter: '/', MaxKeys: 3 }));
    assert.equal(r.IsTruncated, true);
    assert.ok(r.NextMarker);
    const next = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: 'many/', Delimiter: '/', MaxKeys: 1000, Marker: r.NextMarker }));
    const first = [...(r.Contents ?? []).map((o) => o.Key), ...(r.CommonPrefixes ?? []).map((p) => p.Prefix)];
    const rest = [...(next.Contents ?? []).map((o) => o.Key), ...(next.CommonPrefixes ?? []).map((p) => p.Prefix)];
    assert.equal(first.filter((k) => rest.includes(k)).length, 0, 'no key on both pages');
  });

  it('encoding-type=url encodes keys, + as %2B', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'enc/a b+c.txt', Body: 'x' }));
    const raw = await (await fetch(`${c.endpoint}/${bucket}?list-type=2&prefix=enc/&encoding-type=url`)).text();
    assert.match(raw, /<Key>enc\/a%20b%2Bc\.txt<\/Key>/);
    assert.match(raw, /<EncodingType>url<\/EncodingType>/);
  });

  it('DeleteObjects (quiet and verbose) and DeleteObject', async () => {
    await Promise.all(['d/1', 'd/2', 'd/3'].map((k) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: k }))));
    const verbose = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'd/1' }, { Key: 'd/absent' }] } }));
    assert.deepEqual(verbose.Deleted?.map((d) => d.Key).sort(), ['d/1', 'd/absent']);
    const quiet = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'd/2' }], Quiet: true } }));
    assert.equal(quiet.Deleted, undefined);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'd/3' }));
    const left = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: 'd/' }));
    assert.equal(left.Contents, undefined);
  });

  it('multipart upload: parts, list, complete with the md5-of-md5s-N ETag, abort', async () => {
    const key = 'mpu/object.bin';
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(5 * 1024 * 1024), randomBytes(1234)];
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: 'application/x-test' }));
    const etags = await Promise.all(parts.map(async (p, i) => (await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: p }))).ETag!));
    const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId }));
    assert.deepEqual(listed.Parts?.map((p) => p.PartNumber), [1, 2, 3]);
    const mid = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: 'mpu/' }));
    assert.equal(mid.Contents, undefined, 'parts never show up in listings');
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }));
    const expected = createHash('md5').update(Buffer.concat(etags.map((e) => Buffer.from(e.replace(/"/g, ''), 'hex')))).digest('hex');
    assert.equal(done.ETag, `"${expected}-3"`);
    const g = await s3Client(c.workers[2].endpoint).send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(g.ContentType, 'application/x-test');
    assert.ok(Buffer.from(await g.Body!.transformToByteArray()).equals(Buffer.concat(parts)));
    const small = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mpu/small' }));
    const e1 = (await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mpu/small', UploadId: small.UploadId, PartNumber: 1, Body: 'tiny' }))).ETag!;
    const e2 = (await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mpu/small', UploadId: small.UploadId, PartNumber: 2, Body: 'tiny' }))).ETag!;
    await expectS3Error(s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mpu/small', UploadId: small.UploadId, MultipartUpload: { Parts: [{ ETag: e1, PartNumber: 1 }, { ETag: e2, PartNumber: 2 }] } })), 'EntityTooSmall', 400);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'mpu/small', UploadId: small.UploadId }));
    await expectS3Error(s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'mpu/small', UploadId: small.UploadId })), 'NoSuchUpload', 404);
  });

  it('DeleteBucket: BucketNotEmpty, then gone', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'to-delete' }));
    await s3.send(new PutObjectCommand({ Bucket: 'to-delete', Key: 'a/b/c', Body: 'x' }));
    await expectS3Error(s3.send(new DeleteBucketCommand({ Bucket: 'to-delete' })), 'BucketNotEmpty', 409);
    await s3.send(new DeleteObjectCommand({ Bucket: 'to-delete', Key: 'a/b/c' }));
    await s3.send(new DeleteBucketCommand({ Bucket: 'to-delete' }));
    await expectS3Error(s3.send(new HeadBucketCommand({ Bucket: 'to-delete' })), 'NotFound', 404);
  });
});
