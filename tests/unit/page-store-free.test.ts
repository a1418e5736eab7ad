/**
 * PageStore.invalidateMatching (alluxio fs free on one worker) and the path rule it is called
 * with (common/namespace-path.ts): pages of the covered keys go, under every fingerprint, also
 * for keys cached by an earlier run of the store (their names come from meta.json); others stay.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../common/log.js';
import { coveredBy, normalizeNamespacePath } from '../../common/namespace-path.js';
import { PageStore } from '../../worker/cache/page-store.js';

const PAGE = 1024;
const log = createLogger('page-store-free-test', 'fatal');

describe('namespace paths of whole-prefix operations', () => {
  it('normalizes /bucket/dir and s3://bucket/dir, refuses what is not a namespace path', () => {
    assert.equal(normalizeNamespacePath('/b/dir'), '/b/dir');
    assert.equal(normalizeNamespacePath('s3://b/dir/'), '/b/dir/');
    assert.equal(normalizeNamespacePath(' /b '), '/b');
    for (const bad of ['b/dir', '/', '', '/b//x', '/b/../c', '/b/./c']) assert.throws(() => normalizeNamespacePath(bad), bad);
  });

  it('a path covers itself and what is below it, never a sibling sharing its prefix', () => {
    assert.ok(coveredBy('/b/dir', '/b/dir'));
    assert.ok(coveredBy('/b/dir/x/y', '/b/dir'));
    assert.ok(!coveredBy('/b/dir2/x', '/b/dir'));
    assert.ok(coveredBy('/b/dir/x', '/b/dir/'));
    assert.ok(!coveredBy('/b/dir', '/b/dir/'));
    assert.ok(coveredBy('/b/anything', '/b'));
    assert.ok(!coveredBy('/bb/x', '/b'));
  });
});

describe('PageStore.invalidateMatching', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'alluxio-free-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const open = () => PageStore.open({ dir, capacityBytes: 1024 * PAGE, pageSize: PAGE, log });

  it('drops the covered keys\' pages (all fingerprints), keeps the rest, and counts what it dropped', async () => {
    const store = await open();
    await store.putPage('/b/dir/a', 'fp1', 0, Buffer.alloc(PAGE, 1));
    await store.putPage('/b/dir/a', 'fp1', 1, Buffer.alloc(100, 2));
    await store.putPage('/b/dir/sub/c', 'fp3', 0, Buffer.alloc(PAGE, 3));
    await store.putPage('/b/dir2/x', 'fp4', 0, Buffer.alloc(PAGE, 4));
    await store.putPage('/other/dir/a', 'fp5', 0, Buffer.alloc(PAGE, 5));
    const r = await store.invalidateMatching((k) => coveredBy(k, '/b/dir'));
    assert.deepEqual(r, { keys: 2, pages: 3, bytes: 2 * PAGE + 100 });
    assert.equal(store.hasPage('/b/dir/a', 'fp1', 0), false);
    assert.equal(store.hasPage('/b/dir/a', 'fp1', 1), false);
    assert.equal(store.hasPage('/b/dir/sub/c', 'fp3', 0), false);
    assert.equal(store.hasPage('/b/dir2/x', 'fp4', 0), true);
    assert.equal(store.hasPage('/other/dir/a', 'fp5', 0), true);
    assert.deepEqual(store.usage(), { usedBytes: 2 * PAGE, capacityBytes: 1024 * PAGE, pages: 2 });
    assert.deepEqual(await store.invalidateMatching((k) => coveredBy(k, '/b/dir')), { keys: 0, pages: 0, bytes: 0 });
    await store.close();
  });

  it('finds the keys of pages cached before a restart by their meta file', async () => {
    const first = await open();
    await first.putPage('/b/dir/a', 'fp1', 0, Buffer.alloc(PAGE, 1));
    await first.putPage('/b/keep', 'fp2', 0, Buffer.alloc(PAGE, 2));
    await first.close();
    const second = await open();
    assert.equal(second.hasPage('/b/dir/a', 'fp1', 0), true);
    const r = await second.invalidateMatching((k) => coveredBy(k, '/b/dir'));
    assert.deepEqual(r, { keys: 1, pages: 1, bytes: PAGE });
    assert.equal(second.hasPage('/b/dir/a', 'fp1', 0), false);
    assert.equal(second.hasPage('/b/keep', 'fp2', 0), true);
    await second.close();
    const third = await open();
    assert.deepEqual(third.usage().pages, 1, 'the freed page files are gone from disk');
    await third.close();
  });
});
