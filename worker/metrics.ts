/**
 * The worker's Prometheus metrics, on one Registry per worker (never prom-client's global
 * default, so several workers in one test process stay apart). Two kinds:
 *
 * - counted where they happen: S3 requests (op, status), their latency and body bytes, routing
 *   (proxied, redirected, received from a peer), UFS calls and their latency;
 * - read at scrape time from the part that owns the number: cache hits and misses, evictions,
 *   page store and pinned usage, persistence, replication, the ring. Those parts keep plain
 *   counters (also served on /_alluxio/stats), so the hot path pays nothing extra for them and
 *   the two views can never disagree.
 *
 * Labels stay few and bounded: `op` is an S3 operation name or a UFS method, `status` an HTTP
 * status code.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { UfsCounters, UfsObserver } from '../common/ufs/counting.js';
import type { EvictionCounters, PageStoreUsage } from './cache/page-store.js';
import type { CacheCounters } from './objects/cached-reader.js';
import type { ReplicationCounters } from './writecache/replication.js';
import type { PersistStats } from './writecache/write-cache.js';

/** What the S3 edge reports about each request it answered. */
export interface S3RequestObserver {
  /** Once the response is over (finished or aborted). `status` is the HTTP code, or `aborted`. */
  done(op: string, status: string, seconds: number, receivedBytes: number, sentBytes: number): void;
  /** The request was sent on to its owner (proxied) or answered 307 to it (redirected). */
  routed(op: string, how: 'proxied' | 'redirected'): void;
  /** The request came from a peer that proxied it here. */
  fromPeer(op: string): void;
}

/** Where the scrape-time numbers come from; each is read only while /metrics is answered. */
export interface WorkerMetricSources {
  cache: () => CacheCounters;
  evictions: () => EvictionCounters;
  pageStore: () => PageStoreUsage;
  ufs: () => UfsCounters;
  pinned: () => { pinnedBytes: number; capacityBytes: number; pinnedFiles: number };
  replication: () => ReplicationCounters;
  cluster: () => { version: number; membersUp: number; pathConfigVersion: number; writeCacheEnabled: boolean };
  /** In-memory persistence numbers (every scrape). */
  persistCounters: () => { persisted: number; failures: number; inFlight: number };
  /** Queue numbers from the metastore (one range read); undefined while the write cache is off. */
  persistQueue: () => Promise<Pick<PersistStats, 'queued' | 'oldestUnpersistedAgeMs'> | undefined>;
}

// Request latencies of a cache: sub-millisecond hits up to minute-long uploads.
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** A counter that reports a total kept elsewhere (monotonic there), read at scrape time. */
function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name, help, registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

function mirroredGauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
}

