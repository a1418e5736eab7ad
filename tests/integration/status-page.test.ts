/**
 * The coordinator's status page in headless Chromium: it shows the members with their state,
 * ring share, cache and pinned usage, the mounts, the path policies and the persistence
 * backlog, with numbers that match the cluster; and it follows changes (a new mount, a lost
 * worker) without a reload. Chromium is /usr/bin/chromium (Debian's package); without it the
 * test fails. A screenshot is left in test-artifacts/status-page.png.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ringShares } from '../../coordinator/status.js';
import { REPO_ROOT, runCli, startCluster, tempDir, type TestCluster } from '../helpers/cluster.js';
import { s3Client } from '../helpers/s3.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = path.join(REPO_ROOT, 'test-artifacts', 'status-page.png');

describe('coordinator status page', () => {
  let c: TestCluster;
  let browser: Browser;
  let page: Page;
  const clients: S3Client[] = [];

  before(async () => {
    // A missing browser is a failure, never a skip.
    await fs.access(CHROMIUM).catch(() => { throw new Error(`${CHROMIUM} is missing: install Debian's chromium package`); });
    c = await startCluster({
      conf: {
        'alluxio.write.cache.enabled': 'true',
        // Persistence paused: the pinned bytes and the backlog stay what the test wrote.
        'alluxio.write.cache.async.persist.thread.pool.size': '0',
        'alluxio.worker.page.store.sizes': '32MB',
      },
    });
    const set = await runCli(['pathconfig', 'set', '/ckpt', '--policy', 'WRITE_BACK'], { conf: c.cliConf() });
    assert.equal(set.code, 0, set.stderr);
    await c.waitSettled();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  });

  after(async () => {
    for (const s of clients) s.destroy();
    await browser?.close();
    await c?.close();
  });

  /** The text of every cell of the workers table, per worker id. */
  async function workerRows(): Promise<Map<string, { state: string; share: number; cacheBytes: number; pinnedBytes: number; queue: number }>> {
    const rows = await page.$$eval('#workers tr', (trs) => trs.map((tr) => ({
      id: tr.querySelector('.worker-id')?.textContent ?? '',
      state: tr.querySelector('.worker-state')?.textContent ?? '',
      share: Number(tr.querySelector('.worker-ring-share')?.getAttribute('data-share')),
      cacheBytes: Number(tr.querySelector('.worker-cache')?.getAttribute('data-bytes')),
      pinnedBytes: Number(tr.querySelector('.worker-pinned')?.getAttribute('data-bytes')),
      queue: Number(tr.querySelector('.worker-persist-queue')?.textContent),
    })));
    return new Map(rows.map((r) => [r.id, r]));
  }

  async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await check()) return;
      if (Date.now() > deadline) throw new Error(`the page never showed ${what}; it shows:\n${await page.innerText('body')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('shows the cluster with true numbers and follows changes without a reload', async () => {
    const s3 = s3Client(c.endpoint);
    clients.push(s3);
    for (const b of ['data', 'ckpt']) await s3.send(new CreateBucketCommand({ Bucket: b }));
    // A known object, cached on its owner as it is written.
    const dataKey = 'model/weights.bin';
    const dataSize = 777_777;
    const owner = c.owner('data', dataKey);
    await s3.send(new PutObjectCommand({ Bucket: 'data', Key: dataKey, Body: Buffer.alloc(dataSize, 1) }));
    // A WRITE_BACK object: pinned on its owner until persisted (persistence is paused).
    const ckptKey = 'step-100.pt';
    const ckptSize = 123_456;
    const ckptOwner = c.owner('ckpt', ckptKey);
    await s3.send(new PutObjectCommand({ Bucket: 'ckpt', Key: ckptKey, Body: Buffer.alloc(ckptSize, 2) }));

    await page.goto(`http://127.0.0.1:${c.coordinatorWebPort}/`);
    assert.match(await page.title(), /cluster status/);
    // Heartbeats carry cache usage: the page shows it once the owner has reported.
    await until('the cache usage of the owner', async () => (await workerRows()).get(owner.id)?.cacheBytes === dataSize);

    const rows = await workerRows();
    assert.deepEqual([...rows.keys()].sort(), c.workers.map((w) => w.id).sort());
    const expectedShares = ringShares(c.workers.map((w) => w.id));
    for (const w of c.workers) {
      const r = rows.get(w.id)!;
      assert.equal(r.state, 'LIVE', w.id);
      assert.equal(r.share, expectedShares.get(w.id), `${w.id} ring share`);
      assert.equal(r.cacheBytes, w === owner ? dataSize : 0, `${w.id} cache used`);
      assert.equal(r.pinnedBytes, w === ckptOwner ? ckptSize : 0, `${w.id} pinned`);
      assert.equal(r.queue, w === ckptOwner ? 1 : 0, `${w.id} persistence queue`);
    }
    assert.equal(await page.textContent('#members-live'), '3');
    assert.equal(await page.textContent('#members-lost'), '0');
    assert.equal(await page.textContent('#persist-unpersisted'), '1');
    assert.equal(await page.getAttribute('#persist-pending-bytes', 'data-bytes'), String(ckptSize));
    assert.equal(await page.getAttribute('#pinned-total', 'data-bytes'), String(ckptSize));
    assert.equal(await page.textContent('#write-cache'), 'on');
    const health = await (await fetch(`http://127.0.0.1:${c.coordinatorWebPort}/health`)).json() as { version: number };
    assert.equal(await page.textContent('#cluster-version'), String(health.version));
    // The root mount and the policy.
    assert.equal(await page.locator('#mounts tr').count(), 1);
    assert.match(await page.innerText('#mounts tr[data-mount="/"]'), new RegExp(c.ufsRoot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.equal(await page.textContent('#policies tr[data-policy="/ckpt"] .policy-mode'), 'WRITE_BACK');
    assert.equal(await page.textContent('#policies tr[data-policy="/"] .policy-mode'), 'WRITE_THROUGH');

    // From here on the page must update itself: a reload would lose this marker.
    await page.evaluate(() => { (window as unknown as { marker: number }).marker = 42; });

    const extraDir = tempDir('status-extra');
    const add = await runCli(['mount', 'add', '/extra', `file://${extraDir}`, '--readonly'], { conf: c.cliConf() });
    assert.equal(add.code, 0, add.stderr);
    await until('the new mount', async () => (await page.locator('#mounts tr[data-mount="/extra"]').count()) === 1);
    assert.match(await page.innerText('#mounts tr[data-mount="/extra"]'), /read-only/);

    const victim = c.workers.find((w) => w !== owner)!;
    await c.killWorker(victim);
    await until(`${victim.id} as LOST`, async () => (await workerRows()).get(victim.id)?.state === 'LOST');
    await until('the ring shared by the two live workers', async () => {
      const r = await workerRows();
      const live = c.workers.filter((w) => w !== victim).map((w) => w.id);
      const shares = ringShares(live);
      return r.get(victim.id)?.share === 0 && live.every((id) => r.get(id)?.share === shares.get(id));
    });
    assert.equal(await page.textContent('#members-live'), '2');
    assert.equal(await page.textContent('#members-lost'), '1');
    assert.equal(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 42, 'the page was not reloaded');

    await fs.mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`status page screenshot: ${SCREENSHOT}`);
  });
});
