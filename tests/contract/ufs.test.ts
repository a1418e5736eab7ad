/**
 * The under-storage contract (common/ufs/types.ts), run against every adapter: a local
 * directory, and S3 on a real moto server both at a bucket's root and under a prefix.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { HeadObjectCommand, ListMultipartUploadsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { LocalUnderFileSystem } from '../../common/ufs/local.js';
import { S3UnderFileSystem } from '../../common/ufs/s3.js';
import {
  UfsError, type ListOptions, type ListResult, type StoredChecksum, type UfsErrorCode, type UfsStatus, type UnderFileSystem, type WriteOptions,
} from '../../common/ufs/types.js';
import { createMotoBucket, startMoto, type Moto } from '../helpers/moto.js';
import { freePort } from '../helpers/ports.js';

const MiB = 1024 * 1024;

interface Subject {
  kind: 'local' | 's3';
  ufs: UnderFileSystem;
  stagingDir: string;
  close(): Promise<void>;
}

function md5(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Reads through the adapter; errors may surface from read() or from the stream, both count. */
async function readBytes(ufs: UnderFileSystem, key: string, opts?: Parameters<UnderFileSystem['read']>[1]): Promise<Buffer> {
  return readAll(await ufs.read(key, opts));
}

function put(ufs: UnderFileSystem, key: string, data: Buffer | string, opts: Partial<WriteOptions> = {}) {
  const bytes = Buffer.from(data);
  return ufs.write(key, Readable.from([bytes]), { contentLength: bytes.length, beforeCommit: () => ({ md5Hex: md5(bytes) }), ...opts });
}

