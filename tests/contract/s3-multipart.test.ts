/**
 * The S3 adapter's multipart pass-through (UfsMultipart) against a real moto server: parts go
 * straight to S3's own multipart upload, and S3 assembles the object.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { S3UnderFileSystem } from '../../common/ufs/s3.js';
import { UfsError, type UfsErrorCode, type UfsMultipart } from '../../common/ufs/types.js';
import { createMotoBucket, startMoto, type Moto } from '../helpers/moto.js';

const MiB = 1024 * 1024;

function md5(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

function ufsError(code: UfsErrorCode) {
  return (err: unknown): true => {
    assert.ok(err instanceof UfsError, `expected a UfsError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The S3 multipart ETag of these parts: MD5 of the parts' binary MD5s, "-" part count. */
function multipartEtag(parts: Buffer[]): string {
  const outer = createHash('md5');
  for (const p of parts) outer.update(createHash('md5').update(p).digest());
  return `${outer.digest('hex')}-${parts.length}`;
}

/** A body that arrives in small chunks, as from a socket, with no length known up front. */
function trickle(data: Buffer, chunk = 64 * 1024): Readable {
  return Readable.from((function* () {
    for (let at = 0; at < data.length; at += chunk) yield data.subarray(at, at + chunk);
  })());
}

