/**
 * Prometheus metrics with true numbers: a 3-worker cluster (write cache on, one WRITE_BACK path
 * with 2 replicas, persistence paused so the backlog holds still), a known workload through
 * the JS SDK, then every worker's /metrics (on its web port) and the coordinator's /metrics are
 * scraped, parsed, and each counter's change compared with what the workload did.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { Ring, objectPathKey } from '../../common/ring.js';
import { runCli, startCluster, type TestCluster, type TestWorker } from '../helpers/cluster.js';
import { scrape, single, sum, type Exposition } from '../helpers/prometheus.js';

const MiB = 1024 * 1024;

/** The SDK without its default checksums, so request bodies on the wire are exactly the object bytes. */
function client(endpoint: string): S3Client {
  return new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'alice', secretAccessKey: 'any' },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

async function getBody(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

/** What one worker is expected to have counted, as deltas over the workload. */
interface Expected {
  requests: Map<string, number>; // "op status" → count
  received: number;
  sent: number;
  pageHits: number;
  pageMisses: number;
  hitBytes: number;
  missBytes: number;
  ufsReads: number;
  ufsReadBytes: number;
  proxied: number;
  fromPeers: number;
  replicasSent: number;
  replicaBytesSent: number;
  replicasReceived: number;
  replicaBytesReceived: number;
}

function expected(): Expected {
  return { requests: new Map(), received: 0, sent: 0, pageHits: 0, pageMisses: 0, hitBytes: 0, missBytes: 0, ufsReads: 0, ufsReadBytes: 0, proxied: 0, fromPeers: 0, replicasSent: 0, replicaBytesSent: 0, replicasReceived: 0, replicaBytesReceived: 0 };
}

function count(e: Expected, op: string, status: number): void {
  const k = `${op} ${status}`;
  e.requests.set(k, (e.requests.get(k) ?? 0) + 1);
}

describe('Prometheus metrics', () => {
  let c: TestCluster;
  const clients = new Map<string, S3Client>();
  const pageSize = MiB;

  before(async () => {
    c = await startCluster({
      conf: {
        'alluxio.write.cache.enabled': 'true',
        // Persistence paused: the backlog, pinned bytes and queue depth stay what the test wrote.
        'alluxio.write.cache.async.persist.thread.pool.size': '0',
        'alluxio.worker.page.store.sizes': '64MB',
      },
    });
    for (const w of c.workers) clients.set(w.id, client(w.endpoint));
    const s3 = clients.get('worker-0')!;
    for (const b of ['metrics', 'wb']) await s3.send(new CreateBucketCommand({ Bucket: b }));
    const set = await runCli(['pathconfig', 'set', '/wb', '--policy', 'WRITE_BACK', '--replicas', '2'], { conf: c.cliConf() });
    assert.equal(set.code, 0, set.stderr);
    await c.waitSettled();
  });

  after(async () => {
    for (const s of clients.values()) s.destroy();
    await c?.close();
  });

  it('the S3 port keeps /metrics for a bucket of that name; the web port serves /metrics and /health', async () => {
    const w = c.workers[0];
    const listing = await fetch(`${w.endpoint}/metrics`);
    assert.equal(listing.status, 200);
    assert.match(await listing.text(), /<ListBucketResult/);
    const health = await fetch(`http://127.0.0.1:${w.webPort}/health`);
    assert.equal(health.status, 200);
    const h = await health.json() as { id: string; ready: boolean; membersUp: number };
    assert.equal(h.id, w.id);
    assert.equal(h.ready, true);
    assert.equal(h.membersUp, 3);
    assert.equal((await fetch(`http://127.0.0.1:${w.webPort}/nope`)).status, 404);
    // The stats endpoint beside the S3 API is unchanged.
    assert.equal((await fetch(`${w.endpoint}/_alluxio/stats`)).status, 200);
  });

  it('every worker\'s and the coordinator\'s counters match a known workload', async () => {
    const webUrl = (w: TestWorker) => `http://127.0.0.1:${w.webPort}/metrics`;
    const coordUrl = `http://127.0.0.1:${c.coordinatorWebPort}/metrics`;
    const before = new Map<string, Exposition>();
    for (const w of c.workers) before.set(w.id, await scrape(webUrl(w)));
    const coordBefore = await scrape(coordUrl);
    const exp = new Map(c.workers.map((w) => [w.id, expected()]));
    const E = (w: TestWorker) => exp.get(w.id)!;

    // Per worker, sent straight to the owner: a 2-page PUT read back twice (cached on write:
    // hits only), a 3-page object put into the UFS behind the cluster's back read twice (a
    // miss, then hits), and a HEAD of a missing key.
    const sizes = new Map<string, { put: number; ufs: number }>();
    for (const w of c.workers) {
      const s3 = clients.get(w.id)!;
      const e = E(w);
      const putKey = c.keyOwnedBy(w, 'metrics', 'put-');
      const putSize = Math.floor(1.5 * MiB) + w.index * 1000;
      const body = bytes(putSize, w.index);
      await s3.send(new PutObjectCommand({ Bucket: 'metrics', Key: putKey, Body: body }));
      count(e, 'PutObject', 200);
      e.received += putSize;
      for (let i = 0; i < 2; i++) {
        assert.ok((await getBody(s3, 'metrics', putKey)).equals(body));
        count(e, 'GetObject', 200);
        e.sent += putSize;
        e.pageHits += 2;
        e.hitBytes += putSize;
      }

      const ufsKey = c.keyOwnedBy(w, 'metrics', 'ufs-');
      const ufsSize = Math.floor(2.5 * MiB) + 7 + w.index;
      const ufsBody = bytes(ufsSize, 100 + w.index);
      await fs.writeFile(path.join(c.ufsRoot, 'metrics', ufsKey), ufsBody);
      assert.ok((await getBody(s3, 'metrics', ufsKey)).equals(ufsBody));
      count(e, 'GetObject', 200);
      e.sent += ufsSize;
      e.pageMisses += Math.ceil(ufsSize / pageSize);
      e.missBytes += ufsSize;
      e.ufsReads += 1;
      e.ufsReadBytes += ufsSize;
      assert.ok((await getBody(s3, 'metrics', ufsKey)).equals(ufsBody));
      count(e, 'GetObject', 200);
      e.sent += ufsSize;
      e.pageHits += Math.ceil(ufsSize / pageSize);
      e.hitBytes += ufsSize;

      await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: 'metrics', Key: c.keyOwnedBy(w, 'metrics', 'missing-') })), { name: 'NotFound' });
      count(e, 'HeadObject', 404);
      sizes.set(w.id, { put: putSize, ufs: ufsSize });
    }

    // A GET sent to worker-0 for worker-1's object: proxied there, served (from cache) by worker-1.
    const [w0, w1, w2] = c.workers;
    const k1 = c.keyOwnedBy(w1, 'metrics', 'put-');
    const s1 = sizes.get(w1.id)!.put;
    assert.equal((await getBody(clients.get(w0.id)!, 'metrics', k1)).length, s1);
    count(E(w0), 'GetObject', 200);
    E(w0).sent += s1;
    E(w0).proxied += 1;
    count(E(w1), 'GetObject', 200);
    E(w1).sent += s1;
    E(w1).fromPeers += 1;
    E(w1).pageHits += 2;
    E(w1).hitBytes += s1;

    // A WRITE_BACK put with 2 replicas: pinned on its owner and one peer, queued for persistence.
    const wbKey = c.keyOwnedBy(w2, 'wb', 'ckpt-');
    const wbSize = 300_000;
    await clients.get(w2.id)!.send(new PutObjectCommand({ Bucket: 'wb', Key: wbKey, Body: bytes(wbSize, 7) }));
    count(E(w2), 'PutObject', 200);
    E(w2).received += wbSize;
    E(w2).replicasSent += 1;
    E(w2).replicaBytesSent += wbSize;
    const holders = new Ring(c.workers.map((w) => w.id)).owners(objectPathKey('wb', wbKey), 2);
    assert.equal(holders[0], w2.id);
    const replicaHolder = c.workers.find((w) => w.id === holders[1])!;
    E(replicaHolder).replicasReceived += 1;
    E(replicaHolder).replicaBytesReceived += wbSize;

    // One CLI call the coordinator answers over gRPC, to count.
    const list = await runCli(['worker', 'list'], { conf: c.cliConf() });
    assert.equal(list.code, 0, list.stderr);

    for (const w of c.workers) {
      const b = before.get(w.id)!;
      const a = await scrape(webUrl(w));
      const e = E(w);
      const delta = (name: string, match: Record<string, string> = {}) => sum(a, name, match) - sum(b, name, match);
      const where = `${w.id}`;
      for (const [k, n] of e.requests) {
        const [op, status] = k.split(' ');
        assert.equal(delta('alluxio_s3_requests_total', { op, status }), n, `${where}: ${op} ${status}`);
      }
      // Nothing else reached this worker's S3 port.
      assert.equal(delta('alluxio_s3_requests_total'), [...e.requests.values()].reduce((x, y) => x + y, 0), `${where}: all requests`);
      assert.equal(delta('alluxio_s3_request_duration_seconds_count', { op: 'GetObject' }), e.requests.get('GetObject 200') ?? 0, `${where}: GET latency observations`);
      assert.equal(delta('alluxio_s3_received_bytes_total'), e.received, `${where}: bytes in`);
      assert.equal(delta('alluxio_s3_sent_bytes_total'), e.sent, `${where}: bytes out`);
      assert.equal(delta('alluxio_s3_proxied_requests_total', { op: 'GetObject' }), e.proxied, `${where}: proxied`);
      assert.equal(delta('alluxio_s3_peer_requests_total'), e.fromPeers, `${where}: from peers`);
      assert.equal(delta('alluxio_s3_redirected_requests_total'), 0, `${where}: redirected`);
      assert.equal(delta('alluxio_cache_page_hits_total'), e.pageHits, `${where}: page hits`);
      assert.equal(delta('alluxio_cache_page_misses_total'), e.pageMisses, `${where}: page misses`);
      assert.equal(delta('alluxio_cache_hit_bytes_total'), e.hitBytes, `${where}: hit bytes`);
      assert.equal(delta('alluxio_cache_miss_bytes_total'), e.missBytes, `${where}: miss bytes`);
      assert.equal(delta('alluxio_ufs_operations_total', { op: 'read' }), e.ufsReads, `${where}: UFS reads`);
      assert.equal(delta('alluxio_ufs_operation_duration_seconds_count', { op: 'read' }), e.ufsReads, `${where}: UFS read latency observations`);
      assert.equal(delta('alluxio_ufs_read_bytes_total'), e.ufsReadBytes, `${where}: UFS read bytes`);
      assert.equal(delta('alluxio_replication_sent_requests_total'), e.replicasSent, `${where}: replicas sent`);
      assert.equal(delta('alluxio_replication_sent_bytes_total'), e.replicaBytesSent, `${where}: replica bytes sent`);
      assert.equal(delta('alluxio_replication_received_requests_total'), e.replicasReceived, `${where}: replicas received`);
      assert.equal(delta('alluxio_replication_received_bytes_total'), e.replicaBytesReceived, `${where}: replica bytes received`);
      assert.equal(delta('alluxio_cache_evicted_pages_total'), 0, `${where}: evictions`);

      // Gauges, absolute. The page store holds exactly the two objects this worker owns.
      const s = sizes.get(w.id)!;
      assert.equal(single(a, 'alluxio_page_store_used_bytes'), s.put + s.ufs, `${where}: page store bytes`);
      assert.equal(single(a, 'alluxio_page_store_pages'), Math.ceil(s.put / pageSize) + Math.ceil(s.ufs / pageSize), `${where}: pages`);
      assert.equal(single(a, 'alluxio_page_store_capacity_bytes'), 64 * MiB, `${where}: capacity`);
      const pinned = holders.includes(w.id) ? wbSize : 0;
      assert.equal(single(a, 'alluxio_pinned_bytes'), pinned, `${where}: pinned bytes`);
      assert.equal(single(a, 'alluxio_pinned_files'), pinned ? 1 : 0, `${where}: pinned files`);
      assert.equal(single(a, 'alluxio_persist_queue_depth'), w === w2 ? 1 : 0, `${where}: persistence queue`);
      assert.equal(single(a, 'alluxio_persist_in_flight'), 0, `${where}: persisting now`);
      assert.ok(single(a, 'alluxio_persist_oldest_unpersisted_age_seconds') > 0 === (w === w2), `${where}: oldest unpersisted age`);
      assert.equal(single(a, 'alluxio_cluster_members_up'), 3, `${where}: members up`);
      const health = await (await fetch(`${w.endpoint}/_alluxio/health`)).json() as { version: number; pathConfigVersion: number };
      assert.equal(single(a, 'alluxio_cluster_version'), health.version, `${where}: ring version`);
      assert.equal(single(a, 'alluxio_path_config_version'), health.pathConfigVersion, `${where}: path config version`);
      assert.equal(single(a, 'alluxio_write_cache_enabled'), 1);
      // The same numbers /_alluxio/stats reports.
      const stats = await c.stats(w);
      assert.equal(sum(a, 'alluxio_cache_page_hits_total'), stats.cache.pageHits, `${where}: hits agree with /_alluxio/stats`);
      assert.equal(sum(a, 'alluxio_ufs_read_bytes_total'), stats.ufs.readBytes, `${where}: UFS bytes agree with /_alluxio/stats`);
      // Default process metrics, labelled with the worker.
      assert.ok(single(a, 'process_resident_memory_bytes', { worker: w.id }) > 0);
    }

    const ca = await scrape(coordUrl);
    const ch = await (await fetch(`http://127.0.0.1:${c.coordinatorWebPort}/health`)).json() as { version: number };
    assert.equal(single(ca, 'alluxio_coordinator_workers', { state: 'LIVE' }), 3);
    assert.equal(single(ca, 'alluxio_coordinator_workers', { state: 'LOST' }), 0);
    assert.equal(single(ca, 'alluxio_cluster_version'), ch.version);
    for (const w of c.workers) assert.equal(single(await scrape(webUrl(w)), 'alluxio_cluster_version'), ch.version, `${w.id} serves with the coordinator's version`);
    assert.equal(single(ca, 'alluxio_coordinator_mounts'), 1);
    const pc = await fetch(`http://127.0.0.1:${c.coordinatorWebPort}/api/v1/pathconfig`);
    assert.equal(single(ca, 'alluxio_path_config_version'), Number(pc.headers.get('x-alluxio-path-config-version')));
    assert.equal(single(ca, 'alluxio_path_config_rules'), 1);
    assert.equal(single(ca, 'alluxio_write_cache_enabled'), 1);
    assert.equal(single(ca, 'alluxio_persistence_unpersisted_objects'), 1);
    assert.equal(single(ca, 'alluxio_persistence_pending_bytes'), wbSize);
    assert.equal(single(ca, 'alluxio_persistence_failing_objects'), 0);
    assert.ok(single(ca, 'alluxio_persistence_oldest_unpersisted_age_seconds') > 0);
    const shares = c.workers.map((w) => single(ca, 'alluxio_coordinator_ring_share', { worker: w.id }));
    assert.ok(Math.abs(shares.reduce((x, y) => x + y, 0) - 1) < 1e-9, `ring shares sum to 1: ${shares}`);
    const grpcDelta = (match: Record<string, string>) => sum(ca, 'alluxio_coordinator_grpc_requests_total', match) - sum(coordBefore, 'alluxio_coordinator_grpc_requests_total', match);
    assert.equal(grpcDelta({ service: 'Coordinator', method: 'ListWorkers', code: 'OK' }), 1, 'one ListWorkers call');
    assert.ok(grpcDelta({ service: 'Coordinator', method: 'Heartbeat', code: 'OK' }) > 0, 'heartbeats are counted');
    assert.ok(sum(ca, 'alluxio_coordinator_grpc_requests_total', { service: 'Coordinator', method: 'RegisterWorker', code: 'OK' }) >= 3);
    assert.ok(sum(ca, 'alluxio_coordinator_grpc_requests_total', { service: 'Metastore', method: 'Commit', code: 'OK' }) >= 1, 'the WRITE_BACK commit went through the metastore service');
  });
});
