/**
 * The compat scenario with the JS SDK v3 (@aws-sdk/client-s3, DEFAULT checksum settings, i.e.
 * WHEN_SUPPORTED) and @aws-sdk/lib-storage `Upload` for the 100 MiB object (5 MiB parts, 4 at a
 * time), against one 3-worker cluster, once through the keys' owner and once through a non-owner.
 * Extra steps: a stream-body PutObject (aws-chunked, STREAMING-UNSIGNED-PAYLOAD-TRAILER) checked
 * byte for byte in the UFS, ListMultipartUploads, a conditional write, and virtual-hosted style.
 * See scenario.ts for the shared steps.
 */
import { describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteBucketCommand,
  DeleteObjectsCommand, GetObjectCommand, GetObjectTaggingCommand, HeadBucketCommand, HeadObjectCommand,
  ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, PutObjectTaggingCommand, S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { REPO_ROOT } from '../helpers/cluster.js';
import {
  BIG_SIZE, DEFAULT_KEYS, MiB, MODES, SMALL, STEP, delimited, md5File, multipartEtag, quotedMd5, readSlice, sdkError,
  useHarness, withoutFolderObjects, writeRandomFile, type Plan,
} from './scenario.js';

const SDK_VERSION = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', '@aws-sdk', 'client-s3', 'package.json'), 'utf8')) as { version: string }).version;
const STORAGE_VERSION = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', '@aws-sdk', 'lib-storage', 'package.json'), 'utf8')) as { version: string }).version;
const PART = 5 * MiB; // lib-storage's default part size
const CHUNKED_SIZE = 3 * MiB + 12_345;

/** The client under test: default settings (checksums WHEN_SUPPORTED, retries), bounded timeouts. */
function client(endpoint: string, extra: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 120_000 }),
    ...extra,
  });
}

async function bodyBytes(res: { Body?: unknown }): Promise<Buffer> {
  return Buffer.from(await (res.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

async function bodyMd5(res: { Body?: unknown }): Promise<{ md5: string; size: number }> {
  const h = createHash('md5');
  let size = 0;
  for await (const chunk of res.Body as Readable) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { md5: h.digest('hex'), size };
}

async function listAll(s3: S3Client, bucket: string, delimiter?: string): Promise<{ keys: string[]; prefixes: string[]; sizes: Map<string, number> }> {
  const keys: string[] = [];
  const prefixes: string[] = [];
  const sizes = new Map<string, number>();
  let token: string | undefined;
  for (let page = 0; page < 100; page++) {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: delimiter, ContinuationToken: token }));
    for (const o of res.Contents ?? []) { keys.push(o.Key!); sizes.set(o.Key!, o.Size!); }
    for (const p of res.CommonPrefixes ?? []) prefixes.push(p.Prefix!);
    token = res.NextContinuationToken;
    if (!res.IsTruncated) break;
    assert.ok(token, 'IsTruncated=true without NextContinuationToken');
  }
  return { keys, prefixes, sizes };
}

