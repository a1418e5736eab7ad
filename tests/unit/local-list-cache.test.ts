/**
 * The local UFS's listing engine and its directory snapshots, on a real directory: whatever
 * changes in the directory (through the adapter or behind its back) shows in the next listing,
 * with snapshots cached. A clock set ahead of the filesystem's makes every snapshot old enough
 * to keep, so the cached path is the one exercised; `cachedWeight` proves it was.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { DirectoryLister, fromWire, RACY_MS, type ListRequest } from '../../common/ufs/local-list.js';
import { LocalUnderFileSystem } from '../../common/ufs/local.js';
import { UfsError, type ListResult } from '../../common/ufs/types.js';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
const ahead = (): number => Date.now() + 60_000;

function list(l: DirectoryLister, prefix: string, opts: Partial<ListRequest> = {}): ListResult {
  const startDir = prefix.slice(0, prefix.lastIndexOf('/', prefix.length - 2) + 1);
  return fromWire(l.list({ prefix, startDir, maxKeys: 1000, ...opts }));
}

const keysOf = (r: ListResult): string[] => r.objects.map((o) => o.key);

async function put(ufs: LocalUnderFileSystem, key: string, text: string): Promise<void> {
  await ufs.write(key, Readable.from([Buffer.from(text)]), { beforeCommit: () => ({ md5Hex: md5(text) }) });
}

/** Every page, following lastKey: objects and common prefixes in key order. */
function pages(l: DirectoryLister, prefix: string, maxKeys: number, delimiter?: string): string[] {
  const out: string[] = [];
  let startAfter = '';
  for (let n = 0; n < 10_000; n++) {
    const p = list(l, prefix, { maxKeys, delimiter, startAfter });
    out.push(...[...keysOf(p), ...p.commonPrefixes].sort(byteOrder));
    if (!p.isTruncated) return out;
    startAfter = p.lastKey!;
  }
  throw new Error('listing does not end');
}