function ufsError(code: UfsErrorCode) {
  return (err: unknown): true => {
    assert.ok(err instanceof UfsError, `expected a UfsError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

function s3Options(endpoint: string): Record<string, string> {
  return {
    'aws.accessKeyId': 'test',
    'aws.secretKey': 'test',
    'alluxio.underfs.s3.endpoint': endpoint,
    'alluxio.underfs.s3.disable.dns.buckets': 'true',
    'alluxio.underfs.s3.streaming.upload.partition.size': '5MB',
    'alluxio.underfs.s3.upload.threads.max': '4',
  };
}

function testClient(endpoint: string): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
}

/** Every page of a listing, following lastKey as the next startAfter. */
async function listPages(ufs: UnderFileSystem, opts: Omit<ListOptions, 'startAfter'>): Promise<ListResult[]> {
  const pages: ListResult[] = [];
  let startAfter: string | undefined;
  for (;;) {
    const page = await ufs.list({ ...opts, startAfter });
    pages.push(page);
    if (!page.isTruncated) return pages;
    assert.ok(page.lastKey, 'a truncated page names its lastKey');
    assert.ok(pages.length < 100, 'listing does not end');
    startAfter = page.lastKey;
  }
}

/** A page's objects and common prefixes, merged in S3 key order (UTF-8 bytes). */
function entriesOf(page: ListResult): string[] {
  return [...page.objects.map((o) => o.key), ...page.commonPrefixes].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

// Keys whose order trips naive implementations: ' ' < '+' < '-' < '/' < '0' in bytes, so the
// contents of "a/" sort between "a-c" and "a0"; '😀' sorts after '～' in UTF-8 (S3's order) but
// before it in UTF-16 (JavaScript's).
const LIST_KEYS = ['ls/a b', 'ls/a+b', 'ls/a-c', 'ls/a/b', 'ls/a/c/d', 'ls/a0', 'ls/b', 'ls/é', 'ls/日本', 'ls/～', 'ls/😀'];
// Every adapter lists every directory (the prefix's own "ls/" included) as a 0-byte folder
// object, as Alluxio does; on S3 that holds for implicit directories too, not only markers.
const FLAT = ['ls/', 'ls/a b', 'ls/a+b', 'ls/a-c', 'ls/a/', 'ls/a/b', 'ls/a/c/', 'ls/a/c/d', 'ls/a0', 'ls/b', 'ls/é', 'ls/日本', 'ls/～', 'ls/😀'];
const ROLLED_UP_OBJECTS = ['ls/a b', 'ls/a+b', 'ls/a-c', 'ls/a0', 'ls/b', 'ls/é', 'ls/日本', 'ls/～', 'ls/😀'];
const ROLLED_UP = ['ls/', 'ls/a b', 'ls/a+b', 'ls/a-c', 'ls/a/', 'ls/a0', 'ls/b', 'ls/é', 'ls/日本', 'ls/～', 'ls/😀'];

function contract(name: string, open: () => Promise<Subject>): void {
  describe(name, () => {
    let s: Subject;
    before(async () => { s = await open(); });
    after(async () => { await s?.close(); });

    it('probe succeeds read-write and read-only', async () => {
      await s.ufs.probe(false);
      await s.ufs.probe(true);
    });

    it('listing the root shows neither the root itself nor anything outside it', async () => {
      await put(s.ufs, 'rootcheck', 'x');
      const page = await s.ufs.list({ prefix: '', delimiter: '/', maxKeys: 1000 });
      const entries = entriesOf(page);
      assert.ok(entries.includes('rootcheck'));
      assert.ok(!entries.includes('') && !entries.includes('outside.txt'), `unexpected entries: ${entries.join(', ')}`);
    });

    it('write then stat returns size, MD5 ETag, content type and user metadata', async () => {
      const data = `hello ${randomUUID()}`;
      const written = await put(s.ufs, 'meta/hello.txt', data, { contentType: 'text/plain', userMetadata: { color: 'blue', owner: 'ana' } });
      const st = await s.ufs.stat('meta/hello.txt');
      assert.ok(st);
      assert.equal(st.key, 'meta/hello.txt');
      assert.equal(st.isDirectory, false);
      assert.equal(st.size, Buffer.byteLength(data));
      assert.equal(st.etag, md5(data));
      assert.equal(st.contentType, 'text/plain');
      assert.deepEqual(st.userMetadata, { color: 'blue', owner: 'ana' });
      assert.equal(written.fingerprint, st.fingerprint);
      assert.equal(written.etag, st.etag);
      // The cache keys pages on the fingerprint, so a listing must agree with stat.
      const listed = await s.ufs.list({ prefix: 'meta/', maxKeys: 10 });
      const files = listed.objects.filter((o) => !o.isDirectory);
      assert.deepEqual(files.map((o) => [o.key, o.size, o.etag, o.fingerprint]), [['meta/hello.txt', st.size, st.etag, st.fingerprint]]);
    });

    describe('object metadata', () => {
      const HEADERS = {
        'content-encoding': 'identity',
        'content-disposition': 'attachment; filename="report.txt"',
        'content-language': 'en-GB',
        'cache-control': 'max-age=3600, must-revalidate',
        'expires': 'Wed, 21 Oct 2015 07:28:00 GMT',
      };
      const TAGS = { project: 'alpha', 'with space': 'a b', unicode: 'é日本', tricky: 'x=y&z+w%' };
      const CHECKSUM: StoredChecksum = { algorithm: 'CRC32C', type: 'FULL_OBJECT', value: 'yZRlqg==' };
      const FULL = { contentType: 'text/plain', headers: HEADERS, userMetadata: { color: 'blue', owner: 'ana' }, tags: TAGS };

      /** What a caller sees; an adapter may leave empty maps out. */
      function metadataOf(st: UfsStatus | null) {
        assert.ok(st, 'object exists');
        return { contentType: st.contentType, headers: st.headers ?? {}, userMetadata: st.userMetadata ?? {}, tags: st.tags ?? {}, checksum: st.checksum };
      }

      async function putFull(key: string, data: string) {
        const bytes = Buffer.from(data);
        return s.ufs.write(key, Readable.from([bytes]), {
          contentLength: bytes.length,
          ...FULL,
          beforeCommit: () => ({ md5Hex: md5(bytes), checksum: CHECKSUM }),
        });
      }

      it('write then stat returns every stored header, user metadata, tags and the checksum', async () => {
        const written = await putFull('md/all.txt', 'all the metadata');
        const st = await s.ufs.stat('md/all.txt');
        const expected = { ...FULL, checksum: CHECKSUM };
        assert.deepEqual(metadataOf(st), expected);
        assert.deepEqual(metadataOf(written), expected);
        assert.equal(st?.etag, md5('all the metadata'));
      });

      it('keeps the exact Expires string, even one that is not an HTTP-date', async () => {
        for (const [i, expires] of ['0', 'Sunday, 06-Nov-94 08:49:37 GMT', 'Thu, 01 Jan 1970 00:00:00 GMT'].entries()) {
          await put(s.ufs, `md/expires-${i}`, 'x', { headers: { expires } });
          assert.deepEqual(metadataOf(await s.ufs.stat(`md/expires-${i}`)).headers, { expires });
        }
      });

      it('an object written without metadata has no headers, tags or checksum', async () => {
        await put(s.ufs, 'md/plain', 'plain');
        const md = metadataOf(await s.ufs.stat('md/plain'));
        assert.deepEqual([md.headers, md.userMetadata, md.tags, md.checksum], [{}, {}, {}, undefined]);
      });

      it('updateMetadata with tags only keeps the bytes, headers, user metadata and checksum', async () => {
        const data = `tagged ${randomUUID()}`;
        const before = await putFull('md/tags.txt', data);
        const updated = await s.ufs.updateMetadata('md/tags.txt', { tags: { stage: 'done', 'new key': 'é' } });
        const st = await s.ufs.stat('md/tags.txt');
        assert.deepEqual(metadataOf(st), { ...FULL, tags: { stage: 'done', 'new key': 'é' }, checksum: CHECKSUM });
        assert.deepEqual(metadataOf(updated), metadataOf(st));
        assert.equal(updated.fingerprint, st?.fingerprint, 'the returned status is the stored one');
        assert.equal(st?.etag, before.etag, 'the bytes, and so the entity tag, stay');
        assert.equal(st?.size, before.size);
        assert.equal((await readBytes(s.ufs, 'md/tags.txt')).toString(), data);
        // An empty tag set removes every tag.
        await s.ufs.updateMetadata('md/tags.txt', { tags: {} });
        assert.deepEqual(metadataOf(await s.ufs.stat('md/tags.txt')), { ...FULL, tags: {}, checksum: CHECKSUM });
      });

      it('updateMetadata with replace swaps type, headers and user metadata but keeps tags and checksum', async () => {
        const data = `replaced ${randomUUID()}`;
        const before = await putFull('md/replace.txt', data);
        const replace = { contentType: 'application/json', headers: { 'cache-control': 'no-store' }, userMetadata: { fresh: 'yes' } };
        const updated = await s.ufs.updateMetadata('md/replace.txt', { replace });
        const st = await s.ufs.stat('md/replace.txt');
        assert.deepEqual(metadataOf(st), { ...replace, tags: TAGS, checksum: CHECKSUM });
        assert.deepEqual(metadataOf(updated), metadataOf(st));
        assert.equal(st?.etag, before.etag);
        assert.equal((await readBytes(s.ufs, 'md/replace.txt')).toString(), data);
        // Both at once.
        await s.ufs.updateMetadata('md/replace.txt', { replace: { userMetadata: {} }, tags: { only: '1' } });
        const both = metadataOf(await s.ufs.stat('md/replace.txt'));
        assert.deepEqual([both.headers, both.userMetadata, both.tags, both.checksum], [{}, {}, { only: '1' }, CHECKSUM]);
      });

      it('updateMetadata works on keys that need escaping', async () => {
        const key = 'md/odd key+é?#%&=日本.txt';
        await putFull(key, 'odd');
        const st = await s.ufs.updateMetadata(key, { tags: { odd: 'yes' } });
        assert.equal(st.key, key);
        assert.deepEqual(metadataOf(await s.ufs.stat(key)).tags, { odd: 'yes' });
        assert.equal((await readBytes(s.ufs, key)).toString(), 'odd');
      });

      it('updateMetadata of a missing key fails with NotFound', async () => {
        await assert.rejects(s.ufs.updateMetadata('md/missing', { tags: { a: 'b' } }), ufsError('NotFound'));
        await assert.rejects(s.ufs.updateMetadata('md/missing', { replace: { contentType: 'text/plain' } }), ufsError('NotFound'));
        assert.equal(await s.ufs.stat('md/missing'), null);
      });
    });

    it('reads whole objects and byte ranges exactly', async () => {
      const data = randomBytes(1000);
      await put(s.ufs, 'range/blob', data);
      assert.deepEqual(await readBytes(s.ufs, 'range/blob'), data);
      for (const [start, end] of [[0, 0], [10, 99], [999, 999], [0, 999], [500, 998]]) {
        assert.deepEqual(await readBytes(s.ufs, 'range/blob', { range: { start, end } }), data.subarray(start, end + 1), `bytes ${start}-${end}`);
      }
    });

    it('an overwrite changes the fingerprint, and a read with the old one fails with Changed', async () => {
      await put(s.ufs, 'fp/obj', 'version one');
      const v1 = await s.ufs.stat('fp/obj');
      await put(s.ufs, 'fp/obj', 'version two, longer');
      const v2 = await s.ufs.stat('fp/obj');
      assert.ok(v1 && v2);
      assert.notEqual(v2.fingerprint, v1.fingerprint);
      await assert.rejects(readBytes(s.ufs, 'fp/obj', { fingerprint: v1.fingerprint }), ufsError('Changed'));
      assert.equal((await readBytes(s.ufs, 'fp/obj', { fingerprint: v2.fingerprint })).toString(), 'version two, longer');
    });

    it('a write vetoed by beforeCommit stores nothing', async () => {
      const veto = s.ufs.write('veto/obj', Readable.from([randomBytes(4096)]), {
        beforeCommit: () => { throw new Error('veto: digest mismatch'); },
      });
      await assert.rejects(veto, /veto: digest mismatch/);
      assert.equal(await s.ufs.stat('veto/obj'), null);
      const listed = await s.ufs.list({ prefix: 'veto/', maxKeys: 10 });
      assert.deepEqual([listed.objects, listed.commonPrefixes], [[], []]);
      assert.deepEqual(await readdir(s.stagingDir).catch(() => []), [], 'staging dir is left empty');
    });

    it('aborting a write while the body is still arriving stores nothing', async () => {
      const ac = new AbortController();
      async function* endless() {
        for (;;) {
          yield randomBytes(64 * 1024);
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      setTimeout(() => ac.abort(), 50);
      await assert.rejects(
        s.ufs.write('abort/obj', Readable.from(endless()), { signal: ac.signal, beforeCommit: () => assert.fail('beforeCommit must not run') }),
        ufsError('Aborted'),
      );
      assert.equal(await s.ufs.stat('abort/obj'), null);
      assert.deepEqual(await readdir(s.stagingDir).catch(() => []), [], 'staging dir is left empty');
    });

    it('stat of a missing key is null and reading it fails with NotFound', async () => {
      assert.equal(await s.ufs.stat('missing/key'), null);
      assert.equal(await s.ufs.stat('missing/dir/'), null);
      await assert.rejects(readBytes(s.ufs, 'missing/key'), ufsError('NotFound'));
    });

    it('delete removes an object, and deleting an absent key is not an error', async () => {
      await put(s.ufs, 'del/obj', 'bye');
      await s.ufs.delete('del/obj');
      assert.equal(await s.ufs.stat('del/obj'), null);
      await assert.rejects(readBytes(s.ufs, 'del/obj'), ufsError('NotFound'));
      await s.ufs.delete('del/obj');
      await s.ufs.delete('del/never-existed');
    });

    it('mkdir creates a folder object that stat and list show as "dir/"', async () => {
      await s.ufs.mkdir('mk/dir/');
      const st = await s.ufs.stat('mk/dir/');
      assert.ok(st);
      assert.equal(st.isDirectory, true);
      assert.equal(st.size, 0);
      assert.equal(await s.ufs.stat('mk/dir'), null, 'a folder is not an object without the slash');
      const inside = await s.ufs.list({ prefix: 'mk/dir/', delimiter: '/', maxKeys: 10 });
      assert.deepEqual(inside.objects.map((o) => [o.key, o.isDirectory, o.size]), [['mk/dir/', true, 0]]);
      const flat = await s.ufs.list({ prefix: 'mk/', maxKeys: 10 });
      assert.deepEqual(flat.objects.map((o) => o.key), ['mk/', 'mk/dir/']);
      const rolled = await s.ufs.list({ prefix: 'mk/', delimiter: '/', maxKeys: 10 });
      assert.deepEqual([rolled.objects.map((o) => o.key), rolled.commonPrefixes], [['mk/'], ['mk/dir/']]);
      await s.ufs.delete('mk/dir/');
      assert.equal(await s.ufs.stat('mk/dir/'), null);
    });

    it('a directory exists while keys are under it, without any marker', async () => {
      await put(s.ufs, 'imp/sub/x', 'x');
      assert.equal((await s.ufs.stat('imp/sub/'))?.isDirectory, true);
      await s.ufs.delete('imp/sub/x');
      assert.equal(await s.ufs.stat('imp/sub/'), null);
    });

    describe('list', () => {
      before(async () => {
        for (const key of LIST_KEYS) await put(s.ufs, key, key);
      });

      it('lists every key under a prefix in UTF-8 byte order', async () => {
        const page = await s.ufs.list({ prefix: 'ls/', maxKeys: 1000 });
        assert.deepEqual(page.objects.map((o) => o.key), FLAT);
        assert.deepEqual(page.commonPrefixes, []);
        assert.equal(page.isTruncated, false);
        const file = page.objects.find((o) => o.key === 'ls/a+b');
        assert.deepEqual([file?.size, file?.isDirectory, file?.etag], [6, false, md5('ls/a+b')]);
      });

      it('rolls keys up into common prefixes at the delimiter', async () => {
        const page = await s.ufs.list({ prefix: 'ls/', delimiter: '/', maxKeys: 1000 });
        assert.deepEqual(page.commonPrefixes, ['ls/a/']);
        assert.deepEqual(page.objects.map((o) => o.key), ['ls/', ...ROLLED_UP_OBJECTS]);
        const partial = await s.ufs.list({ prefix: 'ls/a', delimiter: '/', maxKeys: 1000 });
        assert.deepEqual(entriesOf(partial), ['ls/a b', 'ls/a+b', 'ls/a-c', 'ls/a/', 'ls/a0']);
        assert.deepEqual(partial.commonPrefixes, ['ls/a/']);
      });

      for (const delimiter of [undefined, '/']) {
        for (const maxKeys of [1, 2, 3]) {
          it(`pages of ${maxKeys}${delimiter ? ' with delimiter' : ''} rebuild the whole ordered listing`, async () => {
            const pages = await listPages(s.ufs, { prefix: 'ls/', delimiter, maxKeys });
            for (const page of pages) {
              const entries = entriesOf(page);
              assert.ok(entries.length <= maxKeys, `a page holds at most ${maxKeys} entries`);
              if (page.isTruncated) assert.equal(page.lastKey, entries.at(-1));
            }
            assert.deepEqual(pages.flatMap(entriesOf), (delimiter ? ROLLED_UP : FLAT));
          });
        }
      }

      it('startAfter excludes everything up to and including it, and the contents of a prefix it names', async () => {
        const afterDash = await s.ufs.list({ prefix: 'ls/', delimiter: '/', startAfter: 'ls/a-c', maxKeys: 2 });
        assert.deepEqual(entriesOf(afterDash), ['ls/a/', 'ls/a0']);
        const afterPrefix = await s.ufs.list({ prefix: 'ls/', delimiter: '/', startAfter: 'ls/a/', maxKeys: 2 });
        assert.deepEqual(entriesOf(afterPrefix), ['ls/a0', 'ls/b']);
        const flat = await s.ufs.list({ prefix: 'ls/', startAfter: 'ls/a/b', maxKeys: 1 });
        assert.deepEqual(entriesOf(flat), ['ls/a/c/']);
        const end = await s.ufs.list({ prefix: 'ls/', startAfter: 'ls/😀', maxKeys: 5 });
        assert.deepEqual([entriesOf(end), end.isTruncated], [[], false]);
      });
    });

    it('a large write (multipart on S3) reads back byte-identical', async () => {
      const size = 20 * MiB + 123;
      const sent = createHash('md5');
      async function* body() {
        for (let n = 0; n < size; n += MiB) {
          const chunk = randomBytes(Math.min(MiB, size - n));
          sent.update(chunk);
          yield chunk;
        }
      }
      let sentMd5 = '';
      const checksum: StoredChecksum = { algorithm: 'SHA256', type: 'FULL_OBJECT', value: 'not-checked-here=' };
      const st = await s.ufs.write('big/blob', Readable.from(body()), {
        contentLength: size,
        contentType: 'application/x-big',
        headers: { 'cache-control': 'no-cache', expires: 'Thu, 01 Jan 2099 00:00:00 GMT' },
        userMetadata: { size: 'large' },
        tags: { big: 'yes' },
        beforeCommit: () => ({ md5Hex: (sentMd5 = sent.digest('hex')), checksum }),
      });
      assert.equal(st.size, size);
      assert.deepEqual(
        [st.contentType, st.headers, st.userMetadata, st.tags, st.checksum],
        ['application/x-big', { 'cache-control': 'no-cache', expires: 'Thu, 01 Jan 2099 00:00:00 GMT' }, { size: 'large' }, { big: 'yes' }, checksum],
      );
      // A multipart ETag is not an MD5; S3 marks it with the part count (5 MiB parts here).
      if (s.kind === 's3') assert.match(st.etag, /-5$/);
      const back = createHash('md5');
      let got = 0;
      for await (const chunk of await s.ufs.read('big/blob')) {
        back.update(chunk as Buffer);
        got += (chunk as Buffer).length;
      }
      assert.equal(got, size);
      assert.equal(back.digest('hex'), sentMd5);
      assert.deepEqual(await readdir(s.stagingDir).catch(() => []), [], 'staging dir is left empty');
    });

    it('aborting a read ends its stream with Aborted', async () => {
      const ac = new AbortController();
      const stream = await s.ufs.read('big/blob', { signal: ac.signal });
      await assert.rejects(async () => {
        for await (const _ of stream) ac.abort();
      }, ufsError('Aborted'));
      await assert.rejects(s.ufs.read('big/blob', { signal: ac.signal }), ufsError('Aborted'));
    });
  });
}

async function tempDir(label: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `ufs-contract-${label}-`));
}

describe('UFS contract', () => {
  contract('local directory', async () => {
    const dir = await tempDir('local');
    const stagingDir = path.join(dir, 'staging');
    await mkdir(path.join(dir, 'root'));
    const ufs = new LocalUnderFileSystem(path.join(dir, 'root'), { options: {}, stagingDir });
    return { kind: 'local', ufs, stagingDir, close: async () => { await ufs.close(); await rm(dir, { recursive: true, force: true }); } };
  });

  describe('S3 on moto', () => {
    let moto: Moto;
    before(async () => { moto = await startMoto(); });
    after(async () => { await moto?.close(); });

    contract('S3 bucket root', async () => {
      const bucket = `contract-${randomUUID()}`;
      await createMotoBucket(moto.endpoint, bucket);
      const dir = await tempDir('s3');
      const stagingDir = path.join(dir, 'staging');
      const ufs = new S3UnderFileSystem(`s3://${bucket}`, { options: s3Options(moto.endpoint), stagingDir });
      return { kind: 's3', ufs, stagingDir, close: async () => { await ufs.close(); await rm(dir, { recursive: true, force: true }); } };
    });

    contract('S3 under a prefix', async () => {
      const bucket = `contract-${randomUUID()}`;
      await createMotoBucket(moto.endpoint, bucket);
      // Keys around the mount's root that must never show through it, and the root's own marker.
      const client = testClient(moto.endpoint);
      for (const Key of ['outside.txt', 'some/prefix', 'some/prefixed/ls/b', 'some/prefix/']) {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'decoy' }));
      }
      client.destroy();
      const dir = await tempDir('s3p');
      const stagingDir = path.join(dir, 'staging');
      const ufs = new S3UnderFileSystem(`s3a://${bucket}/some/prefix/`, { options: s3Options(moto.endpoint), stagingDir });
      return { kind: 's3', ufs, stagingDir, close: async () => { await ufs.close(); await rm(dir, { recursive: true, force: true }); } };
    });

    describe('S3 only', () => {
      let dir: string;
      before(async () => { dir = await tempDir('s3x'); });
      after(async () => { await rm(dir, { recursive: true, force: true }); });

      it('a mount with a wrong endpoint fails probe quickly with Unavailable', async () => {
        const closedPort = await freePort();
        const ufs = new S3UnderFileSystem('s3://bkt', { options: s3Options(`http://127.0.0.1:${closedPort}`), stagingDir: dir });
        const started = Date.now();
        await assert.rejects(ufs.probe(true), (err: unknown) => {
          ufsError('Unavailable')(err);
          assert.match((err as Error).message, new RegExp(`cannot reach s3://bkt at http://127.0.0.1:${closedPort}`));
          return true;
        });
        assert.ok(Date.now() - started < 5_000, `probe took ${Date.now() - started} ms`);
        await ufs.close();
      });

      it('a mount of a missing bucket fails probe with NotFound naming the bucket', async () => {
        const ufs = new S3UnderFileSystem('s3://no-such-bucket-here', { options: s3Options(moto.endpoint), stagingDir: dir });
        await assert.rejects(ufs.probe(false), (err: unknown) => {
          ufsError('NotFound')(err);
          assert.match((err as Error).message, /bucket no-such-bucket-here does not exist/);
          return true;
        });
        await ufs.close();
      });

      it('metadata is stored as S3 headers a plain S3 client sees; reserved names never leak into userMetadata', async () => {
        const bucket = `meta-${randomUUID()}`;
        await createMotoBucket(moto.endpoint, bucket);
        const ufs = new S3UnderFileSystem(`s3://${bucket}`, { options: s3Options(moto.endpoint), stagingDir: dir });
        const client = testClient(moto.endpoint);
        try {
          await put(ufs, 'obj', 'data', {
            contentType: 'text/csv',
            headers: { 'content-language': 'fr', 'cache-control': 'private', expires: 'Wed, 21 Oct 2015 07:28:00 GMT' },
            // A caller's own x-amz-meta-alluxio-tags must not become tags.
            userMetadata: { mine: '1', 'alluxio-tags': 'forged=1', 'alluxio-checksum': 'SHA1:FULL_OBJECT:Zm9v' },
            tags: { real: 'a b' },
          });
          const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'obj' }));
          assert.deepEqual(
            [head.ContentType, head.ContentLanguage, head.CacheControl, head.Expires?.toISOString(), head.Metadata],
            ['text/csv', 'fr', 'private', '2015-10-21T07:28:00.000Z', { mine: '1', 'alluxio-tags': 'real=a%20b' }],
          );
          const st = await ufs.stat('obj');
          assert.deepEqual([st?.userMetadata, st?.tags, st?.checksum], [{ mine: '1' }, { real: 'a b' }, undefined]);
          // An object written by another S3 client with S3's tagging encoding ('+' for space) reads the same.
          await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'foreign', Body: 'x', Metadata: { 'alluxio-tags': 'k+1=v%261&empty=', other: 'o' } }));
          const foreign = await ufs.stat('foreign');
          assert.deepEqual([foreign?.tags, foreign?.userMetadata, foreign?.headers], [{ 'k 1': 'v&1', empty: '' }, { other: 'o' }, {}]);
        } finally {
          client.destroy();
          await ufs.close();
        }
      });

      it('an aborted multipart write leaves no object and no pending upload', async () => {
        const bucket = `abort-${randomUUID()}`;
        await createMotoBucket(moto.endpoint, bucket);
        const ufs = new S3UnderFileSystem(`s3://${bucket}`, { options: { ...s3Options(moto.endpoint), 'alluxio.underfs.s3.upload.threads.max': '1' }, stagingDir: dir });
        const ac = new AbortController();
        const data = randomBytes(30 * MiB);
        const write = ufs.write('big', Readable.from([data]), {
          signal: ac.signal,
          // Abort once the upload is under way, between parts.
          beforeCommit: () => { setTimeout(() => ac.abort(), 150); return { md5Hex: md5(data) }; },
        });
        await assert.rejects(write, ufsError('Aborted'));
        assert.equal(await ufs.stat('big'), null);
        const client = testClient(moto.endpoint);
        const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
        client.destroy();
        assert.deepEqual(uploads.Uploads ?? [], []);
        assert.deepEqual(await readdir(dir), []);
        await ufs.close();
      });
    });
  });
});
