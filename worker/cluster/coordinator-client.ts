/**
 * The worker's link to the coordinator: registration, heartbeats and the cluster watch stream,
 * each retried with backoff for as long as the worker runs. Owns its timers and stream; close()
 * leaves the ring cleanly (UnregisterWorker) so keys move at once rather than after the
 * lost-worker timeout.
 */
import { CoordinatorService, grpc, unary, type BucketTagging, type CacheUsage, type ClusterSnapshot, type HeartbeatResponse, type RegisterWorkerRequest, type RegisterWorkerResponse } from '../../proto/index.js';
import type { Logger } from '../../common/log.js';
import type { ClusterView } from './cluster-view.js';

export interface CoordinatorClientOptions {
  address: string;
  registration: () => RegisterWorkerRequest;
  cacheUsage: () => CacheUsage;
  view: ClusterView;
  log: Logger;
  /** Transport credentials (proto/tls.ts); plain text when absent. */
  credentials?: grpc.ChannelCredentials;
  /** Receives the cluster secret the coordinator hands out at registration. */
  onClusterSecret?: (secret: string) => void;
  /** The coordinator says this worker's decommission is complete: it should leave and stop. */
  onDecommissioned?: () => void;
}

export class CoordinatorClient {
  private readonly client: grpc.Client;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stream: grpc.ClientReadableStream<ClusterSnapshot> | undefined;
  private closed = false;
  /** Left the ring (leave()): no heartbeat, no re-registration; the watch stream stays. */
  private left = false;
  private registered = false;
  private heartbeatMs = 1000;
  private watchBackoffMs = 100;

  constructor(private readonly opts: CoordinatorClientOptions) {
    this.client = new CoordinatorService(opts.address, opts.credentials ?? grpc.credentials.createInsecure());
  }

  /** Registers (retrying until it succeeds or close()), then heartbeats and watches. */
  async start(): Promise<void> {
    await this.register();
    this.watch();
    this.scheduleHeartbeat();
  }

  private async register(): Promise<void> {
    let backoff = 100;
    while (!this.closed && !this.left) {
      try {
        const res = await unary<RegisterWorkerRequest, RegisterWorkerResponse>(this.client, 'RegisterWorker', this.opts.registration(), 5000);
        this.heartbeatMs = res.heartbeat_interval_ms || this.heartbeatMs;
        if (res.cluster_secret) this.opts.onClusterSecret?.(res.cluster_secret);
        if (!this.registered) this.opts.log.info({ coordinator: this.opts.address }, 'registered with the coordinator');
        this.registered = true;
        return;
      } catch (err) {
        this.opts.log.warn({ err: (err as Error).message, coordinator: this.opts.address, retry_ms: backoff }, 'cannot register with the coordinator; retrying');
        await new Promise((r) => setTimeout(r, backoff).unref());
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  private scheduleHeartbeat(): void {
    if (this.closed || this.left) return;
    this.heartbeatTimer = setTimeout(() => void this.heartbeat(), this.heartbeatMs);
  }

  private async heartbeat(): Promise<void> {
    try {
      const me = this.opts.registration();
      const res = await unary<object, HeartbeatResponse>(this.client, 'Heartbeat', { id: me.id, cache: this.opts.cacheUsage() }, Math.max(this.heartbeatMs, 1000));
      if (res.decommissioned && !this.closed) {
        this.opts.log.info('decommission complete: this worker leaves the cluster');
        this.opts.onDecommissioned?.();
        // No more heartbeats: close() unregisters.
        return;
      }
      if (res.reregister && !this.closed && !this.left) {
        this.opts.log.warn('the coordinator does not know this worker; registering again');
        await this.register();
      }
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'heartbeat failed');
    }
    this.scheduleHeartbeat();
  }

  private watch(): void {
    if (this.closed) return;
    const id = this.opts.registration().id;
    const stream = (this.client as unknown as { WatchCluster(req: object): grpc.ClientReadableStream<ClusterSnapshot> }).WatchCluster({ worker_id: id });
    this.stream = stream;
    let first = true;
    stream.on('data', (snap: ClusterSnapshot) => {
      this.watchBackoffMs = 100;
      if (this.opts.view.apply(snap, first)) {
        this.opts.log.info({ version: snap.version, members: snap.members.map((m) => m.id), mounts: snap.mounts.length }, 'cluster view updated');
      }
      first = false;
    });
    const retry = (why: string) => {
      if (this.stream !== stream || this.closed) return;
      this.stream = undefined;
      this.opts.log.warn({ why, retry_ms: this.watchBackoffMs }, 'cluster watch stream lost; reconnecting');
      this.reconnectTimer = setTimeout(() => this.watch(), this.watchBackoffMs);
      this.watchBackoffMs = Math.min(this.watchBackoffMs * 2, 5000);
    };
    stream.on('error', (err) => retry(err.message));
    stream.on('end', () => retry('stream ended'));
  }

  /** Bucket tag sets live in the coordinator, for every worker to see the same. */
  async getBucketTags(bucket: string): Promise<Record<string, string> | undefined> {
    const res = await unary<object, BucketTagging>(this.client, 'GetBucketTagging', { bucket });
    return res.present ? res.tags : undefined;
  }

  async putBucketTags(bucket: string, tags: Record<string, string>): Promise<void> {
    await unary(this.client, 'PutBucketTagging', { bucket, tags, present: true });
  }

  async deleteBucketTags(bucket: string): Promise<void> {
    await unary(this.client, 'DeleteBucketTagging', { bucket });
  }

  /**
   * Leaves the ring (UnregisterWorker) and stops heartbeating, but keeps watching: a stopping
   * worker still serves while it drains, and sees the snapshot that no longer has it. True when
   * the coordinator took the leave.
   */
  async leave(): Promise<boolean> {
    if (this.left || this.closed) return false;
    this.left = true;
    clearTimeout(this.heartbeatTimer);
    if (!this.registered) return false;
    try {
      await unary(this.client, 'UnregisterWorker', { id: this.opts.registration().id }, 2000);
      return true;
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'could not unregister from the coordinator');
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.leave();
    this.closed = true;
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.reconnectTimer);
    this.stream?.cancel();
    this.stream = undefined;
    this.client.close();
  }
}
