import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../common/log.js';
import { PageStore, type PageStoreOptions } from '../../worker/cache/page-store.js';

const PAGE = 1024;

interface LogLine { level: number; msg: string; [field: string]: unknown }

function capturingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { log: createLogger('page-store-test', 'debug', sink), lines };
}

function page(seed: number, size = PAGE): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (seed * 31 + i) & 0xff;
  return b;
}

/** Every page file under pages/ (meta files excluded), with its size. Tolerates directories being cleaned up meanwhile. */
async function pageFiles(dir: string): Promise<{ file: string; size: number }[]> {
  const out: { file: string; size: number }[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await fs.readdir(d, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name !== 'meta.json') out.push({ file: p, size: (await fs.stat(p)).size });
    }
  };
  await walk(path.join(dir, 'pages'));
  return out;
}

async function diskBytes(dir: string): Promise<number> {
  return (await pageFiles(dir)).reduce((n, f) => n + f.size, 0);
}

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

describe('PageStore', () => {
  let dir: string;
  let logger: ReturnType<typeof capturingLogger>;
  const open = (over: Partial<PageStoreOptions> = {}): Promise<PageStore> =>
    PageStore.open({ dir, capacityBytes: 16 * PAGE, pageSize: PAGE, log: logger.log, ...over });

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'page-store-'));
    logger = capturingLogger();
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('round-trips a page and accounts for it', async () => {
    const store = await open();
    assert.equal(await store.getPage('/b/o', 'etag1', 0, PAGE), null);
    await store.putPage('/b/o', 'etag1', 0, page(1));
    await store.putPage('/b/o', 'etag1', 1, page(2, 100));
    assert.ok(store.hasPage('/b/o', 'etag1', 0));
    assert.ok(!store.hasPage('/b/o', 'etag2', 0));
    assert.deepEqual(await store.getPage('/b/o', 'etag1', 0, PAGE), page(1));
    assert.deepEqual(await store.getPage('/b/o', 'etag1', 1, 100), page(2, 100));
    assert.equal(await store.getPage('/b/o', 'etag2', 0, PAGE), null, 'another fingerprint is a miss');
    assert.deepEqual(store.usage(), { usedBytes: PAGE + 100, capacityBytes: 16 * PAGE, pages: 2 });
    assert.equal(await diskBytes(dir), PAGE + 100);
    const h = sha256('/b/o');
    const meta = JSON.parse(await fs.readFile(path.join(dir, 'pages', h.slice(0, 2), h, createHash('sha1').update('etag1').digest('hex'), 'meta.json'), 'utf8'));
    assert.deepEqual(meta, { key: '/b/o', fingerprint: 'etag1' });
    await store.close();
  });

  it('drops a page whose stored length is not the expected one', async () => {
    const store = await open();
    await store.putPage('/b/o', 'e', 0, page(1, 500));
    assert.equal(await store.getPage('/b/o', 'e', 0, PAGE), null);
    assert.ok(!store.hasPage('/b/o', 'e', 0));
    assert.deepEqual(store.usage(), { usedBytes: 0, capacityBytes: 16 * PAGE, pages: 0 });
    assert.deepEqual(await pageFiles(dir), []);
    assert.ok(logger.lines.some((l) => l.level === 40 && /wrong length/.test(l.msg)));
    await store.close();
  });

  it('detects a page torn on disk (same entry, shorter file) on read', async () => {
    const store = await open();
    await store.putPage('/b/o', 'e', 0, page(1));
    await store.close();
    const [f] = await pageFiles(dir);
    await fs.truncate(f!.file, 10);
    const again = await open();
    assert.equal(await again.getPage('/b/o', 'e', 0, PAGE), null);
    assert.equal(again.usage().pages, 0);
    await again.close();
  });

  it('evicts least recently used pages first; a touched page survives', async () => {
    const store = await open({ capacityBytes: 4 * PAGE });
    for (let i = 0; i < 4; i++) await store.putPage('/b/o', 'e', i, page(i));
    assert.ok(await store.getPage('/b/o', 'e', 0, PAGE)); // page 0 is now the most recent
    await store.putPage('/b/o', 'e', 4, page(4));
    assert.deepEqual([0, 1, 2, 3, 4].map((i) => store.hasPage('/b/o', 'e', i)), [true, false, true, true, true]);
    await store.putPage('/b/other', 'e', 0, page(9));
    assert.deepEqual([0, 1, 2, 3, 4].map((i) => store.hasPage('/b/o', 'e', i)), [true, false, false, true, true]);
    assert.deepEqual(store.usage(), { usedBytes: 4 * PAGE, capacityBytes: 4 * PAGE, pages: 4 });
    assert.equal(await diskBytes(dir), 4 * PAGE);
    assert.equal((await pageFiles(dir)).length, 4);
    await store.close();
  });

  it('evicts several small pages to fit a big one', async () => {
    const store = await open({ capacityBytes: 4 * PAGE });
    for (let i = 0; i < 8; i++) await store.putPage('/b/small', 'e', i, page(i, PAGE / 2));
    await store.putPage('/b/big', 'e', 0, page(1));
    assert.deepEqual(store.usage(), { usedBytes: 4 * PAGE, capacityBytes: 4 * PAGE, pages: 7 });
    assert.ok(!store.hasPage('/b/small', 'e', 0) && !store.hasPage('/b/small', 'e', 1));
    assert.ok(store.hasPage('/b/small', 'e', 2) && store.hasPage('/b/big', 'e', 0));
    await store.close();
  });

  it('drops the pages of an older fingerprint when the object changes', async () => {
    const store = await open();
    await store.putPage('/b/o', 'v1', 0, page(1));
    await store.putPage('/b/o', 'v1', 1, page(2));
    await store.putPage('/b/keep', 'v1', 0, page(3));
    await store.putPage('/b/o', 'v2', 0, page(4));
    assert.ok(!store.hasPage('/b/o', 'v1', 0) && !store.hasPage('/b/o', 'v1', 1));
    assert.ok(store.hasPage('/b/o', 'v2', 0) && store.hasPage('/b/keep', 'v1', 0));
    assert.deepEqual(await store.getPage('/b/o', 'v2', 0, PAGE), page(4));
    assert.deepEqual(store.usage(), { usedBytes: 2 * PAGE, capacityBytes: 16 * PAGE, pages: 2 });
    assert.equal((await pageFiles(dir)).length, 2);
    const h = sha256('/b/o');
    assert.deepEqual(await fs.readdir(path.join(dir, 'pages', h.slice(0, 2), h)), [createHash('sha1').update('v2').digest('hex')]);
    await store.close();
  });

  it('invalidate drops every page of a key and removes its directories', async () => {
    const store = await open();
    await store.putPage('/b/o', 'v1', 0, page(1));
    await store.putPage('/b/o', 'v1', 3, page(2));
    await store.putPage('/b/keep', 'v1', 0, page(3));
    await store.invalidate('/b/o');
    await store.invalidate('/b/never-cached');
    assert.ok(!store.hasPage('/b/o', 'v1', 0) && !store.hasPage('/b/o', 'v1', 3));
    assert.deepEqual(await store.getPage('/b/keep', 'v1', 0, PAGE), page(3));
    assert.deepEqual(store.usage(), { usedBytes: PAGE, capacityBytes: 16 * PAGE, pages: 1 });
    await store.close(); // waits for the best-effort directory cleanup
    const h = sha256('/b/o');
    await assert.rejects(fs.stat(path.join(dir, 'pages', h.slice(0, 2), h)), { code: 'ENOENT' });
  });

  it('invalidate racing putPage leaves no page of the key behind', async () => {
    const store = await open({ capacityBytes: 64 * PAGE });
    for (let round = 0; round < 50; round++) {
      const puts = [0, 1, 2].map((i) => store.putPage('/b/race', `v${round}`, i, page(i)));
      // let some of the writes get part of the way before invalidating
      for (let t = 0; t < round % 5; t++) await new Promise((r) => setImmediate(r));
      await store.invalidate('/b/race');
      for (let i = 0; i < 3; i++) assert.ok(!store.hasPage('/b/race', `v${round}`, i), `round ${round} page ${i}`);
      await Promise.all(puts);
      for (let i = 0; i < 3; i++) assert.ok(!store.hasPage('/b/race', `v${round}`, i), `round ${round} page ${i} after puts`);
      assert.deepEqual(await pageFiles(dir), [], `round ${round}`);
    }
    // a fresh put after the invalidation is cached again
    await store.putPage('/b/race', 'v', 0, page(1));
    assert.ok(store.hasPage('/b/race', 'v', 0));
    await store.close();
  });

  it('a put issued right after invalidate is not lost to the cancelled write of the same page', async () => {
    const store = await open();
    const first = store.putPage('/b/o', 'v', 0, page(1));
    const inval = store.invalidate('/b/o');
    const second = store.putPage('/b/o', 'v', 0, page(1));
    await Promise.all([first, inval, second]);
    assert.ok(store.hasPage('/b/o', 'v', 0));
    assert.equal((await pageFiles(dir)).length, 1);
    await store.close();
  });

  it('survives a restart: same pages, same usage', async () => {
    const store = await open();
    for (let i = 0; i < 5; i++) await store.putPage(`/b/o${i % 2}`, 'e', i, page(i, PAGE - i));
    const before = store.usage();
    await store.close();
    const again = await open();
    assert.deepEqual(again.usage(), before);
    for (let i = 0; i < 5; i++) assert.deepEqual(await again.getPage(`/b/o${i % 2}`, 'e', i, PAGE - i), page(i, PAGE - i));
    await again.close();
  });

  it('a restart with a smaller capacity evicts the oldest pages (by mtime) down to it', async () => {
    const store = await open({ capacityBytes: 8 * PAGE });
    for (let i = 0; i < 8; i++) await store.putPage('/b/o', 'e', i, page(i));
    await store.close();
    // make the LRU order on disk explicit: page i was used at t0 + i, except page 0 most recently
    const files = await pageFiles(dir);
    const t0 = Date.now() / 1000 - 1000;
    for (const { file } of files) {
      const i = Number(path.basename(file));
      const t = i === 0 ? t0 + 100 : t0 + i;
      await fs.utimes(file, t, t);
    }
    const small = await open({ capacityBytes: 3 * PAGE });
    assert.deepEqual(small.usage(), { usedBytes: 3 * PAGE, capacityBytes: 3 * PAGE, pages: 3 });
    assert.deepEqual([...Array(8).keys()].filter((i) => small.hasPage('/b/o', 'e', i)), [0, 6, 7]);
    assert.equal(await diskBytes(dir), 3 * PAGE);
    await small.close();
  });

  it('removes leftover temp files on open', async () => {
    const store = await open();
    await store.putPage('/b/o', 'e', 0, page(1));
    await store.close();
    await fs.writeFile(path.join(dir, 'tmp', 'leftover-1'), 'partial');
    await fs.mkdir(path.join(dir, 'tmp', 'junk-dir'));
    const again = await open();
    assert.deepEqual(await fs.readdir(path.join(dir, 'tmp')), []);
    assert.equal(again.usage().pages, 1);
    await again.close();
  });

  it('empties itself when the page size changed since the last run', async () => {
    const store = await open();
    await store.putPage('/b/o', 'e', 0, page(1));
    await store.close();
    const again = await open({ pageSize: 2 * PAGE });
    assert.deepEqual(again.usage(), { usedBytes: 0, capacityBytes: 16 * PAGE, pages: 0 });
    assert.deepEqual(await pageFiles(dir), []);
    await again.close();
  });

  it('concurrent puts never exceed the capacity on disk and usage matches the files', async () => {
    const capacity = 8 * PAGE;
    const store = await open({ capacityBytes: capacity });
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 400; i++) {
      const key = `/b/k${i % 37}`;
      const size = 1 + ((i * 7919) % PAGE);
      ops.push(store.putPage(key, 'v1', i % 11, page(i, size)).then(() => {
        assert.ok(store.usage().usedBytes <= capacity);
      }));
      if (i % 10 === 0) ops.push(store.getPage(`/b/k${(i + 5) % 37}`, 'v1', i % 11, 1 + (((i - 50) * 7919) % PAGE)));
      if (i % 25 === 0) ops.push(store.invalidate(`/b/k${(i + 3) % 37}`));
      if (i % 40 === 0) ops.push(store.putPage(`/b/k${i % 37}`, 'v2', 0, page(i, 10)));
    }
    await Promise.all(ops);
    const files = await pageFiles(dir);
    const bytes = files.reduce((n, f) => n + f.size, 0);
    assert.ok(bytes <= capacity, `${bytes} bytes on disk > ${capacity}`);
    assert.equal(store.usage().usedBytes, bytes);
    assert.equal(store.usage().pages, files.length);
    assert.ok(store.usage().pages > 0);
    assert.deepEqual(await fs.readdir(path.join(dir, 'tmp')), []);
    await store.close();
    const again = await open({ capacityBytes: capacity });
    assert.equal(again.usage().usedBytes, bytes);
    await again.close();
  });

  it('concurrent puts of the same page store it once', async () => {
    const store = await open();
    await Promise.all(Array.from({ length: 20 }, () => store.putPage('/b/o', 'e', 0, page(5))));
    assert.deepEqual(store.usage(), { usedBytes: PAGE, capacityBytes: 16 * PAGE, pages: 1 });
    assert.deepEqual(await store.getPage('/b/o', 'e', 0, PAGE), page(5));
    assert.equal((await pageFiles(dir)).length, 1);
    assert.deepEqual(await fs.readdir(path.join(dir, 'tmp')), []);
    await store.close();
  });

  it('a read racing an eviction is a miss, never an error', async () => {
    const store = await open({ capacityBytes: PAGE });
    for (let i = 0; i < 100; i++) {
      await store.putPage('/b/a', 'e', i, page(i));
      const [got] = await Promise.all([store.getPage('/b/a', 'e', i, PAGE), store.putPage('/b/b', 'e', i, page(i + 1))]);
      assert.ok(got === null || got.equals(page(i)));
    }
    assert.ok(!logger.lines.some((l) => l.level >= 40), 'no warnings for a plain race');
    await store.close();
  });

  it('does not store a page larger than the capacity', async () => {
    const store = await open({ capacityBytes: PAGE / 2 });
    await store.putPage('/b/o', 'e', 0, page(1));
    assert.ok(!store.hasPage('/b/o', 'e', 0));
    assert.deepEqual(store.usage(), { usedBytes: 0, capacityBytes: PAGE / 2, pages: 0 });
    assert.deepEqual(await pageFiles(dir), []);
    await store.close();
  });

  it('a failed write is logged and skipped; putPage still resolves', async () => {
    const store = await open();
    await fs.rm(path.join(dir, 'tmp'), { recursive: true });
    await fs.writeFile(path.join(dir, 'tmp'), 'not a directory');
    await store.putPage('/b/o', 'e', 0, page(1));
    assert.ok(!store.hasPage('/b/o', 'e', 0));
    assert.deepEqual(store.usage(), { usedBytes: 0, capacityBytes: 16 * PAGE, pages: 0 });
    assert.ok(logger.lines.some((l) => l.level === 40 && l.msg === 'page write failed; not cached'));
    await store.close();
  });

  it('an unreadable page is a logged miss and is dropped', async () => {
    const store = await open();
    await store.putPage('/b/o', 'e', 0, page(1));
    const [f] = await pageFiles(dir);
    await fs.unlink(f!.file);
    await fs.mkdir(f!.file); // EISDIR on read
    assert.equal(await store.getPage('/b/o', 'e', 0, PAGE), null);
    assert.ok(!store.hasPage('/b/o', 'e', 0));
    assert.equal(store.usage().usedBytes, 0);
    assert.ok(logger.lines.some((l) => l.level === 40 && l.msg === 'cached page unreadable; dropped'));
    await store.close();
  });

  it('keys with unicode, spaces, dots and long names stay under the store directory', async () => {
    const store = await open({ capacityBytes: 64 * PAGE });
    const keys = [
      '/bucket/dir with spaces/ünïcödé/日本語 ☃.txt',
      '/bucket/../../../etc/passwd',
      '/bucket/a/b/c/',
      `/bucket/${'x'.repeat(5000)}`,
      '/bucket/emoji/🦀 %2F?#\\',
    ];
    for (const [i, key] of keys.entries()) await store.putPage(key, `fp ${key}`, 2, page(i, 100 + i));
    for (const [i, key] of keys.entries()) assert.deepEqual(await store.getPage(key, `fp ${key}`, 2, 100 + i), page(i, 100 + i), key);
    const files = await pageFiles(dir);
    assert.equal(files.length, keys.length);
    for (const { file } of files) assert.match(path.relative(dir, file), /^pages\/[0-9a-f]{2}\/[0-9a-f]{64}\/[0-9a-f]{40}\/2$/);
    await store.close();
    const again = await open({ capacityBytes: 64 * PAGE });
    for (const [i, key] of keys.entries()) assert.ok(again.hasPage(key, `fp ${key}`, 2));
    await again.invalidate(keys[0]!);
    assert.ok(!again.hasPage(keys[0]!, `fp ${keys[0]}`, 2));
    await again.close();
  });

  it('close waits for writes in flight', async () => {
    const store = await open();
    const puts = Array.from({ length: 10 }, (_, i) => store.putPage('/b/o', 'e', i, page(i)));
    await store.close();
    assert.equal((await pageFiles(dir)).length, store.usage().pages);
    await Promise.all(puts);
    await store.putPage('/b/o', 'e', 99, page(1)); // after close: a no-op
    assert.ok(!store.hasPage('/b/o', 'e', 99));
  });
});