export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'op' | 'status'>;
  private readonly duration: Histogram<'op'>;
  private readonly received: Counter;
  private readonly sent: Counter;
  private readonly proxied: Counter<'op'>;
  private readonly redirected: Counter<'op'>;
  private readonly peer: Counter<'op'>;
  private readonly ufsCalls: Counter<'op'>;
  private readonly ufsErrors: Counter<'op'>;
  private readonly ufsDuration: Histogram<'op'>;

  constructor(labels: { worker: string }) {
    const r = this.registry;
    r.setDefaultLabels(labels);
    collectDefaultMetrics({ register: r });
    this.requests = new Counter({ name: 'alluxio_s3_requests_total', help: 'S3 requests answered on this worker\'s S3 port (from clients and from peers), by operation and HTTP status.', labelNames: ['op', 'status'], registers: [r] });
    this.duration = new Histogram({ name: 'alluxio_s3_request_duration_seconds', help: 'Time from an S3 request\'s arrival until its response was finished, by operation.', labelNames: ['op'], buckets: LATENCY_BUCKETS, registers: [r] });
    this.received = new Counter({ name: 'alluxio_s3_received_bytes_total', help: 'Request body bytes received on the S3 port, as sent on the wire (aws-chunked framing included).', registers: [r] });
    this.sent = new Counter({ name: 'alluxio_s3_sent_bytes_total', help: 'Response body bytes sent on the S3 port.', registers: [r] });
    this.proxied = new Counter({ name: 'alluxio_s3_proxied_requests_total', help: 'Requests this worker sent on to the owner of their path and relayed the answer of.', labelNames: ['op'], registers: [r] });
    this.redirected = new Counter({ name: 'alluxio_s3_redirected_requests_total', help: 'Requests answered 307 to the owner of their path.', labelNames: ['op'], registers: [r] });
    this.peer = new Counter({ name: 'alluxio_s3_peer_requests_total', help: 'Requests received from a peer worker that proxied them here (also counted in alluxio_s3_requests_total).', labelNames: ['op'], registers: [r] });
    this.ufsCalls = new Counter({ name: 'alluxio_ufs_operations_total', help: 'Calls to the under storage, by operation.', labelNames: ['op'], registers: [r] });
    this.ufsErrors = new Counter({ name: 'alluxio_ufs_errors_total', help: 'Calls to the under storage that failed, by operation.', labelNames: ['op'], registers: [r] });
    this.ufsDuration = new Histogram({ name: 'alluxio_ufs_operation_duration_seconds', help: 'Latency of calls to the under storage, by operation (a read: until its stream opened).', labelNames: ['op'], buckets: LATENCY_BUCKETS, registers: [r] });
  }

  /** The S3 edge's hooks. */
  readonly s3: S3RequestObserver = {
    done: (op, status, seconds, receivedBytes, sentBytes) => {
      this.requests.inc({ op, status });
      this.duration.observe({ op }, seconds);
      if (receivedBytes > 0) this.received.inc(receivedBytes);
      if (sentBytes > 0) this.sent.inc(sentBytes);
    },
    routed: (op, how) => (how === 'proxied' ? this.proxied : this.redirected).inc({ op }),
    fromPeer: (op) => this.peer.inc({ op }),
  };

  /** For CountingUfs (every mount). */
  readonly ufs: UfsObserver = (op, seconds, failed) => {
    this.ufsCalls.inc({ op });
    if (failed) this.ufsErrors.inc({ op });
    this.ufsDuration.observe({ op }, seconds);
  };

  /** Registers the metrics read at scrape time; call once the parts exist. */
  readFrom(src: WorkerMetricSources): void {
    const r = this.registry;
    mirroredCounter(r, 'alluxio_cache_page_hits_total', 'Pages served from the page cache.', () => src.cache().pageHits);
    mirroredCounter(r, 'alluxio_cache_page_misses_total', 'Pages not in the page cache, read from the under storage.', () => src.cache().pageMisses);
    mirroredCounter(r, 'alluxio_cache_hit_bytes_total', 'Bytes served from cached pages.', () => src.cache().hitBytes);
    mirroredCounter(r, 'alluxio_cache_miss_bytes_total', 'Bytes served from pages read from the under storage on a miss.', () => src.cache().missBytes);
    mirroredCounter(r, 'alluxio_cache_evicted_pages_total', 'Pages evicted (least recently used first) to make room.', () => src.evictions().pages);
    mirroredCounter(r, 'alluxio_cache_evicted_bytes_total', 'Bytes of the pages evicted to make room.', () => src.evictions().bytes);
    mirroredGauge(r, 'alluxio_page_store_used_bytes', 'Bytes of cached pages on disk.', () => src.pageStore().usedBytes);
    mirroredGauge(r, 'alluxio_page_store_capacity_bytes', 'Capacity of the page store (alluxio.worker.page.store.sizes).', () => src.pageStore().capacityBytes);
    mirroredGauge(r, 'alluxio_page_store_pages', 'Cached pages.', () => src.pageStore().pages);
    mirroredGauge(r, 'alluxio_pinned_bytes', 'Unpersisted write-cache bytes pinned on this worker\'s disk (its own and replicas it holds), writes in progress included.', () => src.pinned().pinnedBytes);
    mirroredGauge(r, 'alluxio_pinned_capacity_bytes', 'Most bytes that may be pinned (alluxio.worker.page.store.pinned.file.capacity.limit.ratio of the capacity).', () => src.pinned().capacityBytes);
    mirroredGauge(r, 'alluxio_pinned_files', 'Unpersisted write-cache objects (copies) pinned on this worker\'s disk.', () => src.pinned().pinnedFiles);
    mirroredCounter(r, 'alluxio_ufs_read_bytes_total', 'Bytes read from the under storage.', () => src.ufs().readBytes);
    mirroredCounter(r, 'alluxio_ufs_written_bytes_total', 'Bytes written to the under storage.', () => src.ufs().writeBytes);
    mirroredCounter(r, 'alluxio_replication_sent_requests_total', 'Replica copies of unpersisted data this worker sent to peers.', () => src.replication().sentRequests);
    mirroredCounter(r, 'alluxio_replication_sent_bytes_total', 'Bytes of replica copies sent to peers.', () => src.replication().sentBytes);
    mirroredCounter(r, 'alluxio_replication_sent_failures_total', 'Replica copies that a peer did not store.', () => src.replication().sentFailures);
    mirroredCounter(r, 'alluxio_replication_received_requests_total', 'Replica copies received from peers and stored.', () => src.replication().receivedRequests);
    mirroredCounter(r, 'alluxio_replication_received_bytes_total', 'Bytes of replica copies received and stored.', () => src.replication().receivedBytes);
    mirroredCounter(r, 'alluxio_replication_received_failures_total', 'Replica copies received that could not be stored.', () => src.replication().receivedFailures);
    mirroredGauge(r, 'alluxio_cluster_version', 'Version of the cluster snapshot (ring) this worker serves with; the coordinator\'s alluxio_cluster_version once it has reached here.', () => src.cluster().version);
    mirroredGauge(r, 'alluxio_cluster_members_up', 'Live workers in the ring as this worker sees it.', () => src.cluster().membersUp);
    mirroredGauge(r, 'alluxio_path_config_version', 'Version of the path-level write policies this worker applies.', () => src.cluster().pathConfigVersion);
    mirroredGauge(r, 'alluxio_write_cache_enabled', '1 when the coordinator has the write cache on.', () => (src.cluster().writeCacheEnabled ? 1 : 0));
    mirroredCounter(r, 'alluxio_persist_persisted_total', 'Write-back objects this worker persisted to the under storage.', () => src.persistCounters().persisted);
    mirroredCounter(r, 'alluxio_persist_failures_total', 'Persistence attempts that failed (each is retried with backoff).', () => src.persistCounters().failures);
    mirroredGauge(r, 'alluxio_persist_in_flight', 'Objects being persisted right now.', () => src.persistCounters().inFlight);
    // Both queue gauges come from one metastore read per scrape.
    let queue: Promise<Pick<PersistStats, 'queued' | 'oldestUnpersistedAgeMs'> | undefined> | undefined;
    const readQueue = () => (queue ??= src.persistQueue().finally(() => setImmediate(() => { queue = undefined; })));
    new Gauge({
      name: 'alluxio_persist_queue_depth', help: 'Write-back objects this worker is to persist and has not yet (as the metastore records them).', registers: [r],
      async collect() { this.set((await readQueue())?.queued ?? 0); },
    });
    new Gauge({
      name: 'alluxio_persist_oldest_unpersisted_age_seconds', help: 'Age of the oldest object this worker is to persist and has not yet; 0 when none.', registers: [r],
      async collect() { this.set(((await readQueue())?.oldestUnpersistedAgeMs ?? 0) / 1000); },
    });
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
