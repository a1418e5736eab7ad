import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type TestCluster } from '../helpers/cluster.js';

describe('local cluster processes', () => {
  let c: TestCluster;
  before(async () => { c = await startCluster(); });
  after(async () => { await c?.close(); });

  it('every worker is healthy and agrees on the ring', async () => {
    for (const w of c.workers) {
      const h = await (await fetch(`${w.endpoint}/_alluxio/health`)).json() as { id: string; ready: boolean };
      assert.equal(h.id, w.id);
      assert.equal(h.ready, true);
    }
  });
});
