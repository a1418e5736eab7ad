/**
 * Scaling out, measured on real processes: a 4th worker joins a 3-worker cluster holding 2000
 * objects. The owners come from the ring every process builds from the coordinator's member
 * list (/api/v1/workers + common/ring.ts); the test checks that what the workers actually do
 * matches it: only the moved keys are read from the UFS again, by the new worker, and every
 * key still reads back with its bytes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ring, objectPathKey } from '../../common/ring.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';

const N = 2000;
const bucket = 'scale';
const key = (i: number) => `data/part-${String(i).padStart(5, '0')}.bin`;
const body = (i: number) => `payload of ${i}:`.repeat(1 + (i % 50));

describe('adding a worker to a 3-worker cluster', () => {
  let c: TestCluster;

  before(async () => {
    c = await startCluster({ workers: 3 });
  });
  after(async () => {
    await c?.close();
  });

  async function owners(): Promise<string[]> {
    const res = await (await fetch(`http://127.0.0.1:${c.coordinatorWebPort}/api/v1/workers`)).json() as { workers: { id: string; state: string }[] };
    const ring = new Ring(res.workers.filter((w) => w.state === 'LIVE').map((w) => w.id));
    return Array.from({ length: N }, (_, i) => ring.owner(objectPathKey(bucket, key(i)))!);
  }

  async function readAll(): Promise<Map<string, number>> {
    const before = new Map<string, number>();
    for (const w of c.workers) before.set(w.id, (await c.stats(w)).ufs.reads);
    let next = 0;
    const lane = async (lane: number) => {
      while (next < N) {
        const i = next++;
        // Through any worker: a non-owner proxies to the owner.
        const w = c.workers[(i + lane) % c.workers.length];
        const r = await fetch(`${w.endpoint}/${bucket}/${key(i)}`);
        assert.equal(r.status, 200, key(i));
        assert.equal(await r.text(), body(i), key(i));
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, l) => lane(l)));
    const reads = new Map<string, number>();
    for (const w of c.workers) reads.set(w.id, (await c.stats(w)).ufs.reads - (before.get(w.id) ?? 0));
    return reads;
  }

  it('moves about 1/4 of the keys, all to the new worker; everything stays readable', async () => {
    assert.equal((await fetch(`${c.endpoint}/${bucket}`, { method: 'PUT' })).status, 200);
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < N) {
        const i = next++;
        const r = await fetch(`${c.workers[i % 3].endpoint}/${bucket}/${key(i)}`, { method: 'PUT', body: body(i) });
        assert.equal(r.status, 200, key(i));
      }
    }));
    const before = await owners();
    // Written objects are cached by their owner: reading them all touches no UFS.
    const warm = await readAll();
    assert.deepEqual([...warm.values()], [0, 0, 0], 'every read was a cache hit on the owner');

    const added = await c.addWorker();
    const after = await owners();
    let moved = 0;
    for (let i = 0; i < N; i++) {
      if (before[i] === after[i]) continue;
      moved++;
      assert.equal(after[i], added.id, `${key(i)} moved from ${before[i]} to ${after[i]}, not to the new worker`);
    }
    const fraction = moved / N;
    console.log(`scaling 3 → 4 workers: ${moved} of ${N} keys changed owner (${(fraction * 100).toFixed(1)}%; ideal 1/4 = 25%)`);
    assert.ok(fraction >= 0.15 && fraction <= 0.35, `moved ${(fraction * 100).toFixed(1)}%`);

    // The workers route by the same ring: only the moved keys miss (on the new owner).
    const reads = await readAll();
    assert.equal(reads.get(added.id), moved, 'the new worker read exactly the keys it took over');
    for (const w of c.workers.filter((x) => x !== added)) assert.equal(reads.get(w.id), 0, `${w.id} kept serving its keys from its cache`);
  });
});