describe('S3 multipart pass-through on moto', () => {
  let moto: Moto;
  let dir: string;
  let stagingDir: string;
  let bucket: string;
  let ufs: S3UnderFileSystem;
  let mp: UfsMultipart;
  let client: S3Client;

  async function pendingUploads(): Promise<{ Key?: string; UploadId?: string }[]> {
    const res = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    return res.Uploads ?? [];
  }

  before(async () => {
    moto = await startMoto();
    dir = await mkdtemp(path.join(os.tmpdir(), 'ufs-s3-multipart-'));
    stagingDir = path.join(dir, 'staging');
    bucket = `multipart-${randomUUID()}`;
    await createMotoBucket(moto.endpoint, bucket);
    // Under a prefix, so the keys the upload uses are the mount's, not the bucket's.
    ufs = new S3UnderFileSystem(`s3://${bucket}/mnt`, {
      options: {
        'aws.accessKeyId': 'test',
        'aws.secretKey': 'test',
        'alluxio.underfs.s3.endpoint': moto.endpoint,
        'alluxio.underfs.s3.disable.dns.buckets': 'true',
      },
      stagingDir,
    });
    assert.ok(ufs.multipart, 'the S3 adapter offers multipart pass-through');
    mp = ufs.multipart;
    client = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  });

  after(async () => {
    client?.destroy();
    await ufs?.close();
    await moto?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a 3-part upload completes into one object, byte-identical, with a "-3" ETag and its metadata', async () => {
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(1024)];
    const id = await mp.createUpload('mp/three.bin', {
      contentType: 'application/x-test',
      headers: { 'cache-control': 'no-cache', 'content-disposition': 'inline' },
      userMetadata: { origin: 'test' },
      tags: { kind: 'multipart', 'a b': 'c&d' },
    });
    assert.ok(id);
    const uploaded = [];
    for (const [i, data] of parts.entries()) {
      const r = await mp.uploadPart('mp/three.bin', id, i + 1, Readable.from([data]), {
        contentLength: data.length,
        md5Base64: createHash('md5').update(data).digest('base64'),
      });
      assert.deepEqual(r, { etag: md5(data), size: data.length }, `part ${i + 1}: S3's part ETag, unquoted, and its size`);
      uploaded.push({ partNumber: i + 1, etag: r.etag });
    }
    const st = await mp.completeUpload('mp/three.bin', id, uploaded);
    assert.equal(st.key, 'mp/three.bin');
    assert.equal(st.size, 10 * MiB + 1024);
    assert.match(st.etag, /^[0-9a-f]{32}-3$/);
    assert.equal(st.etag, multipartEtag(parts));
    assert.equal(st.contentType, 'application/x-test');
    assert.deepEqual(st.headers, { 'cache-control': 'no-cache', 'content-disposition': 'inline' });
    assert.deepEqual(st.userMetadata, { origin: 'test' });
    assert.deepEqual(st.tags, { kind: 'multipart', 'a b': 'c&d' });
    assert.equal(st.checksum, undefined);
    assert.deepEqual(await ufs.stat('mp/three.bin'), st);
    assert.ok((await readAll(await ufs.read('mp/three.bin'))).equals(Buffer.concat(parts)));
    assert.deepEqual(await pendingUploads(), []);
  });

  it('parts may arrive out of order (2 before 1)', async () => {
    const one = randomBytes(5 * MiB);
    const two = randomBytes(777);
    const id = await mp.createUpload('mp/unordered.bin', {});
    const r2 = await mp.uploadPart('mp/unordered.bin', id, 2, Readable.from([two]), { contentLength: two.length });
    const r1 = await mp.uploadPart('mp/unordered.bin', id, 1, Readable.from([one]), { contentLength: one.length });
    const st = await mp.completeUpload('mp/unordered.bin', id, [{ partNumber: 1, etag: r1.etag }, { partNumber: 2, etag: r2.etag }]);
    assert.equal(st.etag, multipartEtag([one, two]));
    assert.ok((await readAll(await ufs.read('mp/unordered.bin'))).equals(Buffer.concat([one, two])));
  });

  it('a part of unknown length is staged to learn its length, and the staging dir is left empty', async () => {
    const one = randomBytes(5 * MiB + 3);
    const two = randomBytes(10);
    const id = await mp.createUpload('mp/unknown-length.bin', {});
    const r1 = await mp.uploadPart('mp/unknown-length.bin', id, 1, trickle(one), {});
    assert.deepEqual(r1, { etag: md5(one), size: one.length });
    const r2 = await mp.uploadPart('mp/unknown-length.bin', id, 2, trickle(two), { md5Base64: createHash('md5').update(two).digest('base64') });
    assert.deepEqual(r2, { etag: md5(two), size: two.length });
    const st = await mp.completeUpload('mp/unknown-length.bin', id, [{ partNumber: 1, etag: r1.etag }, { partNumber: 2, etag: r2.etag }]);
    assert.equal(st.size, one.length + two.length);
    assert.ok((await readAll(await ufs.read('mp/unknown-length.bin'))).equals(Buffer.concat([one, two])));
    assert.deepEqual(await readdir(stagingDir).catch(() => []), []);
  });

  it('re-uploading a part number replaces the part', async () => {
    const first = randomBytes(5 * MiB);
    const second = randomBytes(5 * MiB);
    const tail = Buffer.from('tail');
    const id = await mp.createUpload('mp/replace.bin', {});
    await mp.uploadPart('mp/replace.bin', id, 1, Readable.from([first]), { contentLength: first.length });
    const r1 = await mp.uploadPart('mp/replace.bin', id, 1, Readable.from([second]), { contentLength: second.length });
    const r2 = await mp.uploadPart('mp/replace.bin', id, 2, Readable.from([tail]), { contentLength: tail.length });
    await mp.completeUpload('mp/replace.bin', id, [{ partNumber: 1, etag: r1.etag }, { partNumber: 2, etag: r2.etag }]);
    assert.ok((await readAll(await ufs.read('mp/replace.bin'))).equals(Buffer.concat([second, tail])));
  });

  it('abort leaves no pending upload and no object; aborting again is fine', async () => {
    const id = await mp.createUpload('mp/aborted.bin', { tags: { a: 'b' } });
    const data = randomBytes(5 * MiB);
    await mp.uploadPart('mp/aborted.bin', id, 1, Readable.from([data]), { contentLength: data.length });
    assert.deepEqual((await pendingUploads()).map((u) => u.UploadId), [id]);
    await mp.abortUpload('mp/aborted.bin', id);
    assert.deepEqual(await pendingUploads(), []);
    assert.equal(await ufs.stat('mp/aborted.bin'), null);
    await mp.abortUpload('mp/aborted.bin', id);
    // The upload is gone for good.
    await assert.rejects(mp.uploadPart('mp/aborted.bin', id, 2, Readable.from([Buffer.from('x')]), { contentLength: 1 }), ufsError('NotFound'));
    await assert.rejects(mp.completeUpload('mp/aborted.bin', id, [{ partNumber: 1, etag: md5(data) }]), ufsError('NotFound'));
    assert.equal(await ufs.stat('mp/aborted.bin'), null);
  });

  it('an unknown upload id fails part uploads and completion with NotFound; aborting it is fine', async () => {
    const bogus = 'no-such-upload-id';
    await assert.rejects(mp.uploadPart('mp/bogus.bin', bogus, 1, Readable.from([Buffer.from('abc')]), { contentLength: 3 }), ufsError('NotFound'));
    await assert.rejects(mp.uploadPart('mp/bogus.bin', bogus, 1, trickle(Buffer.from('abc')), {}), ufsError('NotFound'));
    await assert.rejects(mp.completeUpload('mp/bogus.bin', bogus, [{ partNumber: 1, etag: md5('abc') }]), ufsError('NotFound'));
    await mp.abortUpload('mp/bogus.bin', bogus);
    assert.equal(await ufs.stat('mp/bogus.bin'), null);
    assert.deepEqual(await readdir(stagingDir).catch(() => []), []);
  });

  it('a part below 5 MiB that is not the last fails completion with Conflict', async () => {
    const id = await mp.createUpload('mp/small.bin', {});
    const r1 = await mp.uploadPart('mp/small.bin', id, 1, Readable.from([Buffer.from('small')]), { contentLength: 5 });
    const r2 = await mp.uploadPart('mp/small.bin', id, 2, Readable.from([Buffer.from('last')]), { contentLength: 4 });
    await assert.rejects(mp.completeUpload('mp/small.bin', id, [{ partNumber: 1, etag: r1.etag }, { partNumber: 2, etag: r2.etag }]), (err: unknown) => {
      ufsError('Conflict')(err);
      assert.match((err as Error).message, /smaller than the minimum/);
      return true;
    });
    await mp.abortUpload('mp/small.bin', id);
  });

  it('a part ETag S3 does not know fails completion with Conflict', async () => {
    const id = await mp.createUpload('mp/wrong-etag.bin', {});
    await mp.uploadPart('mp/wrong-etag.bin', id, 1, Readable.from([Buffer.from('data')]), { contentLength: 4 });
    await assert.rejects(mp.completeUpload('mp/wrong-etag.bin', id, [{ partNumber: 1, etag: md5('other') }]), ufsError('Conflict'));
    await mp.abortUpload('mp/wrong-etag.bin', id);
  });

  it('a part body that ends before its declared length fails with Aborted instead of hanging', async () => {
    const id = await mp.createUpload('mp/short.bin', {});
    const started = Date.now();
    await assert.rejects(mp.uploadPart('mp/short.bin', id, 1, Readable.from([randomBytes(1000)]), { contentLength: 2000 }), ufsError('Aborted'));
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
    const failing = new Readable({ read() {} });
    const upload = mp.uploadPart('mp/short.bin', id, 1, failing, { contentLength: 2000 });
    failing.push(randomBytes(500));
    setTimeout(() => failing.destroy(new Error('client went away')), 50);
    await assert.rejects(upload, ufsError('Aborted'));
    await mp.abortUpload('mp/short.bin', id);
  });

  it('aborting a part upload through its signal fails it with Aborted', async () => {
    const id = await mp.createUpload('mp/signal.bin', {});
    const ac = new AbortController();
    const slow = new Readable({ read() {} });
    slow.push(randomBytes(1000));
    const upload = mp.uploadPart('mp/signal.bin', id, 1, slow, { contentLength: 5 * MiB, signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(upload, ufsError('Aborted'));
    await mp.abortUpload('mp/signal.bin', id);
  });

  it('a metadata update of a multipart object keeps its bytes; the ETag is what S3 says after the self-copy', async () => {
    const parts = [randomBytes(5 * MiB), randomBytes(100)];
    const id = await mp.createUpload('mp/update.bin', { contentType: 'text/x-before', tags: { v: '1' } });
    const uploaded = [];
    for (const [i, data] of parts.entries()) {
      const r = await mp.uploadPart('mp/update.bin', id, i + 1, Readable.from([data]), { contentLength: data.length });
      uploaded.push({ partNumber: i + 1, etag: r.etag });
    }
    const before = await mp.completeUpload('mp/update.bin', id, uploaded);
    assert.match(before.etag, /-2$/);
    const after = await ufs.updateMetadata('mp/update.bin', { tags: { v: '2' } });
    assert.deepEqual(await ufs.stat('mp/update.bin'), after);
    assert.equal(after.contentType, 'text/x-before');
    assert.deepEqual(after.tags, { v: '2' });
    assert.equal(after.size, before.size);
    // S3 (and moto) store a copy made in one request as a single part: its ETag becomes the MD5.
    assert.ok(after.etag === before.etag || after.etag === md5(Buffer.concat(parts)), `unexpected ETag ${after.etag}`);
    assert.ok((await readAll(await ufs.read('mp/update.bin'))).equals(Buffer.concat(parts)));
  });
});
