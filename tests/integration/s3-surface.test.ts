/**
 * The S3 surface beyond the core: copy, tagging, stored representation headers, conditional
 * requests and writes, additional checksums, multipart listing/copy/idempotency, virtual-hosted
 * and sub-directory buckets, key safety. Driven with the JS SDK v3 at its defaults and raw HTTP.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import http from 'node:http';
import { randomBytes, createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import {
  S3Client, PutObjectCommand, GetObjectCommand, HeadObjectCommand, CopyObjectCommand, PutObjectTaggingCommand,
  GetObjectTaggingCommand, DeleteObjectTaggingCommand, PutBucketTaggingCommand, GetBucketTaggingCommand,
  DeleteBucketTaggingCommand, CreateBucketCommand, CreateMultipartUploadCommand, UploadPartCommand, UploadPartCopyCommand,
  CompleteMultipartUploadCommand, ListMultipartUploadsCommand, ListObjectsV2Command, AbortMultipartUploadCommand,
} from '@aws-sdk/client-s3';
import { checksumOf } from '../../common/checksums.js';
import { s3Client, expectS3Error } from '../helpers/s3.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';

const MiB = 1024 * 1024;



const md5hex = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

describe('S3 surface', () => {
  let c: TestCluster;
  let s3: S3Client;
  const bucket = 'surface';

  before(async () => {
    c = await startCluster({ conf: { 'alluxio.worker.s3.virtual.host.domains': 's3.test' } });
    s3 = s3Client(c.endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new CreateBucketCommand({ Bucket: 'other' }));
  });
  after(async () => {
    s3?.destroy();
    await c?.close();
  });

  it('stores and returns Content-Encoding, -Disposition, -Language, Cache-Control and Expires; response-* overrides', async () => {
    const expires = new Date('2030-01-02T03:04:05Z');
    await s3.send(new PutObjectCommand({
      Bucket: bucket, Key: 'hdr.txt', Body: 'x', ContentType: 'text/plain', ContentEncoding: 'identity', ContentDisposition: 'attachment; filename="x.txt"',
      ContentLanguage: 'fr', CacheControl: 'max-age=60', Expires: expires,
    }));
    for (const w of c.workers) {
      const h = await s3Client(w.endpoint).send(new HeadObjectCommand({ Bucket: bucket, Key: 'hdr.txt' }));
      assert.equal(h.ContentEncoding, 'identity');
      assert.equal(h.ContentDisposition, 'attachment; filename="x.txt"');
      assert.equal(h.ContentLanguage, 'fr');
      assert.equal(h.CacheControl, 'max-age=60');
      assert.equal(h.Expires?.getTime(), expires.getTime());
    }
    const g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'hdr.txt', ResponseContentType: 'application/json', ResponseCacheControl: 'no-store' }));
    assert.equal(g.ContentType, 'application/json');
    assert.equal(g.CacheControl, 'no-store');
  });

  it('CopyObject: COPY keeps metadata and tags, REPLACE sets new ones, tagging directive, URL-encoded source', async () => {
    const src = 'copy/src with space+plus.txt';
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: src, Body: 'copy me', ContentType: 'text/x-src', Metadata: { a: '1' }, Tagging: 'k=v' }));
    const copied = await s3.send(new CopyObjectCommand({ Bucket: 'other', Key: 'dst1', CopySource: `${bucket}/${encodeURIComponent(src)}` }));
    assert.equal(copied.CopyObjectResult?.ETag, `"${md5hex('copy me')}"`);
    const h1 = await s3.send(new HeadObjectCommand({ Bucket: 'other', Key: 'dst1' }));
    assert.deepEqual([h1.ContentType, h1.Metadata], ['text/x-src', { a: '1' }]);
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: 'other', Key: 'dst1' }))).TagSet, [{ Key: 'k', Value: 'v' }]);
    await s3.send(new CopyObjectCommand({
      Bucket: bucket, Key: 'copy/dst2', CopySource: `/${bucket}/${encodeURIComponent(src)}`, MetadataDirective: 'REPLACE',
      ContentType: 'text/x-new', Metadata: { b: '2' }, TaggingDirective: 'REPLACE', Tagging: 'n=m',
    }));
    const h2 = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copy/dst2' }));
    assert.deepEqual([h2.ContentType, h2.Metadata], ['text/x-new', { b: '2' }]);
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'copy/dst2' }))).TagSet, [{ Key: 'n', Value: 'm' }]);
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'copy/dst2' }))).Body!.transformToString(), 'copy me');
  });

  it('CopyObject onto itself: REPLACE updates metadata in place; COPY is refused', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'self.txt', Body: 'same bytes', Metadata: { v: 'old' } }));
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'self.txt', CopySource: `${bucket}/self.txt`, MetadataDirective: 'REPLACE', Metadata: { v: 'new' } }));
    for (const w of c.workers) {
      const h = await s3Client(w.endpoint).send(new HeadObjectCommand({ Bucket: bucket, Key: 'self.txt' }));
      assert.equal(h.Metadata?.v, 'new');
      assert.equal(h.ETag, `"${md5hex('same bytes')}"`);
    }
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'self.txt', CopySource: `${bucket}/self.txt` })), 'InvalidRequest', 400);
  });

  it('CopyObject honours x-amz-copy-source-if-* conditions', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond-src', Body: 'abc' }));
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'cond-dst', CopySource: `${bucket}/cond-src`, CopySourceIfMatch: '"0000"' })), 'PreconditionFailed', 412);
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'cond-dst', CopySource: `${bucket}/cond-src`, CopySourceIfNoneMatch: `"${md5hex('abc')}"` })), 'PreconditionFailed', 412);
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'cond-dst', CopySource: `${bucket}/cond-src`, CopySourceIfMatch: `"${md5hex('abc')}"` }));
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'x', CopySource: `${bucket}/no-such-source` })), 'NoSuchKey', 404);
  });

  it('object tagging: put/get/delete, x-amz-tagging on PUT, x-amz-tagging-count on GET, S3 restrictions', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tagged', Body: 't', Tagging: 'a=1&b=two%20words' }));
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'tagged' }))).TagSet, [{ Key: 'a', Value: '1' }, { Key: 'b', Value: 'two words' }]);
    assert.equal((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'tagged' }))).TagCount, 2);
    await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'tagged', Tagging: { TagSet: [{ Key: 'only', Value: 'one' }] } }));
    assert.deepEqual((await s3Client(c.workers[2].endpoint).send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'tagged' }))).TagSet, [{ Key: 'only', Value: 'one' }]);
    await s3.send(new DeleteObjectTaggingCommand({ Bucket: bucket, Key: 'tagged' }));
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'tagged' }))).TagSet ?? [], []);
    const eleven = Array.from({ length: 11 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    await expectS3Error(s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'tagged', Tagging: { TagSet: eleven } })), 'BadRequest', 400);
    await expectS3Error(s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'tagged', Tagging: { TagSet: [{ Key: 'k'.repeat(129), Value: 'v' }] } })), 'InvalidTag', 400);
    await expectS3Error(s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'tagged', Tagging: { TagSet: [{ Key: 'd', Value: '1' }, { Key: 'd', Value: '2' }] } })), 'InvalidTag', 400);
    await expectS3Error(s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'no-such' })), 'NoSuchKey', 404);
  });

  it('bucket tagging: put/get/delete and NoSuchTagSet; kept by the coordinator across its restart', async () => {
    await expectS3Error(s3.send(new GetBucketTaggingCommand({ Bucket: bucket })), 'NoSuchTagSet', 404);
    await s3.send(new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: [{ Key: 'team', Value: 'ml' }] } }));
    await c.restartCoordinator();
    for (const w of c.workers) {
      assert.deepEqual((await s3Client(w.endpoint).send(new GetBucketTaggingCommand({ Bucket: bucket }))).TagSet, [{ Key: 'team', Value: 'ml' }]);
    }
    await s3.send(new DeleteBucketTaggingCommand({ Bucket: bucket }));
    await expectS3Error(s3.send(new GetBucketTaggingCommand({ Bucket: bucket })), 'NoSuchTagSet', 404);
  });

  it('tags and user metadata survive a worker restart', async () => {
    const key = 'persist/tags';
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'p', Metadata: { keep: 'me' }, Tagging: 'x=y' }));
    await c.restartWorker(c.owner(bucket, key));
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(h.Metadata?.keep, 'me');
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }))).TagSet, [{ Key: 'x', Value: 'y' }]);
  });

  it('conditional GET/HEAD: 304 and 412', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond.txt', Body: 'c' }));
    const etag = `"${md5hex('c')}"`;
    const r304 = await fetch(`${c.endpoint}/${bucket}/cond.txt`, { headers: { 'If-None-Match': etag } });
    assert.equal(r304.status, 304);
    const r412 = await fetch(`${c.endpoint}/${bucket}/cond.txt`, { headers: { 'If-Match': '"nope"' } });
    assert.equal(r412.status, 412);
    assert.match(await r412.text(), /<Code>PreconditionFailed<\/Code>/);
    assert.equal((await fetch(`${c.endpoint}/${bucket}/cond.txt`, { headers: { 'If-Modified-Since': new Date(Date.now() + 3600_000).toUTCString() } })).status, 304);
    assert.equal((await fetch(`${c.endpoint}/${bucket}/cond.txt`, { method: 'HEAD', headers: { 'If-Unmodified-Since': 'Mon, 01 Jan 2001 00:00:00 GMT' } })).status, 412);
    assert.equal((await fetch(`${c.endpoint}/${bucket}/cond.txt`, { headers: { 'If-Match': etag, Range: 'bytes=0-0' } })).status, 206);
  });

  it('conditional writes: If-None-Match: * creates once, If-Match replaces only that version', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cw', Body: 'v1', IfNoneMatch: '*' }));
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cw', Body: 'v2', IfNoneMatch: '*' })), 'PreconditionFailed', 412);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cw', Body: 'v2', IfMatch: '"0123"' })), 'PreconditionFailed', 412);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cw', Body: 'v2', IfMatch: `"${md5hex('v1')}"` }));
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cw' }))).Body!.transformToString(), 'v2');
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cw-absent', Body: 'x', IfMatch: '"abc"' })), 'NoSuchKey', 404);
  });

  it('If-None-Match: * is atomic under concurrent writers through every worker: exactly one wins', async () => {
    const key = 'race/once';
    const attempts = Array.from({ length: 12 }, (_, i) => fetch(`${c.workers[i % 3].endpoint}/${bucket}/${key}`, { method: 'PUT', body: `writer ${i}`, headers: { 'If-None-Match': '*' } }));
    const statuses = (await Promise.all(attempts)).map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 1, `statuses: ${statuses.join(',')}`);
    assert.equal(statuses.filter((s) => s === 412).length, 11);
    assert.match(await (await fetch(`${c.endpoint}/${bucket}/${key}`)).text(), /^writer \d+$/);
  });

  it('additional checksums: validated, stored, returned with checksum mode, never on a 206', async () => {
    const body = Buffer.from('checksummed body');
    const crc = await checksumOf('CRC32C', body);
    const ok = await fetch(`${c.endpoint}/${bucket}/ck`, { method: 'PUT', body, headers: { 'x-amz-checksum-crc32c': crc } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('x-amz-checksum-crc32c'), crc);
    const bad = await fetch(`${c.endpoint}/${bucket}/ck-bad`, { method: 'PUT', body, headers: { 'x-amz-checksum-crc32c': await checksumOf('CRC32C', Buffer.from('other')) } });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /<Code>BadDigest<\/Code>/);
    assert.equal((await fetch(`${c.endpoint}/${bucket}/ck-bad`, { method: 'HEAD' })).status, 404, 'nothing stored');
    const full = await fetch(`${c.endpoint}/${bucket}/ck`, { headers: { 'x-amz-checksum-mode': 'ENABLED' } });
    assert.equal(full.headers.get('x-amz-checksum-crc32c'), crc);
    const partial = await fetch(`${c.endpoint}/${bucket}/ck`, { headers: { 'x-amz-checksum-mode': 'ENABLED', Range: 'bytes=0-3' } });
    assert.equal(partial.status, 206);
    assert.equal(partial.headers.get('x-amz-checksum-crc32c'), null);
    const sha = await fetch(`${c.endpoint}/${bucket}/sha`, { method: 'PUT', body, headers: { 'x-amz-content-sha256': createHash('sha256').update('different').digest('hex') } });
    assert.equal(sha.status, 400);
    assert.match(await sha.text(), /<Code>XAmzContentSHA256Mismatch<\/Code>/);
  });

  it('the JS SDK default (aws-chunked stream with a CRC32 trailer) stores exactly the bytes and the checksum; GET validates', async () => {
    const data = randomBytes(2 * MiB + 11);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sdk-trailer.bin', Body: Readable.from([data]), ContentLength: data.length }));
    const onDisk = await fs.readFile(path.join(c.ufsRoot, bucket, 'sdk-trailer.bin'));
    assert.ok(onDisk.equals(data), 'no framing bytes, right size');
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'sdk-trailer.bin', ChecksumMode: 'ENABLED' }));
    assert.equal(h.ChecksumCRC32, await checksumOf('CRC32', data));
    const g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'sdk-trailer.bin', ChecksumMode: 'ENABLED' }));
    assert.ok(Buffer.from(await g.Body!.transformToByteArray()).equals(data));
  });

  it('a wrong trailer checksum is refused and nothing is stored', async () => {
    const payload = 'hello trailer';
    const wrong = await checksumOf('CRC32', Buffer.from('not the payload'));
    const body = `${payload.length.toString(16)}\r\n${payload}\r\n0\r\nx-amz-checksum-crc32:${wrong}\r\n\r\n`;
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${c.endpoint}/${bucket}/bad-trailer`, { method: 'PUT', headers: {
        'Content-Encoding': 'aws-chunked', 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'x-amz-trailer': 'x-amz-checksum-crc32',
        'x-amz-decoded-content-length': String(payload.length), 'Content-Length': String(body.length),
      } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(status, 400);
    assert.equal((await fetch(`${c.endpoint}/${bucket}/bad-trailer`, { method: 'HEAD' })).status, 404);
  });

  it('the signed aws-chunked form (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) stores exactly the decoded bytes', async () => {
    const chunks = [randomBytes(65536), randomBytes(1000)];
    const sig = 'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648';
    const body = Buffer.concat([
      ...chunks.flatMap((c) => [Buffer.from(`${c.length.toString(16)};chunk-signature=${sig}\r\n`), c, Buffer.from('\r\n')]),
      Buffer.from(`0;chunk-signature=${sig}\r\n\r\n`),
    ]);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${c.endpoint}/${bucket}/signed-chunks.bin`, { method: 'PUT', headers: {
        'Content-Encoding': 'aws-chunked', 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        'x-amz-decoded-content-length': String(66536), 'Content-Length': String(body.length),
      } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(status, 200);
    assert.ok((await fs.readFile(path.join(c.ufsRoot, bucket, 'signed-chunks.bin'))).equals(Buffer.concat(chunks)));
  });

  it('Expect: 100-continue: the body is asked for only when it will be stored; a refusal comes first', async () => {
    const send = (p: string, endpoint = c.endpoint) => new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
      let continued = false;
      const req = http.request(`${endpoint}${p}`, { method: 'PUT', headers: { Expect: '100-continue', 'Content-Length': 4 } });
      req.on('continue', () => { continued = true; req.end('body'); });
      req.on('response', (res) => { res.resume(); res.on('end', () => resolve({ status: res.statusCode ?? 0, continued })); });
      req.on('error', reject);
    });
    assert.deepEqual(await send(`/${bucket}/expect.txt`), { status: 200, continued: true });
    assert.deepEqual(await send('/no-such-bucket-here/expect.txt'), { status: 404, continued: false });
    // Through a worker that proxies to the owner: the owner's 100 is relayed, or its refusal.
    const via = c.nonOwner(bucket, 'expect2.txt').endpoint;
    assert.deepEqual(await send(`/${bucket}/expect2.txt`, via), { status: 200, continued: true });
    const refusedVia = c.nonOwner('no-such-bucket-here', 'k').endpoint;
    assert.deepEqual(await send('/no-such-bucket-here/k', refusedVia), { status: 404, continued: false });
  });

  it('multipart with CRC32 part checksums completes with the COMPOSITE value; UploadPartCopy; idempotent Complete', async () => {
    const key = 'mp/checksummed';
    const p1 = randomBytes(5 * MiB);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'mp/source', Body: randomBytes(3 * MiB) }));
    const create = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: 'CRC32' }));
    const u1 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: create.UploadId, PartNumber: 1, Body: p1, ChecksumAlgorithm: 'CRC32' }));
    const u2 = await s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: key, UploadId: create.UploadId, PartNumber: 2, CopySource: `${bucket}/mp/source`, CopySourceRange: 'bytes=100-1099' }));
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'mp/' }));
    assert.deepEqual(listed.Uploads?.map((u) => [u.Key, u.UploadId]), [[key, create.UploadId]]);
    const parts = [{ PartNumber: 1, ETag: u1.ETag, ChecksumCRC32: u1.ChecksumCRC32 }, { PartNumber: 2, ETag: u2.CopyPartResult?.ETag }];
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: create.UploadId, MultipartUpload: { Parts: parts } }));
    const again = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: create.UploadId, MultipartUpload: { Parts: parts } }));
    assert.equal(again.ETag, done.ETag, 'a retried Complete answers the same result');
    assert.match(done.ETag!, /^"[0-9a-f]{32}-2"$/);
    const source = (await fs.readFile(path.join(c.ufsRoot, bucket, 'mp', 'source'))).subarray(100, 1100);
    const stored = await fs.readFile(path.join(c.ufsRoot, bucket, 'mp', 'checksummed'));
    assert.ok(stored.equals(Buffer.concat([p1, source])));
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
    assert.match(h.ChecksumCRC32 ?? '', /-2$/, 'a COMPOSITE checksum ends in -N');
    assert.equal((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'mp/' }))).Uploads, undefined);
  });

  it('multipart with a FULL_OBJECT CRC64NVME checksum stores the checksum of the whole object', async () => {
    const key = 'mp/full-object';
    const parts = [randomBytes(5 * MiB), randomBytes(777)];
    const whole = await checksumOf('CRC64NVME', Buffer.concat(parts));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: 'CRC64NVME', ChecksumType: 'FULL_OBJECT' }));
    const etags = [];
    for (const [i, p] of parts.entries()) {
      const r = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: p, ChecksumAlgorithm: 'CRC64NVME' }));
      etags.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC64NVME: r.ChecksumCRC64NVME });
    }
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, ChecksumCRC64NVME: whole, ChecksumType: 'FULL_OBJECT', MultipartUpload: { Parts: etags } }));
    assert.equal(done.ChecksumCRC64NVME, whole);
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
    assert.equal(h.ChecksumCRC64NVME, whole);
    assert.equal(h.ChecksumType, 'FULL_OBJECT');
  });

  it('ListMultipartUploads gathers uploads held by every worker, with prefix and delimiter', async () => {
    const keys = Array.from({ length: 9 }, (_, i) => `lmu/${i % 2 ? 'odd' : 'even'}/k${i}`);
    const ids = await Promise.all(keys.map(async (Key) => (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }))).UploadId!));
    const holders = new Set(ids.map((id) => id.split('.')[0]));
    assert.ok(holders.size >= 2, 'uploads are spread over several workers');
    for (const w of c.workers) {
      const all = await s3Client(w.endpoint).send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'lmu/' }));
      assert.deepEqual(all.Uploads?.map((u) => u.Key), [...keys].sort());
    }
    const rolled = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'lmu/', Delimiter: '/' }));
    assert.deepEqual(rolled.CommonPrefixes?.map((p) => p.Prefix), ['lmu/even/', 'lmu/odd/']);
    const page = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'lmu/', MaxUploads: 4 }));
    assert.equal(page.IsTruncated, true);
    const rest = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'lmu/', KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker }));
    assert.deepEqual([...(page.Uploads ?? []), ...(rest.Uploads ?? [])].map((u) => u.Key), [...keys].sort());
    await Promise.all(keys.map((Key, i) => s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId: ids[i] }))));
  });

  it('conditional Complete: If-None-Match: * refuses to replace an existing object', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'mp/exists', Body: 'already' }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp/exists' }));
    const p = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp/exists', UploadId, PartNumber: 1, Body: 'new' }));
    await expectS3Error(s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mp/exists', UploadId, IfNoneMatch: '*', MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag }] } })), 'PreconditionFailed', 412);
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp/exists' }))).Body!.transformToString(), 'already');
  });

  it('virtual-hosted style: Host <bucket>.<configured domain>', async () => {
    const put = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: c.workers[1].s3Port, method: 'PUT', path: '/vh/key.txt', headers: { Host: `${bucket}.s3.test:${c.workers[1].s3Port}`, 'Content-Length': 5 } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      req.end('vhost');
    });
    assert.equal(put, 200);
    assert.equal(await (await fetch(`${c.endpoint}/${bucket}/vh/key.txt`)).text(), 'vhost', 'the same object, path-style');
  });

  it('sub-directory buckets with the ":" separator (seed 003)', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'nested/deeper/file.txt', Body: 'deep' }));
    const r = await fetch(`${c.endpoint}/${bucket}:nested:deeper/file.txt`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'deep');
    const list = await s3Client(c.workers[2].endpoint).send(new ListObjectsV2Command({ Bucket: `${bucket}:nested` }));
    assert.ok(list.Contents?.some((o) => o.Key === 'deeper/file.txt'));
    const buckets = await (await fetch(`${c.endpoint}/`)).text();
    assert.ok(!/<Name>[^<]*:/.test(buckets), 'sub-directory buckets are not listed as buckets');
  });

  it('keys that would escape the root are refused and touch nothing outside it', async () => {
    // Raw requests: fetch would resolve the dot segments before sending.
    const rawPut = (p: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: c.workers[0].s3Port, method: 'PUT', path: p, headers: { 'Content-Length': 4 } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => { body += d.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end('evil');
    });
    for (const bad of ['a/../../../escape.txt', '..%2F..%2Fescape.txt', 'x//y', '%2E%2E/z', '..']) {
      const r = await rawPut(`/${bucket}/${bad}`);
      assert.equal(r.status, 400, bad);
      assert.match(r.body, /<Code>InvalidArgument<\/Code>/);
    }
    assert.equal(existsSync(path.join(c.ufsRoot, 'escape.txt')), false);
    assert.equal(existsSync(path.join(path.dirname(c.ufsRoot), 'escape.txt')), false);
    const unicode = 'ключ/日本語/emoji 😀 & <xml>.txt';
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: unicode, Body: 'u' }));
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: unicode }))).Body!.transformToString(), 'u');
  });

  it('a zero-byte PUT of dir/ creates a folder; a folder cannot hold data', async () => {
    assert.equal((await fetch(`${c.endpoint}/${bucket}/folder/`, { method: 'PUT' })).status, 200);
    const st = await fs.stat(path.join(c.ufsRoot, bucket, 'folder'));
    assert.ok(st.isDirectory());
    const r = await fetch(`${c.endpoint}/${bucket}/folder2/`, { method: 'PUT', body: 'data' });
    assert.equal(r.status, 400);
  });

  it('SIMPLE auth: x-amz-security-token is accepted, the credential names the owner', async () => {
    const r = await fetch(`${c.endpoint}/`, { headers: { 'x-amz-security-token': 'opaque', Authorization: 'AWS4-HMAC-SHA256 Credential=bob/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00' } });
    assert.equal(r.status, 200);
    assert.match(await r.text(), /<Owner><ID>bob<\/ID>/);
  });

  it('PUT ?acl accepts private and refuses public grants; GET ?acl shows the owner', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'acl.txt', Body: 'a' }));
    assert.equal((await fetch(`${c.endpoint}/${bucket}/acl.txt?acl`, { method: 'PUT', headers: { 'x-amz-acl': 'private' } })).status, 200);
    const pub = await fetch(`${c.endpoint}/${bucket}/acl.txt?acl`, { method: 'PUT', headers: { 'x-amz-acl': 'public-read' } });
    assert.equal(pub.status, 501);
    assert.match(await (await fetch(`${c.endpoint}/${bucket}/acl.txt?acl`)).text(), /<Permission>FULL_CONTROL<\/Permission>/);
  });
});

describe('multipart cleaner and Complete keepalive', () => {
  let c: TestCluster;
  let s3: S3Client;
  before(async () => {
    c = await startCluster({ workers: 1, conf: {
      'alluxio.proxy.s3.multipart.upload.cleaner.timeout': '2sec',
      'alluxio.proxy.s3.complete.multipart.upload.keepalive.enabled': 'true',
      'alluxio.worker.s3.tagging.restrictions.enabled': 'false',
    } });
    s3 = s3Client(c.endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: 'clean' }));
  });
  after(async () => {
    s3?.destroy();
    await c?.close();
  });

  it('an abandoned upload is aborted by the cleaner', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'clean', Key: 'abandoned' }));
    await s3.send(new UploadPartCommand({ Bucket: 'clean', Key: 'abandoned', UploadId, PartNumber: 1, Body: 'x' }));
    const deadline = Date.now() + 15_000;
    while ((await s3.send(new ListMultipartUploadsCommand({ Bucket: 'clean' }))).Uploads && Date.now() < deadline) await new Promise((r) => setTimeout(r, 300));
    assert.equal((await s3.send(new ListMultipartUploadsCommand({ Bucket: 'clean' }))).Uploads, undefined);
  });

  it('with keepalive on, Complete still answers a result the SDK reads, and errors as an <Error> body', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'clean', Key: 'kept' }));
    const p = await s3.send(new UploadPartCommand({ Bucket: 'clean', Key: 'kept', UploadId, PartNumber: 1, Body: 'payload' }));
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'clean', Key: 'kept', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag }] } }));
    assert.match(done.ETag!, /-1"$/);
    const { UploadId: u2 } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'clean', Key: 'kept2' }));
    await assert.rejects(s3.send(new CompleteMultipartUploadCommand({ Bucket: 'clean', Key: 'kept2', UploadId: u2, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }] } })));
  });

  it('tagging restrictions can be switched off', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'clean', Key: 'many-tags', Body: 'x' }));
    const twelve = Array.from({ length: 12 }, (_, i) => ({ Key: `k${i}`, Value: 'v'.repeat(300) }));
    await s3.send(new PutObjectTaggingCommand({ Bucket: 'clean', Key: 'many-tags', Tagging: { TagSet: twelve } }));
    assert.equal((await s3.send(new GetObjectTaggingCommand({ Bucket: 'clean', Key: 'many-tags' }))).TagSet?.length, 12);
  });
});
