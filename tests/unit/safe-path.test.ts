/**
 * No request-derived name reaches a file outside its root: the shared helper
 * (common/safe-path.ts) and every module that turns such a name into a path.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { assertRealInside, isSafeSegment, PathEscapeError, resolveInside } from '../../common/safe-path.js';
import { LocalUnderFileSystem } from '../../common/ufs/local.js';
import { UfsError } from '../../common/ufs/types.js';
import { loadConfig } from '../../common/config/config.js';
import { createLogger } from '../../common/log.js';
import { PageStore } from '../../worker/cache/page-store.js';
import { LocalWriteStore } from '../../worker/writecache/local-store.js';
import { MountTable } from '../../worker/objects/mount-table.js';
import { checkCompletedSizes, MAX_OBJECT_SIZE } from '../../worker/objects/multipart.js';
import { ObjectError } from '../../worker/objects/errors.js';
import { toS3Error } from '../../worker/s3/object-errors.js';
import { S3Error } from '../../worker/s3/errors.js';

const quiet = createLogger('safe-path-test', 'fatal', new Writable({ write: (_c, _e, done) => done() }));

/** Everything under `dir`, relative. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      out.push(path.relative(dir, p));
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return out.sort();
}

const isEscape = (err: unknown): boolean => {
  assert.ok(err instanceof PathEscapeError, `expected a PathEscapeError, got ${String(err)}`);
  return true;
};

const TRAVERSALS = ['..', '../x', '../../etc/passwd', 'a/../../x', '/etc/passwd', '/', 'a/b/../../..', '..\\..', 'x\0y', '', '.'];

describe('resolveInside', () => {
  const root = path.resolve(os.tmpdir(), 'safe-path-root');

  for (const part of TRAVERSALS) {
    it(`refuses ${JSON.stringify(part)}`, () => {
      // '..\\..' is a file name on POSIX ("..\\.."), not a climb: accepted, and inside.
      if (part === '..\\..') {
        assert.equal(path.dirname(resolveInside(root, part)), root);
        return;
      }
      assert.throws(() => resolveInside(root, part), isEscape);
    });
  }

  it('refuses escapes split over several parts, and a sibling that shares the prefix', () => {
    assert.throws(() => resolveInside(root, 'a', '..', '..', 'x'), isEscape);
    assert.throws(() => resolveInside(root, '..', 'safe-path-root-other', 'x'), isEscape);
    assert.throws(() => resolveInside(root, `../${path.basename(root)}-other`), isEscape);
  });

  it('keeps what stays inside, however it is spelled', () => {
    assert.equal(resolveInside(root, 'a', 'b'), path.join(root, 'a', 'b'));
    assert.equal(resolveInside(root, 'a/../b'), path.join(root, 'b'));
    assert.equal(resolveInside(root, '..x', 'x..'), path.join(root, '..x', 'x..'));
    assert.equal(resolveInside(root, '%2e%2e'), path.join(root, '%2e%2e'));
    assert.equal(resolveInside(`${root}/`, 'k'), path.join(root, 'k'));
  });

  it('isSafeSegment names exactly one entry', () => {
    for (const s of ['a', '..a', 'a..', '...', '.hidden', '%2e%2e', 'ü']) assert.equal(isSafeSegment(s), true, s);
    for (const s of ['', '.', '..', 'a/b', 'a\\b', 'a\0', '/']) assert.equal(isSafeSegment(s), false, s);
  });

  it('an escape is answered 400 InvalidArgument at the S3 edge', () => {
    const e = toS3Error(new PathEscapeError('x'), {});
    assert.ok(e instanceof S3Error);
    assert.equal(e.code, 'InvalidArgument');
    assert.equal(e.status, 400);
  });
});

describe('symbolic links', () => {
  let outer: string;
  let root: string;
  before(async () => {
    outer = await fs.mkdtemp(path.join(os.tmpdir(), 'safe-path-links-'));
    root = path.join(outer, 'root');
    await fs.mkdir(path.join(root, 'bkt', 'real'), { recursive: true });
    await fs.mkdir(path.join(outer, 'elsewhere'));
    await fs.writeFile(path.join(outer, 'elsewhere', 'secret'), 'outside');
    await fs.writeFile(path.join(root, 'bkt', 'real', 'f'), 'inside');
    await fs.symlink(path.join(outer, 'elsewhere'), path.join(root, 'bkt', 'out'));
    await fs.symlink(path.join(outer, 'elsewhere', 'secret'), path.join(root, 'bkt', 'secret-link'));
    await fs.symlink(path.join(root, 'bkt', 'real'), path.join(root, 'bkt', 'in'));
  });
  after(async () => { await fs.rm(outer, { recursive: true, force: true }); });

  it('assertRealInside follows links, and judges a file not yet written by its directory', async () => {
    await assert.rejects(assertRealInside(root, path.join(root, 'bkt', 'out', 'secret')), isEscape);
    await assert.rejects(assertRealInside(root, path.join(root, 'bkt', 'secret-link')), isEscape);
    await assert.rejects(assertRealInside(root, path.join(root, 'bkt', 'out', 'new', 'file')), isEscape);
    await assertRealInside(root, path.join(root, 'bkt', 'in', 'f'));
    await assertRealInside(root, path.join(root, 'bkt', 'new', 'deeper', 'file'));
  });

  it('the local UFS neither reads, writes, lists nor deletes through a link that leaves the root', async () => {
    const ufs = new LocalUnderFileSystem(root, { options: {}, stagingDir: path.join(outer, 'staging') });
    const invalid = (err: unknown) => err instanceof UfsError && err.code === 'InvalidKey';
    await assert.rejects(ufs.stat('bkt/out/secret'), invalid);
    await assert.rejects(ufs.read('bkt/out/secret'), invalid);
    await assert.rejects(ufs.read('bkt/secret-link'), invalid);
    await assert.rejects(ufs.write('bkt/out/planted', Readable.from([Buffer.from('x')]), { beforeCommit: () => ({ md5Hex: '' }) }), invalid);
    await assert.rejects(ufs.delete('bkt/out/secret'), invalid);
    // Listings skip links altogether.
    assert.deepEqual(await ufs.list({ prefix: 'bkt/out/', maxKeys: 10 }), { objects: [], commonPrefixes: [], isTruncated: false });
    assert.deepEqual((await ufs.list({ prefix: 'bkt/', maxKeys: 10 })).objects.map((o) => o.key), ['bkt/', 'bkt/real/', 'bkt/real/f']);
    await assert.rejects(ufs.mkdir('bkt/out/d/'), invalid);
    assert.deepEqual(await fs.readdir(path.join(outer, 'elsewhere')), ['secret']);
    assert.equal(await fs.readFile(path.join(outer, 'elsewhere', 'secret'), 'utf8'), 'outside');
    // A link that stays inside is an ordinary path.
    assert.equal((await ufs.stat('bkt/in/f'))?.size, 6);
  });
});

describe('page store: page files stay under its directory', () => {
  let dir: string;
  before(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'safe-path-pages-')); });
  after(async () => { await fs.rm(dir, { recursive: true, force: true }); });

  it('keys that look like traversals are hashed into ordinary names; a bad page index is refused', async () => {
    const store = await PageStore.open({ dir: path.join(dir, 'store'), capacityBytes: 1024 * 1024, pageSize: 1024, log: quiet });
    try {
      for (const key of ['/b/../../../x', '../../x', '/b/\0', '/b/%2e%2e/x']) {
        await store.putPage(key, '../fp', 0, Buffer.alloc(16, 1));
        assert.deepEqual(await store.getPage(key, '../fp', 0, 16), Buffer.alloc(16, 1));
      }
      for (const index of [-1, 1.5, Number.NaN]) {
        await assert.rejects(async () => store.putPage('/b/k', 'fp', index, Buffer.alloc(16)), String(index));
        await assert.rejects(async () => store.getPage('/b/k', 'fp', index, 16), String(index));
      }
    } finally {
      await store.close();
    }
    assert.deepEqual(await fs.readdir(dir), ['store']);
    for (const p of await tree(path.join(dir, 'store'))) assert.ok(/^(pages|tmp)(\/|$)|^[\w.-]+$/.test(p), p);
  });
});

describe('write cache store: write ids name one file', () => {
  let dir: string;
  before(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'safe-path-wc-')); });
  after(async () => { await fs.rm(dir, { recursive: true, force: true }); });

  it('refuses write ids that are not ids, and writes nothing for them', async () => {
    const store = await LocalWriteStore.open(path.join(dir, 'cache'), 1024 * 1024);
    for (const id of ['../../x', '../x', '/etc/passwd', 'a/b', '', '..', 'ZZZZZZZZ']) {
      await assert.rejects(async () => store.receive('/b/k', id, Readable.from([Buffer.from('data')])), isEscape, id);
      assert.throws(() => store.read('/b/k', id), isEscape, id);
      await assert.rejects(async () => store.has('/b/k', id), isEscape, id);
      await assert.rejects(async () => store.remove('/b/k', id), isEscape, id);
    }
    assert.deepEqual(await fs.readdir(dir), ['cache']);
    assert.deepEqual(await tree(path.join(dir, 'cache')), ['writecache', 'writecache/tmp']);
    assert.equal(store.usage().pinnedBytes, 0);
  });
});

describe('mount table: bucket names are single directory names', () => {
  it('refuses bucket parts that would climb out of a mount', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'safe-path-mounts-'));
    try {
      const mounts = new MountTable(loadConfig({ confDir: dir }), path.join(dir, 'staging'), quiet);
      mounts.update([{ path: '/', ufs_uri: `file://${dir}/ufs`, options: {}, read_only: false }, { path: '/mnt', ufs_uri: `file://${dir}/mnt`, options: {}, read_only: false }]);
      for (const bucket of ['..', '.', 'a/b', 'mnt:..', 'mnt:../x', 'a:', ':a', 'a::b', 'a\\b', '']) {
        assert.throws(() => mounts.resolve(bucket), isEscape, bucket);
      }
      assert.equal(mounts.resolve('mnt:sub:dir')?.prefix, 'sub/dir/');
      assert.equal(mounts.resolve('plain')?.prefix, 'plain/');
      await mounts.close();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('multipart: the size rules of a Complete', () => {
  const MiB = 1024 * 1024;
  const code = (fn: () => unknown): string | undefined => {
    try {
      fn();
      return undefined;
    } catch (err) {
      assert.ok(err instanceof ObjectError);
      return err.code;
    }
  };

  it('every part but the last at least the minimum; the last may be smaller', () => {
    assert.equal(checkCompletedSizes([{ partNumber: 1, size: 5 * MiB }, { partNumber: 2, size: 1 }], 5 * MiB), 5 * MiB + 1);
    assert.equal(checkCompletedSizes([{ partNumber: 1, size: 1 }], 5 * MiB), 1);
    assert.equal(code(() => checkCompletedSizes([{ partNumber: 1, size: 5 * MiB - 1 }, { partNumber: 2, size: 5 * MiB }], 5 * MiB)), 'EntityTooSmall');
    assert.equal(checkCompletedSizes([{ partNumber: 1, size: 1 }, { partNumber: 2, size: 1 }], 0), 2);
  });

  it('the whole at most 5 TiB', () => {
    const fiveGiB = 5 * 1024 ** 3;
    const parts = Array.from({ length: 1024 }, (_, i) => ({ partNumber: i + 1, size: fiveGiB }));
    assert.equal(checkCompletedSizes(parts, 5 * MiB), MAX_OBJECT_SIZE);
    assert.equal(code(() => checkCompletedSizes([...parts, { partNumber: 1025, size: 1 }], 5 * MiB)), 'EntityTooLarge');
    const e = toS3Error(new ObjectError('EntityTooLarge', 'x'), {});
    assert.ok(e instanceof S3Error && e.code === 'EntityTooLarge' && e.status === 400);
  });
});