describe('local UFS listing: directory snapshots', () => {
  let root: string;
  let ufs: LocalUnderFileSystem;

  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'local-list-cache-'));
    ufs = new LocalUnderFileSystem(root, { options: {}, stagingDir: path.join(root, '..', 'unused-staging') });
  });
  after(async () => {
    await ufs.close();
    await fs.rm(root, { recursive: true, force: true });
  });

  it('files added, removed, renamed or replaced directly in the directory show in the next listing', async () => {
    const dir = path.join(root, 'flat');
    await fs.mkdir(dir);
    const names = Array.from({ length: 300 }, (_, i) => `k-${String(i).padStart(4, '0')}`);
    await Promise.all(names.map((n) => fs.writeFile(path.join(dir, n), n)));
    const l = new DirectoryLister(root, { now: ahead });
    assert.deepEqual(keysOf(list(l, 'flat/')), ['flat/', ...names.map((n) => `flat/${n}`)]);
    assert.ok(l.cachedWeight >= 300, `the 300-entry directory is cached (weight ${l.cachedWeight})`);

    await fs.writeFile(path.join(dir, 'k-0150a'), 'new');
    let keys = keysOf(list(l, 'flat/'));
    assert.ok(keys.includes('flat/k-0150a'), 'an added file is listed');
    assert.equal(keys.length, 302);

    await fs.rm(path.join(dir, 'k-0007'));
    keys = keysOf(list(l, 'flat/'));
    assert.ok(!keys.includes('flat/k-0007'), 'a removed file is gone');

    await fs.rename(path.join(dir, 'k-0008'), path.join(dir, 'z-renamed'));
    keys = keysOf(list(l, 'flat/'));
    assert.ok(!keys.includes('flat/k-0008') && keys.at(-1) === 'flat/z-renamed', 'a rename moves the key');

    await fs.rm(path.join(dir, 'k-0009'));
    await fs.mkdir(path.join(dir, 'k-0009'));
    await fs.writeFile(path.join(dir, 'k-0009', 'inner'), 'x');
    keys = keysOf(list(l, 'flat/'));
    assert.ok(!keys.includes('flat/k-0009') && keys.includes('flat/k-0009/') && keys.includes('flat/k-0009/inner'), 'a file replaced by a directory');
    // A page in the middle of the directory starts where it should, cached or not.
    const mid = list(l, 'flat/', { startAfter: 'flat/k-0149', maxKeys: 3 });
    assert.deepEqual(keysOf(mid), ['flat/k-0150', 'flat/k-0150a', 'flat/k-0151']);
    assert.ok(mid.isTruncated);
  });

  it('a file rewritten in place shows its new size and entity tag; sidecar ETags follow writes', async () => {
    await put(ufs, 'side/a', 'first');
    await put(ufs, 'side/b', 'bee');
    const l = new DirectoryLister(root, { now: ahead });
    let objs = list(l, 'side/').objects.filter((o) => !o.isDirectory);
    assert.deepEqual(objs.map((o) => [o.key, o.size, o.etag]), [['side/a', 5, md5('first')], ['side/b', 3, md5('bee')]]);

    // The same names, so no directory changes: only the per-key stat can see this.
    await fs.writeFile(path.join(root, 'side', 'a'), 'rewritten in place');
    objs = list(l, 'side/').objects.filter((o) => !o.isDirectory);
    assert.equal(objs[0].size, 'rewritten in place'.length);
    assert.match(objs[0].etag, /^[0-9a-f]{32}-1$/, 'a stale sidecar no longer names the file: opaque ETag');
    const st = await ufs.stat('side/a');
    assert.deepEqual([objs[0].etag, objs[0].fingerprint], [st!.etag, st!.fingerprint], 'listing agrees with stat');

    await put(ufs, 'side/a', 'third version');
    await put(ufs, 'side/c', 'sea');
    objs = list(l, 'side/').objects.filter((o) => !o.isDirectory);
    assert.deepEqual(objs.map((o) => [o.key, o.etag]), [['side/a', md5('third version')], ['side/b', md5('bee')], ['side/c', md5('sea')]]);

    await ufs.delete('side/b');
    assert.deepEqual(keysOf(list(l, 'side/')), ['side/', 'side/a', 'side/c']);
  });

  it('a directory changed within RACY_MS is read again rather than kept', async () => {
    await fs.mkdir(path.join(root, 'racy'));
    await fs.writeFile(path.join(root, 'racy', 'x'), 'x');
    const l = new DirectoryLister(root);
    list(l, 'racy/');
    assert.equal(l.cachedWeight, 0, 'nothing kept: every directory on the way changed just now');
    // Changes in quick succession, within one timestamp tick, are all seen.
    for (let i = 0; i < 20; i++) {
      await fs.writeFile(path.join(root, 'racy', `y${i}`), 'y');
      assert.ok(keysOf(list(l, 'racy/')).includes(`racy/y${i}`));
    }
    assert.ok(RACY_MS >= 1000, 'covers filesystems with one-second timestamps');
  });

  it('pages and delimiters rebuild the same listing from snapshots as from a cold read', async () => {
    const keys = ['t/a b', 't/a+b', 't/a-c', 't/a/b', 't/a/c/d', 't/a0', 't/b', 't/é', 't/日本', 't/～', 't/😀', 't/😀😀/x', 't/z/1', 't/z/2', 't/z/3'];
    for (const k of keys) await put(ufs, k, k);
    const warm = new DirectoryLister(root, { now: ahead });
    const full = keysOf(list(warm, 't/'));
    assert.deepEqual(full, [...full].sort(byteOrder), 'UTF-8 byte order');
    for (const k of keys) assert.ok(full.includes(k), k);
    for (const delimiter of [undefined, '/', 'b']) {
      const cold = pages(new DirectoryLister(root), 't/', 1000, delimiter);
      for (const maxKeys of [1, 2, 3, 7]) {
        assert.deepEqual(pages(warm, 't/', maxKeys, delimiter), cold, `maxKeys ${maxKeys} delimiter ${delimiter}`);
      }
    }
    assert.deepEqual(list(warm, 't/a', { delimiter: '/' }).commonPrefixes, ['t/a/']);
    assert.deepEqual(keysOf(list(warm, 't/z/', { startAfter: 't/z/1' })), ['t/z/2', 't/z/3']);
  });

  it('keeps within its entry budget and stays right when snapshots are evicted', async () => {
    for (let d = 0; d < 5; d++) {
      await fs.mkdir(path.join(root, 'many', `d${d}`), { recursive: true });
      await Promise.all(Array.from({ length: 50 }, (_, i) => fs.writeFile(path.join(root, 'many', `d${d}`, `f${i}`), '')));
    }
    const l = new DirectoryLister(root, { now: ahead, maxEntries: 100 });
    const cold = pages(new DirectoryLister(root), 'many/', 1000);
    assert.equal(cold.length, 1 + 5 + 250);
    for (let round = 0; round < 3; round++) {
      assert.deepEqual(pages(l, 'many/', 40), cold);
      assert.ok(l.cachedWeight <= 100, `weight ${l.cachedWeight} within the budget`);
    }
  });

  it('the adapter lists through its thread, finishes listings in flight when closed, then refuses', async () => {
    const own = await fs.mkdtemp(path.join(os.tmpdir(), 'local-list-thread-'));
    const local = new LocalUnderFileSystem(own, { options: {}, stagingDir: path.join(own, 'staging') });
    try {
      await put(local, 'b/one', '1');
      const r = await local.list({ prefix: 'b/', maxKeys: 10 });
      assert.deepEqual(r.objects.map((o) => [o.key, o.etag]), [['b/', 'd41d8cd98f00b204e9800998ecf8427e'], ['b/one', md5('1')]]);
      await assert.rejects(local.list({ prefix: '.alluxio-meta/x', maxKeys: 10 }), (e) => e instanceof UfsError && e.code === 'InvalidKey');
      // A listing in flight when the adapter closes (a mount replaced) still answers.
      const inFlight = local.list({ prefix: 'b/', maxKeys: 10 });
      await local.close();
      assert.deepEqual((await inFlight).objects.map((o) => o.key), ['b/', 'b/one']);
      await assert.rejects(local.list({ prefix: 'b/', maxKeys: 10 }), (e) => e instanceof UfsError && e.code === 'Unavailable');
    } finally {
      await local.close();
      await fs.rm(own, { recursive: true, force: true });
    }
  });
});
