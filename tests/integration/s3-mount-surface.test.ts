/**
 * The S3 surface on an S3 mount (moto as the under storage): multipart parts pass through to
 * the store's own multipart upload (seed 000), tags and metadata live with the S3 object,
 * copies cross mounts, conditional writes hold.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand, CopyObjectCommand,
  PutObjectTaggingCommand, GetObjectTaggingCommand, CreateMultipartUploadCommand, UploadPartCommand,
  CompleteMultipartUploadCommand, ListMultipartUploadsCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { s3Client } from '../helpers/s3.js';

import { startCluster, runCli, type TestCluster } from '../helpers/cluster.js';
import { startMoto, createMotoBucket, type Moto } from '../helpers/moto.js';

/** moto and this cluster take the same keys here. */
const mountClient = (endpoint: string) => s3Client(endpoint, 'test');
const MiB = 1024 * 1024;


describe('S3 surface on an S3 mount', () => {
  let moto: Moto;
  let c: TestCluster;
  let s3: S3Client;
  let direct: S3Client;
  const mount = 's3m';
  const ufsBucket = 'under';

  before(async () => {
    moto = await startMoto();
    await createMotoBucket(moto.endpoint, ufsBucket);
    c = await startCluster();
    const add = await runCli(['mount', 'add', `/${mount}`, `s3://${ufsBucket}/root`,
      '--option', 'aws.accessKeyId=test', '--option', 'aws.secretKey=test',
      '--option', `alluxio.underfs.s3.endpoint=${moto.endpoint}`, '--option', 'alluxio.underfs.s3.disable.dns.buckets=true'], { conf: c.cliConf() });
    assert.equal(add.code, 0, add.stderr);
    s3 = mountClient(c.endpoint);
    direct = mountClient(moto.endpoint);
  });
  after(async () => {
    s3?.destroy();
    direct?.destroy();
    await c?.close();
    await moto?.close();
  });

  it('a multipart upload passes through to the store: no part is staged, the object lands whole', async () => {
    const key = 'mp/through.bin';
    const data = randomBytes(11 * MiB);
    const upload = new Upload({ client: mountClient(c.nonOwner(mount, key).endpoint), params: { Bucket: mount, Key: key, Body: data, ContentType: 'application/x-through' }, partSize: 5 * MiB, queueSize: 2 });
    const res = await upload.done();
    assert.match(res.ETag ?? '', /-3"$/);
    const stored = await direct.send(new GetObjectCommand({ Bucket: ufsBucket, Key: `root/${key}` }));
    assert.equal(stored.ContentType, 'application/x-through');
    const bytes = Buffer.from(await stored.Body!.transformToByteArray());
    assert.equal(createHash('md5').update(bytes).digest('hex'), createHash('md5').update(data).digest('hex'));
    const owner = c.owner(mount, key);
    const st = await c.stats(owner);
    assert.ok(st.ufs.writes >= 3, 'parts were written straight to the UFS');
  });

  it('an aborted pass-through upload leaves nothing in the store', async () => {
    const key = 'mp/aborted.bin';
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: mount, Key: key }));
    await s3.send(new UploadPartCommand({ Bucket: mount, Key: key, UploadId, PartNumber: 1, Body: randomBytes(1024) }));
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: mount }));
    assert.ok(listed.Uploads?.some((u) => u.UploadId === UploadId));
    const abort = await fetch(`${c.endpoint}/${mount}/${key}?uploadId=${encodeURIComponent(UploadId!)}`, { method: 'DELETE' });
    assert.equal(abort.status, 204);
    assert.equal((await direct.send(new ListMultipartUploadsCommand({ Bucket: ufsBucket }))).Uploads, undefined);
  });

  it('tags and metadata live with the S3 object and are served from every worker', async () => {
    await s3.send(new PutObjectCommand({ Bucket: mount, Key: 'tagged.txt', Body: 'x', Metadata: { m: '1' }, Tagging: 'a=b', ContentDisposition: 'inline' }));
    await s3.send(new PutObjectTaggingCommand({ Bucket: mount, Key: 'tagged.txt', Tagging: { TagSet: [{ Key: 'c', Value: 'd' }] } }));
    for (const w of c.workers) {
      const cl = mountClient(w.endpoint);
      assert.deepEqual((await cl.send(new GetObjectTaggingCommand({ Bucket: mount, Key: 'tagged.txt' }))).TagSet, [{ Key: 'c', Value: 'd' }]);
      const h = await cl.send(new HeadObjectCommand({ Bucket: mount, Key: 'tagged.txt' }));
      assert.deepEqual([h.Metadata, h.ContentDisposition], [{ m: '1' }, 'inline']);
    }
  });

  it('CopyObject across mounts: from the local root mount into the S3 mount and back', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'local' }));
    await s3.send(new PutObjectCommand({ Bucket: 'local', Key: 'src.txt', Body: 'cross-mount', ContentType: 'text/x-cross' }));
    await s3.send(new CopyObjectCommand({ Bucket: mount, Key: 'copied.txt', CopySource: 'local/src.txt' }));
    const onS3 = await direct.send(new GetObjectCommand({ Bucket: ufsBucket, Key: 'root/copied.txt' }));
    assert.equal(await onS3.Body!.transformToString(), 'cross-mount');
    assert.equal(onS3.ContentType, 'text/x-cross');
    await s3.send(new CopyObjectCommand({ Bucket: 'local', Key: 'back.txt', CopySource: `${mount}/copied.txt` }));
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: 'local', Key: 'back.txt' }))).Body!.transformToString(), 'cross-mount');
  });

  it('conditional writes on the S3 mount: If-None-Match: * once, then 412', async () => {
    await s3.send(new PutObjectCommand({ Bucket: mount, Key: 'once.txt', Body: '1', IfNoneMatch: '*' }));
    await assert.rejects(s3.send(new PutObjectCommand({ Bucket: mount, Key: 'once.txt', Body: '2', IfNoneMatch: '*' })), (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 412);
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: mount, Key: 'once.txt' }));
    const p = await s3.send(new UploadPartCommand({ Bucket: mount, Key: 'once.txt', UploadId, PartNumber: 1, Body: 'mp' }));
    await assert.rejects(s3.send(new CompleteMultipartUploadCommand({ Bucket: mount, Key: 'once.txt', UploadId, IfNoneMatch: '*', MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag }] } })),
      (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 412);
    assert.equal(await (await direct.send(new GetObjectCommand({ Bucket: ufsBucket, Key: 'root/once.txt' }))).Body!.transformToString(), '1');
  });
});