describe('JS SDK v3 scenario', () => {
  const h = useHarness('js-sdk', { conf: { 'alluxio.worker.s3.virtual.host.domains': 'localhost' } });

  h.step('', STEP.installed, async () => {
    h.version = `@aws-sdk/client-s3 ${SDK_VERSION}, @aws-sdk/lib-storage ${STORAGE_VERSION}, node ${process.version}`;
    assert.ok(SDK_VERSION && STORAGE_VERSION, 'the JS SDK v3 packages are not installed (npm ci)');
  });

  for (const mode of MODES) {
    describe(`${mode} endpoint`, () => {
      let p: Plan;
      let s3: S3Client;
      let bigEtag = '';
      const allKeys = () => [p.keys.small, p.keys.big, p.keys.copy, p.keys.chunked, p.keys.chunkedEnc];
      before(async () => {
        p = h.plan(mode, { ...DEFAULT_KEYS, chunked: (i) => `chunked-${i}.bin`, chunkedEnc: (i) => `chunked-enc-${i}.bin`, mpu: (i) => `mpu/pending-${i}.bin`, cond: (i) => `cond-${i}.txt` });
        s3 = client(p.endpoint);
        console.log(p.describe());
      });

      h.step(mode, STEP.mb, async () => {
        const res = await s3.send(new CreateBucketCommand({ Bucket: p.bucket }));
        assert.equal(res.$metadata.httpStatusCode, 200);
        const head = await s3.send(new HeadBucketCommand({ Bucket: p.bucket }));
        assert.equal(head.$metadata.httpStatusCode, 200);
      });

      h.step(mode, STEP.putSmall, async () => {
        const res = await s3.send(new PutObjectCommand({
          Bucket: p.bucket, Key: p.keys.small, Body: SMALL.body, ContentType: SMALL.contentType, Metadata: SMALL.metadata,
          CacheControl: SMALL.cacheControl, ContentDisposition: SMALL.contentDisposition, ContentEncoding: SMALL.contentEncoding,
          ContentLanguage: SMALL.contentLanguage, Expires: new Date(SMALL.expires),
        }));
        assert.equal(res.ETag, quotedMd5(SMALL.body), 'PutObject ETag = quoted MD5');
      });

      h.step(mode, STEP.putBig, async () => {
        const up = new Upload({ client: s3, params: { Bucket: p.bucket, Key: p.keys.big, Body: createReadStream(h.bigFile) } });
        const res = await up.done();
        bigEtag = await multipartEtag(h.bigFile, PART);
        assert.equal(res.ETag, bigEtag, `CompleteMultipartUpload ETag (${BIG_SIZE / PART} parts of 5 MiB)`);
        const head = await s3.send(new HeadObjectCommand({ Bucket: p.bucket, Key: p.keys.big }));
        assert.equal(head.ContentLength, BIG_SIZE);
        assert.equal(head.ETag, bigEtag);
      });

      h.step(mode, STEP.listRecursive, async () => {
        const { keys, sizes } = await listAll(s3, p.bucket);
        const put = [p.keys.small, p.keys.big];
        assert.deepEqual(withoutFolderObjects(keys, put).sort(), [...put].sort(), `ListObjectsV2 (recursive): ${JSON.stringify(keys)}`);
        assert.equal(sizes.get(p.keys.big), BIG_SIZE);
        assert.equal(sizes.get(p.keys.small), SMALL.body.length);
      });

      h.step(mode, STEP.listDelimiter, async () => {
        const { keys, prefixes } = await listAll(s3, p.bucket, '/');
        const want = delimited([p.keys.small, p.keys.big]);
        assert.deepEqual({ contents: keys.sort(), prefixes: prefixes.sort() }, want, 'ListObjectsV2 Delimiter=/');
      });

      h.step(mode, STEP.headSmall, async () => {
        const head = await s3.send(new HeadObjectCommand({ Bucket: p.bucket, Key: p.keys.small }));
        assert.deepEqual(
          { ContentType: head.ContentType, Metadata: head.Metadata, ContentLength: head.ContentLength, ETag: head.ETag },
          { ContentType: SMALL.contentType, Metadata: SMALL.metadata, ContentLength: SMALL.body.length, ETag: quotedMd5(SMALL.body) });
      });

      h.step(mode, STEP.storedHeaders, async () => {
        const want = { CacheControl: SMALL.cacheControl, ContentDisposition: SMALL.contentDisposition, ContentEncoding: SMALL.contentEncoding, ContentLanguage: SMALL.contentLanguage, Expires: SMALL.expires };
        const head = await s3.send(new HeadObjectCommand({ Bucket: p.bucket, Key: p.keys.small }));
        const got = (r: typeof head) => ({ CacheControl: r.CacheControl, ContentDisposition: r.ContentDisposition, ContentEncoding: r.ContentEncoding, ContentLanguage: r.ContentLanguage, Expires: r.ExpiresString ?? r.Expires?.toUTCString() });
        assert.deepEqual(got(head), want, 'HeadObject');
        const get = await s3.send(new GetObjectCommand({ Bucket: p.bucket, Key: p.keys.small }));
        await bodyBytes(get);
        assert.deepEqual(got(get), want, 'GetObject');
      });

      h.step(mode, STEP.getSmall, async () => {
        const get = await s3.send(new GetObjectCommand({ Bucket: p.bucket, Key: p.keys.small }));
        assert.ok((await bodyBytes(get)).equals(SMALL.body), 'GetObject bytes');
        assert.equal(get.ContentType, SMALL.contentType);
        assert.deepEqual(get.Metadata, SMALL.metadata);
      });

      h.step(mode, STEP.getBig, async () => {
        const get = await s3.send(new GetObjectCommand({ Bucket: p.bucket, Key: p.keys.big }));
        const got = await bodyMd5(get);
        assert.deepEqual(got, { md5: h.bigMd5, size: BIG_SIZE }, 'GetObject of the 100 MiB object');
        assert.equal(get.ETag, bigEtag || await multipartEtag(h.bigFile, PART), 'GetObject ETag (multipart form)');
      });

      h.step(mode, STEP.range, async () => {
        const small = await s3.send(new GetObjectCommand({ Bucket: p.bucket, Key: p.keys.small, Range: 'bytes=6-9' }));
        assert.equal(small.ContentRange, `bytes 6-9/${SMALL.body.length}`);
        assert.equal((await bodyBytes(small)).toString(), SMALL.body.subarray(6, 10).toString());
        const start = 50 * MiB + 7;
        const len = MiB + 3;
        const big = await s3.send(new GetObjectCommand({ Bucket: p.bucket, Key: p.keys.big, Range: `bytes=${start}-${start + len - 1}` }));
        assert.equal(big.$metadata.httpStatusCode, 206);
        assert.equal(big.ContentRange, `bytes ${start}-${start + len - 1}/${BIG_SIZE}`);
        assert.ok((await bodyBytes(big)).equals(await readSlice(h.bigFile, start, len)), 'ranged bytes of the big object');
        const tail = await s3.send(new GetObjectCommand({ Bucket: p.bucket, Key: p.keys.big, Range: 'bytes=-1000' }));
        assert.ok((await bodyBytes(tail)).equals(await readSlice(h.bigFile, BIG_SIZE - 1000, 1000)), 'suffix range bytes=-1000');
      });

      h.step(mode, STEP.copy, async () => {
        const res = await s3.send(new CopyObjectCommand({ Bucket: p.bucket, Key: p.keys.copy, CopySource: `${p.bucket}/${p.keys.small}` }));
        assert.equal(res.CopyObjectResult?.ETag, quotedMd5(SMALL.body), 'CopyObjectResult ETag');
        const get = await s3.send(new GetObjectCommand({ Bucket: p.bucket, Key: p.keys.copy }));
        assert.ok((await bodyBytes(get)).equals(SMALL.body), 'bytes of the copy');
        assert.deepEqual({ ContentType: get.ContentType, Metadata: get.Metadata }, { ContentType: SMALL.contentType, Metadata: SMALL.metadata }, 'a COPY-directive copy keeps the content type and metadata');
      });

      h.step(mode, STEP.tagging, async () => {
        const TagSet = Object.entries(SMALL.tags).map(([Key, Value]) => ({ Key, Value }));
        await s3.send(new PutObjectTaggingCommand({ Bucket: p.bucket, Key: p.keys.small, Tagging: { TagSet } }));
        const got = await s3.send(new GetObjectTaggingCommand({ Bucket: p.bucket, Key: p.keys.small }));
        const sort = (t: { Key?: string; Value?: string }[]) => t.map((x) => ({ Key: x.Key, Value: x.Value })).sort((a, b) => a.Key!.localeCompare(b.Key!));
        assert.deepEqual(sort(got.TagSet ?? []), sort(TagSet));
        const head = await s3.send(new HeadObjectCommand({ Bucket: p.bucket, Key: p.keys.small }));
        assert.equal(head.$metadata.httpStatusCode, 200);
      });

      h.step(mode, STEP.metadata, async () => {
        await s3.send(new CopyObjectCommand({
          Bucket: p.bucket, Key: p.keys.small, CopySource: `${p.bucket}/${p.keys.small}`, MetadataDirective: 'REPLACE',
          Metadata: SMALL.newMetadata, ContentType: SMALL.newContentType,
        }));
        const head = await s3.send(new HeadObjectCommand({ Bucket: p.bucket, Key: p.keys.small }));
        assert.deepEqual({ ContentType: head.ContentType, Metadata: head.Metadata, ETag: head.ETag },
          { ContentType: SMALL.newContentType, Metadata: SMALL.newMetadata, ETag: quotedMd5(SMALL.body) });
      });

      h.step(mode, 'aws-chunked stream PutObject (STREAMING-UNSIGNED-PAYLOAD-TRAILER) is stored byte-exact in the UFS', async () => {
        const src = h.file(`chunked-${mode}.bin`);
        const md5 = await writeRandomFile(src, CHUNKED_SIZE);
        const cmd = new PutObjectCommand({ Bucket: p.bucket, Key: p.keys.chunked, Body: createReadStream(src), ContentLength: CHUNKED_SIZE });
        let sent: Record<string, string> = {};
        cmd.middlewareStack.add((next) => async (args) => {
          sent = { ...(args.request as { headers: Record<string, string> }).headers };
          return next(args);
        }, { step: 'deserialize', name: 'captureSentHeaders' });
        const res = await s3.send(cmd);
        // The SDK must really have framed the body (S3-CLIENTS P2), or this step proves nothing.
        assert.equal(sent['x-amz-content-sha256'], 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', `sent headers: ${JSON.stringify(sent)}`);
        assert.match(sent['content-encoding'] ?? '', /aws-chunked/, `sent headers: ${JSON.stringify(sent)}`);
        assert.equal(sent['x-amz-decoded-content-length'], String(CHUNKED_SIZE));
        assert.equal(res.ETag, `"${md5}"`, 'PutObject ETag = MD5 of the decoded payload');
        assert.ok(res.ChecksumCRC32 === undefined || typeof res.ChecksumCRC32 === 'string');
        const onDisk = h.ufsPath(p.bucket, p.keys.chunked);
        const st = await fs.stat(onDisk).catch((e: Error) => assert.fail(`not in the UFS at ${onDisk}: ${e.message}`));
        assert.equal(st.size, CHUNKED_SIZE, 'UFS file size (a larger size means aws-chunked framing was stored)');
        assert.equal(await md5File(onDisk), md5, 'UFS file bytes');
        const head = await s3.send(new HeadObjectCommand({ Bucket: p.bucket, Key: p.keys.chunked }));
        assert.equal(head.ContentLength, CHUNKED_SIZE);
        assert.ok(!head.ContentEncoding?.includes('aws-chunked'), `stored Content-Encoding keeps aws-chunked: ${head.ContentEncoding}`);
      });

      h.step(mode, 'aws-chunked stream PutObject keeps the user Content-Encoding, without aws-chunked', async () => {
        const body = Buffer.from('gzip-labelled bytes (not really gzip)\n'.repeat(1000));
        const src = h.file(`chunked-enc-${mode}.bin`);
        await fs.writeFile(src, body);
        await s3.send(new PutObjectCommand({ Bucket: p.bucket, Key: p.keys.chunkedEnc, Body: createReadStream(src), ContentLength: body.length, ContentEncoding: 'identity' }));
        assert.ok((await fs.readFile(h.ufsPath(p.bucket, p.keys.chunkedEnc))).equals(body), 'UFS bytes');
        const head = await s3.send(new HeadObjectCommand({ Bucket: p.bucket, Key: p.keys.chunkedEnc }));
        assert.equal(head.ContentEncoding, 'identity', 'the stored Content-Encoding (the SDK sent "identity,aws-chunked")');
      });

      h.step(mode, 'ListMultipartUploads shows an upload in progress (prefix filter), then AbortMultipartUpload', async () => {
        const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: p.bucket, Key: p.keys.mpu }));
        try {
          const list = await s3.send(new ListMultipartUploadsCommand({ Bucket: p.bucket, Prefix: p.keys.mpu }));
          assert.deepEqual((list.Uploads ?? []).map((u) => ({ Key: u.Key, UploadId: u.UploadId })), [{ Key: p.keys.mpu, UploadId }]);
          const none = await s3.send(new ListMultipartUploadsCommand({ Bucket: p.bucket, Prefix: 'no-such-prefix/' }));
          assert.deepEqual(none.Uploads ?? [], [], 'the prefix filter');
        } finally {
          await s3.send(new AbortMultipartUploadCommand({ Bucket: p.bucket, Key: p.keys.mpu, UploadId }));
        }
      });

      h.step(mode, 'conditional write: PutObject If-None-Match: * refuses an existing key (412)', async () => {
        try {
          await s3.send(new PutObjectCommand({ Bucket: p.bucket, Key: p.keys.cond, Body: 'first', IfNoneMatch: '*' }));
          const err = await s3.send(new PutObjectCommand({ Bucket: p.bucket, Key: p.keys.cond, Body: 'second', IfNoneMatch: '*' })).then(() => undefined, (e: unknown) => e);
          assert.ok(err, 'the second PutObject with If-None-Match: * on an existing key succeeded (S3 answers 412 PreconditionFailed)');
          assert.match(sdkError(err), /^412 PreconditionFailed/, sdkError(err));
          const get = await s3.send(new GetObjectCommand({ Bucket: p.bucket, Key: p.keys.cond }));
          assert.equal((await bodyBytes(get)).toString(), 'first');
        } finally {
          await s3.send(new DeleteObjectsCommand({ Bucket: p.bucket, Delete: { Objects: [{ Key: p.keys.cond }] } })).catch(() => {});
        }
      });

      h.step(mode, 'virtual-hosted style (Host: <bucket>.localhost:<port>, alluxio.worker.s3.virtual.host.domains=localhost)', async () => {
        // A hostname endpoint makes the SDK use virtual-hosted style (S3-CLIENTS A2); every name
        // resolves to 127.0.0.1 here.
        const lookup = ((_host: string, opts: unknown, cb: (...a: unknown[]) => void) => {
          if ((opts as { all?: boolean }).all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
          else cb(null, '127.0.0.1', 4);
        }) as unknown as typeof import('node:dns').lookup;
        const vh = client(`http://localhost:${p.port}`, {
          requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 60_000, httpAgent: new http.Agent({ lookup }) }),
        });
        try {
          const key = 'vhost-check.txt';
          let host = '';
          vh.middlewareStack.add((next) => async (args) => {
            host = String((args.request as { hostname?: string }).hostname);
            return next(args);
          }, { step: 'finalizeRequest', name: 'captureHost' });
          await vh.send(new PutObjectCommand({ Bucket: p.bucket, Key: key, Body: 'vhost' }));
          assert.match(host, new RegExp(`^${p.bucket}\\.localhost`), `the SDK did not send a virtual-hosted request (Host ${host})`);
          const get = await vh.send(new GetObjectCommand({ Bucket: p.bucket, Key: key }));
          assert.equal((await bodyBytes(get)).toString(), 'vhost');
          const list = await vh.send(new ListObjectsV2Command({ Bucket: p.bucket, Prefix: 'vhost-' }));
          assert.deepEqual((list.Contents ?? []).map((o) => o.Key), [key]);
        } finally {
          vh.destroy();
          await s3.send(new DeleteObjectsCommand({ Bucket: p.bucket, Delete: { Objects: [{ Key: 'vhost-check.txt' }] } })).catch(() => {});
        }
      });

      h.step(mode, STEP.deleteMany, async () => {
        const keys = allKeys();
        const res = await s3.send(new DeleteObjectsCommand({ Bucket: p.bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
        assert.deepEqual(res.Errors ?? [], [], 'DeleteObjects Errors');
        assert.deepEqual((res.Deleted ?? []).map((d) => d.Key).sort(), [...keys].sort(), 'DeleteObjects Deleted');
        const left = await listAll(s3, p.bucket);
        assert.deepEqual(left.keys, [], 'keys left after DeleteObjects');
      });

      h.step(mode, STEP.rb, async () => {
        const res = await s3.send(new DeleteBucketCommand({ Bucket: p.bucket }));
        assert.equal(res.$metadata.httpStatusCode, 204);
        const err = await s3.send(new HeadBucketCommand({ Bucket: p.bucket })).then(() => undefined, (e: unknown) => e);
        assert.match(sdkError(err), /^404/, 'HeadBucket after DeleteBucket');
      });
    });
  }
});
