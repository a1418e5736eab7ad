import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { compareKeys, LocalUnderFileSystem } from '../../common/ufs/local.js';
import { UfsError } from '../../common/ufs/types.js';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

async function put(ufs: LocalUnderFileSystem, key: string, text = key): Promise<void> {
  await ufs.write(key, Readable.from([Buffer.from(text)]), { beforeCommit: () => ({ md5Hex: md5(text) }) });
}

/** Every file and directory under `dir`, relative, sorted. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(path.relative(dir, p) + (e.isDirectory() ? '/' : ''));
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return out.sort();
}

function isInvalidKey(err: unknown): boolean {
  assert.ok(err instanceof UfsError, `expected a UfsError, got ${String(err)}`);
  assert.equal(err.code, 'InvalidKey');
  return true;
}

describe('LocalUnderFileSystem: keys never leave the root', () => {
  let outer: string;
  let root: string;
  let ufs: LocalUnderFileSystem;

  before(async () => {
    outer = await fs.mkdtemp(path.join(os.tmpdir(), 'local-ufs-paths-'));
    root = path.join(outer, 'root');
    await fs.mkdir(path.join(root, 'a'), { recursive: true });
    await fs.writeFile(path.join(outer, 'secret'), 'outside the root');
    ufs = new LocalUnderFileSystem(root, { options: {}, stagingDir: path.join(outer, 'staging') });
    await put(ufs, 'bkt/obj', 'inside');
  });
  after(async () => {
    await fs.rm(outer, { recursive: true, force: true });
  });

  const badKeys = [
    '../x',
    '../secret',
    'a/../../x',
    'a/../../secret',
    'a/./b',
    './x',
    'a/..',
    '..',
    '.',
    'a\0b',
    '\0',
    '.alluxio-meta/x',
    '.alluxio-meta/bkt/obj.meta.json',
    '.alluxio-tmp/x',
    '.alluxio-meta',
    '.alluxio-tmp',
    '/etc/passwd',
  ];
  for (const key of badKeys) {
    describe(`key ${JSON.stringify(key)}`, () => {
      it('stat → InvalidKey', async () => {
        await assert.rejects(ufs.stat(key), isInvalidKey);
      });
      it('read → InvalidKey', async () => {
        await assert.rejects(ufs.read(key), isInvalidKey);
      });
      it('write → InvalidKey', async () => {
        await assert.rejects(put(ufs, key, 'escaped'), isInvalidKey);
      });
      it('delete → InvalidKey', async () => {
        await assert.rejects(ufs.delete(key), isInvalidKey);
      });
    });
  }

  it('mkdir of an escaping folder key → InvalidKey', async () => {
    for (const key of ['../d/', 'a/../../d/', '.alluxio-meta/d/', '.alluxio-tmp/d/']) {
      await assert.rejects(ufs.mkdir(key), isInvalidKey, key);
    }
  });

  it('created nothing outside the root and changed nothing inside it', async () => {
    assert.deepEqual(await fs.readdir(outer).then((l) => l.sort()), ['root', 'secret']);
    assert.equal(await fs.readFile(path.join(outer, 'secret'), 'utf8'), 'outside the root');
    const inside = (await tree(root)).filter((p) => !p.startsWith('.alluxio-'));
    assert.deepEqual(inside, ['a/', 'bkt/', 'bkt/obj']);
    const st = await ufs.stat('bkt/obj');
    assert.equal(st?.size, 6);
    assert.equal(st?.etag, md5('inside'));
  });

  it('accepts keys that only look odd, and keeps them inside the root', async () => {
    const odd = ['bkt/..x', 'bkt/x..', 'bkt/...', 'bkt/.hidden', 'bkt/%2e%2e', 'bkt/a..b/c', 'bkt/.alluxio-meta/x', 'bkt/.alluxio-tmp/y'];
    for (const key of odd) {
      await put(ufs, key, `v:${key}`);
      assert.equal(await fs.readFile(path.join(root, ...key.split('/')), 'utf8'), `v:${key}`, key);
      const st = await ufs.stat(key);
      assert.equal(st?.etag, md5(`v:${key}`), key);
    }
    const listed = (await ufs.list({ prefix: 'bkt/', maxKeys: 1000 })).objects.map((o) => o.key);
    for (const key of odd) assert.ok(listed.includes(key), `${key} is listed`);
    for (const key of odd) await ufs.delete(key);
    assert.equal(await ufs.stat('bkt/.alluxio-meta/x'), null);
  });

  it('listing never shows the reserved folders', async () => {
    const { objects, commonPrefixes } = await ufs.list({ prefix: '', maxKeys: 1000 });
    const keys = [...objects.map((o) => o.key), ...commonPrefixes];
    assert.ok(keys.every((k) => !k.startsWith('.alluxio-')), keys.join(', '));
    const delimited = await ufs.list({ prefix: '', delimiter: '/', maxKeys: 1000 });
    assert.deepEqual(delimited.commonPrefixes, ['a/', 'bkt/']);
  });
});

describe('compareKeys: UTF-8 byte order, as S3 lists', () => {
  const pairs: [string, string][] = [
    ['a', 'b'],
    ['a', 'a/'],
    ['a b', 'a+b'],
    ['a+b', 'a-c'],
    ['a-c', 'a/b'],
    ['a/b', 'a0'],
    ['A', 'a'],
    ['z', '\u00e9'],
    // UTF-16 order differs from UTF-8 order from here on: a surrogate pair (D83D…) sorts before
    // U+E000..U+FFFF in UTF-16, but its UTF-8 lead byte F0 sorts after EE/EF.
    ['\u00e9', '\uffff'],
    ['\uffff', '\u{1F600}'],
    ['\ue000', '\u{1F600}'],
    ['\uff21', '\u{10000}'],
  ];
  for (const [lo, hi] of pairs) {
    it(`${JSON.stringify(lo)} < ${JSON.stringify(hi)}`, () => {
      assert.ok(compareKeys(lo, hi) < 0);
      assert.ok(compareKeys(hi, lo) > 0);
      assert.equal(compareKeys(lo, lo), 0);
    });
  }

  it('differs from JS string order where UTF-16 and UTF-8 disagree', () => {
    const keys = ['\u{1F600}', '\uffff', '\u00e9'];
    assert.deepEqual([...keys].sort(), ['\u00e9', '\u{1F600}', '\uffff'], 'UTF-16 order');
    assert.deepEqual([...keys].sort(compareKeys), ['\u00e9', '\uffff', '\u{1F600}'], 'UTF-8 order');
  });
});

describe('LocalUnderFileSystem: listing order is UTF-8 byte order', () => {
  let outer: string;
  let ufs: LocalUnderFileSystem;

  // A plain file "a" cannot coexist with the directory holding "a/b" on a filesystem, so the tree
  // uses "a0" for the key just after the "a/" subtree instead.
  const written = ['a-c', 'a/b', 'a+b', 'a b', 'a0', 'ab/c', '\u00e9', '\uff21', '\u{1F600}'];
  // Sub-directories are listed as folder objects "a/" and "ab/", right before their contents.
  const expected = ['a b', 'a+b', 'a-c', 'a/', 'a/b', 'a0', 'ab/', 'ab/c', '\u00e9', '\uff21', '\u{1F600}'];

  before(async () => {
    outer = await fs.mkdtemp(path.join(os.tmpdir(), 'local-ufs-order-'));
    ufs = new LocalUnderFileSystem(path.join(outer, 'root'), { options: {}, stagingDir: path.join(outer, 'staging') });
    await fs.mkdir(path.join(outer, 'root'));
    for (const key of written) await put(ufs, key);
  });
  after(async () => {
    await fs.rm(outer, { recursive: true, force: true });
  });

  it('the expected order is the byte order', () => {
    const bytewise = [...expected].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual(bytewise, expected);
  });

  it('a full listing returns objects and folder objects in byte order', async () => {
    const r = await ufs.list({ prefix: '', maxKeys: 1000 });
    assert.deepEqual(r.objects.map((o) => o.key), expected);
    assert.deepEqual(r.commonPrefixes, []);
    assert.equal(r.isTruncated, false);
    assert.deepEqual(r.objects.filter((o) => o.isDirectory).map((o) => o.key), ['a/', 'ab/']);
  });

  it('with delimiter "/" the directories roll up into common prefixes', async () => {
    const r = await ufs.list({ prefix: '', delimiter: '/', maxKeys: 1000 });
    assert.deepEqual(r.objects.map((o) => o.key), ['a b', 'a+b', 'a-c', 'a0', '\u00e9', '\uff21', '\u{1F600}']);
    assert.deepEqual(r.commonPrefixes, ['a/', 'ab/']);
  });

  it('a prefix selects a byte-ordered slice', async () => {
    const r = await ufs.list({ prefix: 'a', maxKeys: 1000 });
    assert.deepEqual(r.objects.map((o) => o.key), expected.filter((k) => k.startsWith('a')));
  });

  for (const pageSize of [1, 2, 4]) {
    it(`paging ${pageSize} at a time with delimiter "/" returns each key and prefix once, in order`, async () => {
      const seen: string[] = [];
      let startAfter = '';
      for (let page = 0; page < 50; page++) {
        const r = await ufs.list({ prefix: '', delimiter: '/', startAfter, maxKeys: pageSize });
        seen.push(...[...r.objects.map((o) => o.key), ...r.commonPrefixes].sort(compareKeys));
        if (!r.isTruncated) break;
        assert.ok(r.lastKey !== undefined, 'a truncated page names its last key');
        startAfter = r.lastKey;
      }
      assert.deepEqual(seen, ['a b', 'a+b', 'a-c', 'a/', 'a0', 'ab/', '\u00e9', '\uff21', '\u{1F600}']);
    });
  }

  for (const pageSize of [1, 2, 3]) {
    it(`paging ${pageSize} at a time with startAfter gives the same order`, async () => {
      const seen: string[] = [];
      let startAfter = '';
      for (let page = 0; page < 50; page++) {
        const r = await ufs.list({ prefix: '', startAfter, maxKeys: pageSize });
        seen.push(...r.objects.map((o) => o.key));
        if (!r.isTruncated) break;
        assert.ok(r.lastKey !== undefined, 'a truncated page names its last key');
        startAfter = r.lastKey;
      }
      assert.deepEqual(seen, expected);
    });
  }
});
