import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Writable } from 'node:stream';
import { createLogger } from '../../common/log.js';
import { LocalUnderFileSystem } from '../../common/ufs/local.js';
import { PageStore } from '../../worker/cache/page-store.js';
import { CachedReader } from '../../worker/objects/cached-reader.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const PAGE = 64 * 1024;
const PAGES = 40; // one UFS run (the reader fetches up to 64 pages per UFS request)

describe('CachedReader', () => {
  let tmp: string;
  let ufs: LocalUnderFileSystem;
  let store: PageStore;
  const data = randomBytes(PAGE * PAGES);

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cached-reader-'));
    await fs.mkdir(path.join(tmp, 'ufs'));
    await fs.writeFile(path.join(tmp, 'ufs', 'obj'), data);
    ufs = new LocalUnderFileSystem(path.join(tmp, 'ufs'), { options: {}, stagingDir: path.join(tmp, 'staging') });
    const log = createLogger('cached-reader-test', 'warn', new Writable({ write: (_c, _e, done) => done() }));
    store = await PageStore.open({ dir: path.join(tmp, 'cache'), capacityBytes: 2 * PAGE * PAGES, pageSize: PAGE, log });
  });

  after(async () => {
    await store.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  // 8 cold 512 MiB GETs held 1.2 GB: every page of a run stayed reachable (through the
  // resolving function of its single-flight promise) until the whole run was read.
  it('lets a cold page go once it is served and cached, before the run ends', async () => {
    const status = await ufs.stat('obj');
    assert.ok(status);
    const reader = new CachedReader(store, PAGE);
    // Pieces, not pages: a miss hands over the UFS's bytes as they come (several pages at once
    // here: the local UFS reads 1 MiB at a time), each with the offset where it ends.
    const refs: { ref: WeakRef<Buffer>; end: number }[] = [];
    const got: Buffer[] = [];
    let read = 0;
    for await (const chunk of reader.read(ufs, 'obj', 'b/obj', status, { start: 0, end: data.length - 1 })) {
      got.push(Buffer.from(chunk)); // a copy: the test must not be what holds the page
      read += chunk.length;
      refs.push({ ref: new WeakRef(chunk), end: read });
      if (read >= (PAGES - 2) * PAGE) break;
    }
    // WeakRefs hold their target until the end of the job that made them.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    // Pieces whose pages' cache writes have been awaited (all but the last few in flight) must be gone.
    const early = refs.filter((r) => r.end <= (PAGES - 12) * PAGE);
    assert.ok(early.length > 0, 'some pieces ended before the last pages');
    const held = early.filter((r) => r.ref.deref() !== undefined).length;
    assert.equal(held, 0, `${held} served pieces still reachable`);
    assert.deepEqual(Buffer.concat(got), data.subarray(0, read));
  });

  it('serves the bytes from the cache afterwards', async () => {
    const status = (await ufs.stat('obj'))!;
    const reader = new CachedReader(store, PAGE);
    const parts: Buffer[] = [];
    for await (const chunk of reader.read(ufs, 'obj', 'b/obj', status, { start: 100, end: data.length - 1 })) parts.push(chunk);
    assert.deepEqual(Buffer.concat(parts), data.subarray(100));
    assert.ok(reader.counters.pageHits >= PAGES - 2);
  });
});
